"""The registry of readers: which reader takes a path, which opens a kind of study.

Import, the CLI and the GUI find a reader here: :func:`reader_for` asks each registered
reader in turn whether it can read a path (the first that can, wins) and refuses a path
none accepts with a message that names it and lists what is supported;
:func:`reader_for_kind` finds the reader that opens a stored study of a kind.

Order matters: an image set (a folder holding ``images/``) is asked before a frame
folder, and video last, since deciding that a file of unknown suffix is a video means
probing it with the decoder. A new format is one module with a class satisfying
:class:`core.io.base.Reader`, registered here with :func:`register_reader`.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from core.io.base import Reader, UnsupportedInputError, check_name, valid_text
from core.io.images import ImageSetReader
from core.io.video.index import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from core.io.video.reader import FrameFolderReader, VideoReader

__all__ = ["reader_for", "reader_for_kind", "readers", "register_reader", "supported_inputs"]


_READERS: list[Reader] = []
_LOCK = threading.Lock()


def register_reader(reader: Reader, *, before: str | None = None) -> Reader:
    """Add ``reader`` to the registry (replacing one of the same name) and return it.

    Parameters
    ----------
    reader : Reader
        An object with ``name``, ``kinds``, ``description``, ``can_read``, ``scan`` and
        ``open``.
    before : str, optional
        Ask it before the reader of this name (for a format that a more general reader
        would also claim); default: after all others.

    Raises
    ------
    TypeError
        ``reader`` lacks a part of the :class:`~core.io.base.Reader` protocol.
    ValueError
        ``before`` names no registered reader.
    """
    if not isinstance(reader, Reader) or not reader.kinds:
        raise TypeError(f"{reader!r} is not a reader: it needs name, kinds (non-empty), "
                        "description, can_read, scan and open")
    with _LOCK:
        _READERS[:] = [r for r in _READERS if r.name != reader.name]
        if before is None:
            _READERS.append(reader)
        else:
            names = [r.name for r in _READERS]
            if before not in names:
                raise ValueError(f"no reader named {before!r}; registered: "
                                 f"{', '.join(names) or 'none'}")
            _READERS.insert(names.index(before), reader)
    return reader


def readers() -> tuple[Reader, ...]:
    """The registered readers, in the order they are asked."""
    with _LOCK:
        return tuple(_READERS)


def supported_inputs() -> tuple[str, ...]:
    """The registered readers' descriptions, for messages and file dialogs."""
    return tuple(r.description for r in readers())


def reader_for(path: str | os.PathLike[str]) -> Reader:
    """The first registered reader that can read ``path``.

    Raises
    ------
    UnsupportedInputError
        Nothing exists at ``path``, or no reader takes it; the message names the file
        and lists the supported kinds of input.
    BadNameError
        (an ``UnsupportedInputError``) the name of the file, of a folder above it, or of
        an image or video inside the folder is not valid UTF-8: the decoder would crash.
    """
    p = Path(path)
    check_name(p)  # before anything probes it: OpenCV crashes on such names
    if not p.exists():
        raise UnsupportedInputError(p, supported_inputs(), missing=True)
    if p.is_dir():
        _check_inside(p)
    for reader in readers():
        if reader.can_read(p):
            return reader
    reason = ""
    if p.is_dir():
        try:
            empty = not any(os.scandir(p))
        except OSError as exc:
            empty, reason = False, f"it cannot be listed ({exc.strerror})"
        if empty:
            reason = "the folder is empty"
        elif not reason:
            reason = "nothing in it is a kind of input LayerTune reads"
    elif p.is_file() and p.stat().st_size == 0:
        reason = "the file is empty (0 bytes)"
    raise UnsupportedInputError(p, supported_inputs(), reason=reason)


def _check_inside(folder: Path) -> None:
    """Check the names of the images, videos and folders one and two levels inside
    ``folder`` (a frame folder's frames, an image set's ``images/`` and ``masks/``)."""
    wanted = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
    try:
        level = list(os.scandir(folder))
        below = [e2 for e in level if e.is_dir() and valid_text(e.name)
                 for e2 in os.scandir(e.path)]
    except OSError:
        return  # the readers say why a folder cannot be listed
    for e in level + below:
        if e.is_dir() or Path(e.name).suffix.lower() in wanted:
            check_name(e.path, e.name)


def reader_for_kind(kind: str) -> Reader:
    """The registered reader that opens studies of ``kind``.

    Raises
    ------
    ValueError
        No registered reader opens ``kind``; the message lists the kinds that are.
    """
    regs = readers()
    for reader in regs:
        if kind in reader.kinds:
            return reader
    known = ", ".join(k for r in regs for k in r.kinds)
    raise ValueError(f"no reader opens studies of kind {kind!r}; known kinds: {known}")


for _reader in (ImageSetReader(), FrameFolderReader(), VideoReader()):
    register_reader(_reader)
