"""The one reader protocol: what every kind of input LayerTune opens looks like.

A :class:`Reader` says whether it can read a path (:meth:`Reader.can_read`), scans it
once, with progress, into :class:`StudyInfo` records (:meth:`Reader.scan`; one path may
hold several studies, e.g. the series of a DICOM folder), and opens a scanned study as a
:class:`FrameSource` (videos, frame folders, image sets) or, later, a
:class:`VolumeSource` (CT series). The registry is :mod:`core.io.registry`; this
module holds only shapes, so a new reader depends on nothing but it.

Arrays are (row, col) and (plane, row, col); frames are RGB uint8.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from core.events import Notice, Progress

__all__ = [
    "BadNameError", "FrameSource", "Reader", "StudyInfo", "UnsupportedInputError",
    "VolumeSource", "check_name", "printable", "quote", "valid_text",
]


def printable(path: str | os.PathLike[str]) -> str:
    """``path`` as text that prints whatever bytes its name holds: bytes that are not
    UTF-8 (kept by Python as lone surrogates) are shown as ``\\xff``."""
    try:
        raw = os.fsencode(path)
    except (TypeError, UnicodeEncodeError):
        return os.fspath(path).encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def quote(path: str | os.PathLike[str]) -> str:
    """A file's name in curly quotes, as messages name files (the full path follows)."""
    p = Path(path)
    return f"\u201c{printable(p.name or p)}\u201d"


