"""Shared by the mask-folder and COCO importers: which frame a name means, how large a
frame is, how a frame's mask is written to the project, and the per-file report.

Frames are matched to names by study kind:

=========================  ==================================================================
study kind                 a name (file name, COCO ``file_name``) means the frame...
=========================  ==================================================================
``images`` (image sets)    whose still has the same stem (``a.png`` -> ``images/a.jpg``)
``frames`` / ``folder``    whose file has the same stem; else the number the stem ends with
video and other kinds      numbered by the digits the stem ends with, from 0: ``frame_000123``,
                           ``000123``, ``123`` and ``123_mask`` all mean frame 123
=========================  ==================================================================

A frame's mask is written as one ``mask`` annotation (source ``expert``); a frame that
already has one keeps it when the new one is identical, else it is replaced as an
annotation update (the earlier state stays in ``annotation_events``; with an
:class:`~core.store.history.AnnotationHistory` the whole import is one undo step).
Nothing else in the project is touched.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from core.events import Notice
from core.io.images import ImageSetIndex, _names
from core.io.problems import ImportProblem
from core.io.video import VideoInfo
from core.store import Mask, Project, Study

if TYPE_CHECKING:  # pragma: no cover
    from core.io.base import FrameSource
    from core.store.history import AnnotationHistory

__all__ = ["MaskImportReport", "MaskProblem", "StudyFrames", "frame_number"]

FILE_KINDS = ("images", "frames", "folder")
"""Study kinds whose frames are files with names (matched by stem)."""
PROBLEM_CODES = {
    "name": "no frame of that name",
    "duplicate": "a second mask for one frame",
    "size": "mask and frame differ in size",
    "empty": "empty mask (no polyp on the frame)",
    "non_binary": "not a binary mask",
    "unreadable": "not a readable image",
    "frame": "the frame cannot be read",
    "malformed": "a malformed entry",
    "unknown_image": "an annotation of an image id the file does not list",
    "ambiguous": "a name that fits frames of several studies",
    "no_segmentation": "an annotation without a segmentation",
}
"""Every problem code a report may hold, with what it means."""

_NUMBER = re.compile(r"(\d+)(?:[ _.-]?(?:mask|gt|label))?$", re.IGNORECASE)


def frame_number(name: str) -> int | None:
    """The frame a numbered name means (digits the stem ends with), or None.

    ``frame_000123.png``, ``000123.png``, ``123.png``, ``clip_123_mask.png`` -> 123.
    """
    stem = os.path.splitext(PurePosixPath(name.replace("\\", "/")).name)[0]
    m = _NUMBER.search(stem)
    return int(m.group(1)) if m else None


MaskProblem = ImportProblem  # the shared record (core.io.problems)


@dataclass(frozen=True)
class MaskImportReport:
    """What a mask import did.

    Attributes
    ----------
    source : str
        The folder's or file's name (not its path).
    n_entries : int
        Mask files seen (folder import) or COCO images seen.
    added, replaced, unchanged : int
        Frames given a first mask; frames whose mask was replaced (undoable); frames
        whose stored mask was already identical (nothing written).
    empty : int
        Of the frames imported, those whose mask is empty (no polyp: kept as truth).
    problems : tuple of MaskProblem
        Per file or entry, in the order met.
    study_ids : tuple of int
        The studies that received masks.
    """

    source: str
    n_entries: int
    added: int
    replaced: int
    unchanged: int
    empty: int
    problems: tuple[MaskProblem, ...]
    study_ids: tuple[int, ...] = ()

    @property
    def imported(self) -> int:
        """Frames whose mask is now the imported one (added + replaced + unchanged)."""
        return self.added + self.replaced + self.unchanged

    @property
    def refused(self) -> tuple[MaskProblem, ...]:
        """The problems that kept a file or entry out."""
        return tuple(p for p in self.problems if not p.imported)

    def counts(self) -> dict[str, int]:
        """Problems per code."""
        out: dict[str, int] = {}
        for p in self.problems:
            out[p.code] = out.get(p.code, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "n_entries": self.n_entries, "imported": self.imported,
                "added": self.added, "replaced": self.replaced, "unchanged": self.unchanged,
                "empty": self.empty, "refused": len(self.refused),
                "problem_counts": self.counts(), "study_ids": list(self.study_ids),
                "problems": [p.to_dict() for p in self.problems]}


@dataclass
class Tally:
    """The mutable counts an import keeps while it runs (see :class:`MaskImportReport`)."""

    source: str
    n_entries: int = 0
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    empty: int = 0
    problems: list[MaskProblem] = field(default_factory=list)
    study_ids: set[int] = field(default_factory=set)

    def problem(self, entry: str, code: str, message: str, imported: bool = False) -> None:
        assert code in PROBLEM_CODES, code
        self.problems.append(MaskProblem(entry, code, message, imported))

    def report(self) -> MaskImportReport:
        return MaskImportReport(self.source, self.n_entries, self.added, self.replaced,
                                self.unchanged, self.empty, tuple(self.problems),
                                tuple(sorted(self.study_ids)))


class StudyFrames:
    """Names and sizes of one study's frames, for matching masks to them.

    Parameters
    ----------
    project : Project
    study : Study

    Notes
    -----
    Frame sizes of image sets (whose stills differ in size) and frame folders are read
    from the frame files, opening the study on first need (:func:`open_study`; a study
    that moved raises :class:`~core.io.importer.StudyMissingError`); a video's frames
    all have the study's size.
    """

    def __init__(self, project: Project, study: Study) -> None:
        self.project = project
        self.study = study
        self.files: tuple[str, ...] = ()
        if study.kind in FILE_KINDS:
            self.files = _frame_files(project, study)
        self._stem: dict[str, int] = {}
        self._fold: dict[str, int] = {}
        for i, f in enumerate(self.files):
            stem = os.path.splitext(f)[0]
            self._stem.setdefault(stem, i)
            self._fold.setdefault(stem.casefold(), i)
        self._source: FrameSource | None = None
        self._sizes: dict[int, tuple[int, int]] = {}

    @property
    def by_name(self) -> bool:
        """True when frames are matched by file stem (image sets and frame folders)."""
        return bool(self.files)

    def frame_of(self, name: str) -> int | None:
        """The frame ``name`` (a file name, any folder part ignored) means, or None."""
        base = PurePosixPath(name.replace("\\", "/")).name
        stem = os.path.splitext(base)[0]
        if self.files:
            hit = self._stem.get(stem, self._fold.get(stem.casefold()))
            if hit is not None or self.study.kind == "images":
                return hit
        n = frame_number(base)
        return n if n is not None and 0 <= n < self.study.n_frames else None

    def has_stem(self, name: str) -> bool:
        """True when a frame file has ``name``'s stem (any case)."""
        stem = os.path.splitext(PurePosixPath(name.replace("\\", "/")).name)[0]
        return stem in self._stem or stem.casefold() in self._fold

    def export_name(self, frame: int) -> str:
        """The file name a frame's mask is exported under: its file's stem + ``.png``
        for file studies, ``<frame:06d>.png`` for videos."""
        if self.files:
            return os.path.splitext(self.files[frame])[0] + ".png"
        return f"{frame:06d}.png"

    def image_name(self, frame: int) -> str:
        """The frame's own file name (file studies) or ``<frame:06d>.png`` (videos)."""
        return self.files[frame] if self.files else f"{frame:06d}.png"

    def size(self, frame: int) -> tuple[int, int]:
        """(height, width) of ``frame`` in pixels.

        Raises
        ------
        StudyMissingError, VideoError
            A file study that cannot be opened, or a frame file that cannot be read.
        """
        if not self.files:
            return self.study.height, self.study.width
        if frame not in self._sizes:
            if self._source is None:
                from core.io.importer import open_study  # late: importer imports readers

                self._source = open_study(self.project, self.study, cache_frames=0)
            h, w = self._source.read(frame).shape[:2]
            self._sizes[frame] = (int(h), int(w))
        return self._sizes[frame]

    def open(self) -> None:
        """Open a file study now (so that a moved study fails before anything is written)."""
        if self.files and self._source is None:
            from core.io.importer import open_study

            self._source = open_study(self.project, self.study, cache_frames=0)

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None

    def __enter__(self) -> StudyFrames:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _frame_files(project: Project, study: Study) -> tuple[str, ...]:
    """The frame file names of an image set or frame folder, in frame order."""
    text = project.study_index(study.id)
    if text:
        if study.kind == "images":
            return ImageSetIndex.from_json(text).files
        return VideoInfo.from_json(text).files
    return tuple(study.meta.get("images", ()))


