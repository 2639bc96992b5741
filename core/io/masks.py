"""Mask folders: one binary mask image per frame, as segmentation datasets ship them.

Reading (:func:`read_mask`): PNG, JPEG, BMP or TIFF, grey or colour, 8 or 16 bits,
binarised at half range (grey >= 128 of 255, as :mod:`core.io.images` reads an image
set's masks; lossy JPEG's ringing around the outline falls on the right side). Two
further rules:

- a colour mask (e.g. red polyps on black) is read by its brightest channel, so a
  saturated colour counts as foreground; a colour file holding grey is read as grey;
- a label map holding only the values 0 and 1 (common for PNG masks) has 1 as
  foreground (not for JPEG, whose noise around black may reach 1).

A mask is **non-binary** (:func:`is_binary`) when mid grey levels (32..223) are more
than a ringing artefact: more than 0.1 % of the pixels lie over 8 pixels (one JPEG
block) from the half-range outline, or mid greys fill over half the image. JPEG at any
quality, anti-aliased outlines and slight blur pass; probability maps, strongly blurred
masks and photographs do not. The importer **refuses** non-binary masks by default (a
file that is not a mask must not become expert truth) and reports them; with
``accept_non_binary=True`` they are binarised, imported and still reported.

Importing (:func:`import_mask_folder`) matches files to frames as
:mod:`core.io.masks_store` says and writes each as the frame's expert ``mask``
annotation. Per file it reports a name that matches no frame, a second file for one
frame, a size other than the frame's, an unreadable file, a non-binary mask, and an
empty mask (kept: it says "no polyp on this frame", which is truth); the rest is
imported and nothing already in the project is lost.

Exporting (:func:`export_mask_folder`) writes ``<study name>/<name>.png`` (0 and 255)
for every frame with a mask: the still's or frame file's stem for image sets and frame
folders, ``<frame:06d>`` for videos. Importing such a folder back gives the same masks.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from core.events import Notice, Progress
from core.io.base import quote
from core.io.images import MASK_THRESHOLD, ImageSetError, ImageSetIndex, _decode, _names
from core.io.masks_store import (
    MaskImportReport,
    StudyFrames,
    Tally,
    summary_notices,
    write_mask,
)
from core.io.video import VideoError, frame_files
from core.store import Project, Study

if TYPE_CHECKING:  # pragma: no cover
    from core.store.history import AnnotationHistory

__all__ = ["MaskExportReport", "binarise", "export_mask_folder", "folder_name",
           "import_mask_folder", "is_binary", "mask_grey", "read_mask", "write_png"]

MID_GREY = (32, 223)
"""Grey levels (inclusive) that are neither background nor foreground."""
RINGING_REACH = 8
"""Pixels from the outline within which mid greys count as JPEG ringing (one block)."""
FAR_SHARE = 0.001
"""Share of all pixels that may be mid grey beyond :data:`RINGING_REACH`."""
MID_SHARE = 0.5
"""Share of all pixels that may be mid grey at all."""
_COLOUR_SPREAD = 48  # channel spread (grey levels) that makes a pixel coloured
_PROGRESS_EVERY = 16


def mask_grey(path: str | os.PathLike[str]) -> np.ndarray:
    """The grey levels (H, W) uint8 of a mask file, before binarising.

    Grey files as they are (16-bit: the top byte; a lossless file holding only 0 and 1,
    a label map, as 0 and 255); colour files holding grey as
    OpenCV's grey decode (what :class:`~core.io.images.ImageSetSource` reads); colour
    masks (a channel spread over 48 levels on over 0.1 % of the pixels) by their
    brightest channel. Alpha is ignored.

    Raises
    ------
    ImageSetError
        The file is missing or cannot be decoded as an image (the message names it).
    """
    p = Path(path)
    raw = _decode(p, cv2.IMREAD_UNCHANGED)
    if raw.dtype == np.uint16:
        raw = (raw * 255 if raw.size and int(raw.max()) == 1 else raw >> 8).astype(np.uint8)
    elif raw.dtype != np.uint8:
        raise ImageSetError(f"The mask {quote(p)} holds {raw.dtype} pixels, not 8- or 16-bit "
                            f"grey levels. File: {p}", p)
    if raw.ndim == 3 and raw.shape[2] == 1:
        raw = raw[:, :, 0]
    if raw.ndim == 2:
        if raw.size and int(raw.max()) == 1 and not _is_jpeg(p):  # a 0/1 label map
            return raw * np.uint8(255)
        return raw
    bgr = raw[:, :, :3]
    spread = bgr.max(axis=2) - bgr.min(axis=2)
    if np.count_nonzero(spread > _COLOUR_SPREAD) > FAR_SHARE * spread.size:
        return bgr.max(axis=2)
    return _decode(p, cv2.IMREAD_GRAYSCALE)


def _is_jpeg(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(3) == b"\xff\xd8\xff"
    except OSError:
        return False


def is_binary(grey: np.ndarray) -> bool:
    """True when the grey levels are those of a binary mask, JPEG ringing allowed.

    See the module's notes: mid greys (32..223) beyond 8 pixels of the half-range
    outline on at most 0.1 % of the pixels, and on at most half the image in all.
    """
    g = np.asarray(grey)
    mid = (g >= MID_GREY[0]) & (g <= MID_GREY[1])
    n_mid = int(np.count_nonzero(mid))
    if n_mid == 0:
        return True
    if n_mid > MID_SHARE * g.size:
        return False
    fg = (g >= MASK_THRESHOLD).astype(np.uint8)
    k3 = np.ones((3, 3), np.uint8)
    outline = (cv2.dilate(fg, k3) != cv2.erode(fg, k3)).astype(np.uint8)
    side = 2 * RINGING_REACH + 1
    near = cv2.dilate(outline, np.ones((side, side), np.uint8)).astype(bool)
    return np.count_nonzero(mid & ~near) <= FAR_SHARE * g.size


def binarise(grey: np.ndarray) -> np.ndarray:
    """(H, W) bool: grey >= 128 (half range)."""
    return np.asarray(grey) >= MASK_THRESHOLD


def read_mask(path: str | os.PathLike[str], *, strict: bool = False) -> np.ndarray:
    """A mask file as an (H, W) bool array (see :func:`mask_grey`, :func:`binarise`).

    Parameters
    ----------
    strict : bool
        Raise ``ValueError`` for a non-binary mask instead of binarising it.

    Raises
    ------
    ImageSetError
        The file cannot be read as an image.
    """
    grey = mask_grey(path)
    if strict and not is_binary(grey):
        raise ValueError(f"The mask {quote(path)} is not binary: it has many mid grey levels "
                         f"away from its outline. File: {path}")
    return binarise(grey)


def write_png(path: Path, mask: np.ndarray) -> None:
    """Write ``mask`` as an 8-bit PNG of 0 and 255, atomically (temporary file + rename)."""
    ok, png = cv2.imencode(".png", np.where(mask, 255, 0).astype(np.uint8))
    if not ok:  # pragma: no cover - OpenCV encodes any 2-D uint8 array
        raise ValueError(f"the mask for {path} could not be encoded")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(png.tobytes())
    os.replace(tmp, path)


def _study(project: Project, study: Study | int) -> Study:
    return project.study(study if isinstance(study, int) else study.id)


def _own_masks(project: Project, study: Study) -> Path:
    """The masks/ folder of an image set study."""
    text = project.study_index(study.id)
    idx = ImageSetIndex.from_json(text) if text and study.kind == "images" else None
    if idx is None or idx.masks_dir is None:
        raise ValueError(f"The study \u201c{study.name}\u201d has no masks folder of its own; "
                         "name the folder to import masks from.")
    return Path(study.path) / idx.masks_dir


def import_mask_folder(project: Project, study: Study | int,
                       folder: str | os.PathLike[str] | None = None, *,
                       user: str | None = None, history: AnnotationHistory | None = None,
                       accept_non_binary: bool = False
                       ) -> Generator[Progress | Notice, None, MaskImportReport]:
    """Import a folder of mask images onto an existing study, one file per frame.

    Parameters
    ----------
    project : Project
    study : Study or int
        The study (or its id) whose frames the masks belong to.
    folder : str or PathLike, optional
        The folder of mask files. Default, for an image set: its own ``masks/`` folder.
    user : str, optional
        Recorded as the masks' author (default: the OS user); ignored with ``history``,
        whose user is recorded.
    history : AnnotationHistory, optional
        Write through it: the whole import becomes one undo step.
    accept_non_binary : bool
        Binarise and import non-binary masks (still reported) instead of refusing them.

    Yields
    ------
    Progress
        Stage ``"masks"``: files done out of all.
    Notice
        A summary of the files that were not imported, and of empty masks.

    Returns
    -------
    MaskImportReport

    Raises
    ------
    ImageSetError
        The folder is missing, unreadable or holds no images (nothing is imported).
    StudyMissingError
        An image set or frame folder study is no longer where it was imported from
        (frame sizes are read from its files; nothing is imported).
    """
    st = _study(project, study)
    root = Path(folder) if folder is not None else _own_masks(project, st)
    try:
        names = frame_files(root)
        others = sorted(e.name for e in os.scandir(root) if e.is_file()
                        and not e.name.startswith(".") and e.name not in set(names))
    except OSError as exc:
        raise ImageSetError(f"The mask folder {quote(root)} cannot be listed "
                            f"({exc.strerror}). Folder: {root}", root) from exc
    if not names:
        raise ImageSetError(f"The mask folder {quote(root)} holds no mask images "
                            f"(png, jpg, bmp, tif). Folder: {root}", root)
    if others:
        yield Notice(f"{len(others)} files in {quote(root)} are not images and were left "
                     f"out: {_names(others)}.", "info")
    tally = Tally(root.name or str(root), n_entries=len(names))
    claimed: dict[int, str] = {}
    with StudyFrames(project, st) as frames:
        frames.open()
        with history.step() if history is not None else nullcontext():
            for k, name in enumerate(names):
                if k % _PROGRESS_EVERY == 0:
                    yield Progress("masks", k, len(names), f"importing masks onto {st.name}")
                _import_one(project, st, frames, root / name, name, claimed, tally,
                            user=user, history=history, accept_non_binary=accept_non_binary)
    yield Progress("masks", len(names), len(names), f"imported masks onto {st.name}")
    report = tally.report()
    yield from summary_notices(report, f"mask files in {quote(root)}")
    return report


def _import_one(project: Project, st: Study, frames: StudyFrames, path: Path, name: str,
                claimed: dict[int, str], tally: Tally, *, user: str | None,
                history: AnnotationHistory | None, accept_non_binary: bool) -> None:
    """Check one mask file against the study and import it, or note why not."""
    frame = frames.frame_of(name)
    if frame is None:
        how = ("no still of that stem" if st.kind == "images"
               else f"no frame of that name or number (frames 0..{st.n_frames - 1})")
        tally.problem(name, "name", f"{quote(name)} matches no frame of "
                      f"\u201c{st.name}\u201d: {how}.")
        return
    if frame in claimed:
        tally.problem(name, "duplicate", f"{quote(name)} is a second mask for frame {frame} "
                      f"(after {quote(claimed[frame])}); it was left out.")
        return
    try:
        grey = mask_grey(path)
    except ImageSetError as exc:
        tally.problem(name, "unreadable", str(exc))
        return
    try:
        size = frames.size(frame)
    except VideoError as exc:
        tally.problem(name, "frame", f"The frame of {quote(name)} cannot be read: {exc}")
        return
    if grey.shape != size:
        tally.problem(name, "size", f"{quote(name)} is {grey.shape[1]}x{grey.shape[0]} but "
                      f"its frame {frame} is {size[1]}x{size[0]}; it was left out.")
        return
    if not is_binary(grey):
        msg = (f"{quote(name)} is not a binary mask (many mid grey levels away from its "
               "outline: a probability map, a blurred mask or a photograph?)")
        tally.problem(name, "non_binary", msg + ("; binarised at half range and imported."
                                                 if accept_non_binary else "; left out."),
                      imported=accept_non_binary)
        if not accept_non_binary:
            return
    mask = binarise(grey)
    if not mask.any():
        tally.problem(name, "empty", f"{quote(name)} is empty: frame {frame} is kept as "
                      "having no polyp.", imported=True)
    write_mask(project, st.id, frame, mask, tally, user=user, history=history)
    claimed[frame] = name


# ---------------------------------------------------------------------------- export

@dataclass(frozen=True)
class MaskExportReport:
    """What :func:`export_mask_folder` wrote: per study name, the files (relative to
    the folder), and the number of masks in all."""

    folder: str
    files: dict[str, tuple[str, ...]]

    @property
    def n_masks(self) -> int:
        return sum(len(v) for v in self.files.values())

    def to_dict(self) -> dict[str, Any]:
        return {"folder": self.folder, "n_masks": self.n_masks,
                "studies": {k: list(v) for k, v in self.files.items()}}


_UNSAFE = re.compile(r'[\x00-\x1f<>:"/\\|?*]')


def folder_name(name: str) -> str:
    """A study name made safe as a folder name on any file system."""
    safe = _UNSAFE.sub("_", name).strip(" .")
    return safe or "study"


def export_mask_folder(project: Project, study_ids: Iterable[int],
                       folder: str | os.PathLike[str], *, source: str = "expert"
                       ) -> Generator[Progress, None, MaskExportReport]:
    """Write every stored mask of the studies as PNG (0/255), one folder per study.

    Files are ``<folder>/<study name>/<name>.png``: the still's or frame file's stem for
    image sets and frame folders, ``<frame:06d>`` (from 0) for videos. Frames without a
    mask are not written (unlabelled); an empty mask is written (all 0). Existing files
    of the same names are overwritten; nothing else in ``folder`` is touched. Only
    study names appear (de-identified: no paths, no subject keys).

    Yields
    ------
    Progress
        Stage ``"export"``: masks written out of all.
    """
    out = Path(folder)
    studies = [project.study(int(s)) for s in study_ids]
    used: set[str] = set()
    plan: list[tuple[Study, str, list]] = []
    for st in studies:
        sub = folder_name(st.name)
        if sub.casefold() in used:
            sub = f"{sub}-{st.id}"
        used.add(sub.casefold())
        plan.append((st, sub, project.annotations(st.id, kind="mask", source=source)))
    total = sum(len(a) for _, _, a in plan)
    files: dict[str, tuple[str, ...]] = {}
    done = 0
    yield Progress("export", 0, total, f"writing masks to {out.name}")
    for st, sub, anns in plan:
        frames = StudyFrames(project, st)
        (out / sub).mkdir(parents=True, exist_ok=True)
        names = []
        for a in anns:
            name = frames.export_name(int(a.frame))
            write_png(out / sub / name, a.geometry.array)
            names.append(f"{sub}/{name}")
            done += 1
            if done % _PROGRESS_EVERY == 0:
                yield Progress("export", done, total, f"writing masks of {st.name}")
        files[st.name] = tuple(names)
    yield Progress("export", total, total, f"wrote {total} masks to {out.name}")
    return MaskExportReport(str(out), files)