def valid_text(name: str) -> bool:
    """True when ``name`` is valid text (no undecodable bytes kept as surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8, kept as lone surrogates
        return False
    return True


def check_name(path: str | os.PathLike[str], name: str | None = None) -> None:
    """Refuse a path whose name is not valid UTF-8 before it reaches the decoder (OpenCV
    crashes on such names) or the project database (which stores text).

    Parameters
    ----------
    path : str or PathLike
        Every part of it is checked (the file and the folders above it).
    name : str, optional
        Check only this name (an entry of a folder), reporting ``path``.

    Raises
    ------
    BadNameError
        Naming the file or folder and the bytes at fault.
    """
    parts = Path(path).parts if name is None else (name,)
    bad = [part for part in parts if not valid_text(part)]
    if bad:
        raise BadNameError(path, bad[0])


@dataclass(frozen=True)
class StudyInfo:
    """What a reader's scan learnt about one study, before it joins a project.

    Attributes
    ----------
    path : str
        The file or folder the study is read from.
    kind : str
        The study kind (``"video"``, ``"frames"``, ``"images"``; later ``"ct_series"``),
        one of the scanning reader's ``kinds``.
    name : str
        A short name for people (the file or folder name without suffix).
    n_frames : int
        Frames (or still images, or planes) of the study, >= 1.
    height, width : int
        Frame size in pixels; of the first frame when frames differ in size.
    fps : float
        Frames per second; 0.0 when none (stills, folders).
    content_hash : str
        SHA-256 (hex) of the study's content: recognises it when moved.
    subject : str or None
        The subject key (a patient pseudonym) when the input names one; None lets the
        project make one subject per study.
    meta : dict
        Small JSON-able metadata for the store (spacing_mm, orientation, mask names...).
    index : str or None
        The reader's scan state as JSON text (a video's frame index): stored with the
        study and handed back to :meth:`Reader.open`, so opening does not rescan.
    """

    path: str
    kind: str
    name: str
    n_frames: int
    height: int
    width: int
    fps: float
    content_hash: str
    subject: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, hash=False)
    index: str | None = field(default=None, repr=False, hash=False)


@runtime_checkable
class FrameSource(Protocol):
    """Random access to the 2-D RGB frames of one study (video, frame folder, image set).

    ``core.io.video.FrameSource`` and ``core.io.images.ImageSetSource`` implement it.
    """

    @property
    def n_frames(self) -> int:
        """Number of frames, >= 1."""
        ...

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) in pixels; of frame 0 when frames differ in size."""
        ...

    @property
    def fps(self) -> float:
        """Frames per second; 0.0 when unknown or meaningless (stills)."""
        ...

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` as a new (H, W, 3) uint8 RGB array the caller owns."""
        ...

    def read_many(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Frames ``indices`` as (N, H, W, 3) uint8 RGB, in that order (one size)."""
        ...

    def close(self) -> None:
        """Release files, decoders and caches; later reads raise ``ValueError``."""
        ...

    def __enter__(self) -> FrameSource: ...

    def __exit__(self, *exc: object) -> None: ...


@runtime_checkable
class VolumeSource(Protocol):
    """A 3-D scalar volume in Hounsfield units (CT series); no reader implements it yet.

    Axes are (plane, row, col); plane 0 is the first slice along the scan direction.
    """

    @property
    def shape(self) -> tuple[int, int, int]:
        """(planes, rows, cols)."""
        ...

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        """Voxel spacing (plane, row, col) in millimetres."""
        ...

    @property
    def orientation(self) -> tuple[float, ...]:
        """Patient-space direction cosines of the row then the column axis (6 floats,
        DICOM ImageOrientationPatient)."""
        ...

    def hu(self) -> np.ndarray:
        """The volume as a (planes, rows, cols) float32 array in Hounsfield units."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> VolumeSource: ...

    def __exit__(self, *exc: object) -> None: ...


@runtime_checkable
class Reader(Protocol):
    """One kind of input, behind the one interface the registry, import, CLI and GUI use.

    Attributes
    ----------
    name : str
        Unique name in the registry (``"video"``, ``"images"``...).
    kinds : tuple of str
        Study kinds this reader opens; the first is the kind its scans produce (the
        others are legacy names of the same kind, kept for old projects).
    description : str
        For messages listing what LayerTune reads, e.g. ``"videos (.mp4 .avi …)"``.
    """

    name: str
    kinds: tuple[str, ...]
    description: str

    def can_read(self, path: Path) -> bool:
        """True if this reader takes ``path``: cheap (suffixes, listings, magic
        numbers), never raises, never decodes a whole file."""
        ...

    def scan(self, path: Path) -> Generator[Progress | Notice, None, list[StudyInfo]]:
        """Read ``path`` once into the studies it holds (>= 1), yielding progress and
        notices (such as files left out). Raises with a message naming the file."""
        ...

    def open(self, study: Any, *, index: str | None = None,
             cache_frames: int = 256) -> FrameSource:
        """Open a scanned study (a :class:`StudyInfo`, or any record with ``path`` and
        ``kind`` such as a project ``Study``), from ``index`` (or ``study.index``) when
        given, else by scanning again."""
        ...


class UnsupportedInputError(ValueError):
    """No registered reader takes a path; the message names it and what is supported.

    Attributes
    ----------
    path : str
        The path refused.
    supported : tuple of str
        The registered readers' descriptions.
    missing : bool
        True when nothing exists at ``path`` (a different message).
    """

    def __init__(self, path: str | os.PathLike[str], supported: Sequence[str], *,
                 missing: bool = False, reason: str = "") -> None:
        p = Path(path)
        kinds = "; ".join(supported) or "nothing (no reader is registered)"
        if missing:
            message = (f"{quote(p)} was not found: no file or folder exists at this path. "
                       f"Path: {printable(p)}")
        else:
            what = "folder" if p.is_dir() else "file"
            why = reason or f"it is not a kind of {what} LayerTune reads"
            message = (f"LayerTune cannot import the {what} {quote(p)}: {why}. "
                       f"Supported: {kinds}. Path: {printable(p)}")
        super().__init__(message)
        self.path = str(p)
        self.supported = tuple(supported)
        self.missing = missing


class BadNameError(UnsupportedInputError):
    """A file or folder name is not valid UTF-8 text (bytes such as ``clip\\xff.avi``
    from another system's encoding): it is refused before it reaches the decoder.

    Attributes
    ----------
    path : str
        The path (printable: undecodable bytes as ``\\xff``).
    part : str
        The printable name at fault (the file, or a folder above it).
    """

    def __init__(self, path: str | os.PathLike[str], part: str) -> None:
        shown, name = printable(path), printable(part)
        what = "folder" if Path(path).name != part or Path(path).is_dir() else "file"
        ValueError.__init__(
            self, f"LayerTune cannot import {quote(path)}: the name of the {what} "
                  f"\u201c{name}\u201d is not valid UTF-8 text (it holds bytes of another "
                  "encoding, shown as \\x..), which the video decoder and the project "
                  f"cannot handle safely. Rename it (letters, digits, - and _ are always "
                  f"safe) and import it again. Path: {shown}")
        self.path, self.part = shown, name
        self.supported = ()
        self.missing = False