def write_mask(project: Project, study_id: int, frame: int, mask: np.ndarray, tally: Tally, *,
               user: str | None, history: AnnotationHistory | None) -> None:
    """Store ``mask`` as the expert mask of one frame, counting it in ``tally``.

    An identical stored mask is left alone; a different one is replaced (through
    ``history`` when given, so that undo brings it back).
    """
    found = project.annotations(study_id, kind="mask", frame=frame)
    geometry = Mask(mask)
    if not mask.any():
        tally.empty += 1
    tally.study_ids.add(int(study_id))
    if found and found[0].geometry == geometry:
        tally.unchanged += 1
        return
    if history is not None:
        history.add(study_id, "mask", geometry, frame=frame)
    else:
        project.add_annotation(study_id, "mask", geometry, frame=frame, source="expert",
                               user=user)
    if found:
        tally.replaced += 1
    else:
        tally.added += 1


def summary_notices(report: MaskImportReport, what: str) -> Iterable[Notice]:
    """Notices naming the entries left out (per problem) and the empty masks."""
    by_code: dict[str, list[str]] = {}
    for p in report.problems:
        by_code.setdefault(p.code, []).append(p.entry)
    for code, entries in by_code.items():
        if code == "empty":
            yield Notice(f"{len(entries)} {what} are empty (kept as frames with no polyp): "
                         f"{_names(entries)}.", "info")
        elif code == "non_binary" and all(p.imported for p in report.problems
                                          if p.code == code):
            yield Notice(f"{len(entries)} {what} are not binary and were binarised at half "
                         f"range: {_names(entries)}.", "warning")
        else:
            yield Notice(f"{len(entries)} {what} were left out ({PROBLEM_CODES[code]}): "
                         f"{_names(entries)}.", "warning")
