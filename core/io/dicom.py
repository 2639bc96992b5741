"""The DICOM CT series reader (kind ``"ct_series"``) and its volume, :class:`CtVolume`.

:class:`DicomSeriesReader` implements :class:`core.io.base.Reader` for folder trees of
DICOM files and DICOMDIRs: :meth:`~DicomSeriesReader.scan` reads headers only
(:mod:`core.io.dicom_scan`) and returns one :class:`~core.io.base.StudyInfo` per CT series
that stacks into a volume, with a :class:`~core.events.Notice` naming every series left
out and why (non-CT, localiser, derived, a single slice, a compression without decoder...)
and every series kept with a problem (missing or duplicated slices, gantry tilt...).
:meth:`~DicomSeriesReader.open` gives a :class:`CtVolume` (a
:class:`core.io.base.VolumeSource`) that loads the Hounsfield volume once, lazily, with
a thread pool (:mod:`core.io.dicom_pixels`).

Patient data: no name is read; the study's ``subject`` is a pseudonym of PatientID
(:func:`core.io.dicom_scan.pseudonym`); ``meta`` holds geometry, UIDs and problems only.

Study metadata (``StudyInfo.meta``): the geometry keys of
:meth:`core.io.geometry3d.VolumeGeometry.to_meta` (``origin_mm``, ``spacing_mm``,
``orientation``, ``shape``, ``slice_normal``), ``origin`` (= ``origin_mm``), ``affine``
(4 x 4, (plane, row, col, 1) -> (x, y, z, 1) mm), ``series_uid``, ``study_uid``,
``modality``, ``series_number``, ``description``, ``n_files``, ``n_excluded``,
``problems`` ([{code, level, message}]), ``hu_range`` ([min, max] with
``check_contrast``, else None: see :meth:`CtVolume.hu_range`), ``contrast`` (with
``check_contrast``: :class:`~core.io.dicom_contrast.ContrastCheck` as a dict),
``enhanced_multiframe``, ``tilt_deg``, ``transfer_syntaxes``,
``contrast_agent`` (the header's ContrastBolusAgent, or None).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np

from core.events import Notice, Progress, drain
from core.io.base import StudyInfo, quote
from core.io.dicom_contrast import ContrastCheck, contrast_check
from core.io.dicom_pixels import DicomError, load_hu
from core.io.dicom_scan import SKIP_SUFFIXES, is_dicom_file, is_dicomdir, scan_series
from core.io.dicom_series import Problem, SeriesInfo
from core.io.geometry3d import VolumeGeometry
from core.io.registry import register_reader

__all__ = ["CtVolume", "DicomError", "DicomSeriesReader", "series_from_json", "series_to_json"]

_PROBE_FILES = 64  # files opened by can_read on a folder before it gives up
_PROBE_ENTRIES = 4000


def series_to_json(series: SeriesInfo) -> str:
    """The scan state of a series (``StudyInfo.index``): everything :class:`CtVolume`
    needs to load it without scanning again."""
    d = dataclasses.asdict(series)
    return json.dumps(d, separators=(",", ":"))


def series_from_json(text: str) -> SeriesInfo:
    """Inverse of :func:`series_to_json`."""
    d = json.loads(text)
    fields = {f.name for f in dataclasses.fields(SeriesInfo)}
    d = {k: v for k, v in d.items() if k in fields}
    d["problems"] = tuple(Problem(**p) for p in d.get("problems", ()))
    for key in ("files", "frames", "offsets", "slopes", "intercepts"):
        d[key] = tuple(d.get(key, ()))
    d["positions"] = tuple(tuple(p) for p in d.get("positions", ()))
    d["excluded"] = tuple(tuple(e) for e in d.get("excluded", ()))
    d["plan"] = tuple(tuple(a) for a in d.get("plan", ((), (), ())))
    for key in ("shape", "spacing_mm", "orientation"):
        if d.get(key) is not None:
            d[key] = tuple(d[key])
    if d.get("affine") is not None:
        d["affine"] = tuple(tuple(r) for r in d["affine"])
    return SeriesInfo(**d)


def _content_hash(series: SeriesInfo) -> str:
    """SHA-256 over the series UID and, in plane order, each source's file size, SOP
    position and frame: DICOM's own identity of the content (UIDs are globally unique),
    so a series is recognised when moved without reading its pixels again."""
    h = hashlib.sha256(f"dicom-series:{series.uid}".encode())
    for name, frame, pos in zip(series.files, series.frames, series.positions):
        try:
            size = os.path.getsize(Path(series.folder) / name)
        except OSError:
            size = -1
        h.update(f"|{size}:{frame}:{','.join(f'{v:.3f}' for v in pos)}".encode())
    return h.hexdigest()


def _meta(series: SeriesInfo) -> dict[str, Any]:
    geo = series.geometry.to_meta()
    return {**geo, "origin": geo["origin_mm"], "affine": [list(r) for r in series.affine or ()],
            "series_uid": series.uid, "study_uid": series.study_uid,
            "modality": series.modality, "series_number": series.number,
            "description": series.description, "n_files": series.n_files,
            "n_excluded": len(series.excluded), "hu_range": None,
            "problems": [dataclasses.asdict(p) for p in series.problems],
            "enhanced_multiframe": series.enhanced, "tilt_deg": series.tilt_deg,
            "transfer_syntaxes": list(series.pixel.get("transfer_syntaxes", [])),
            "contrast_agent": series.contrast_agent}


def _name(series: SeriesInfo) -> str:
    who = series.subject or "CT"
    num = f" S{series.number}" if series.number is not None else ""
    desc = f" {series.description}" if series.description else ""
    return f"{who}{num}{desc} ({series.uid[-6:]})"


class DicomSeriesReader:
    """Reader of DICOM CT series in folder trees and DICOMDIRs (kind ``"ct_series"``).

    Parameters
    ----------
    workers : int, optional
        Threads reading headers and pixels; default the CPUs, at most 8.
    check_contrast : bool, keyword-only
        Also load each kept series during :meth:`scan` (one at a time) to store its
        ``hu_range`` and ``contrast`` (:func:`core.io.dicom_contrast.contrast_check`) in
        ``meta`` and warn about a series that looks unenhanced. Default False: the scan
        reads headers only.
    """

    name = "dicom"
    kinds = ("ct_series",)
    description = "DICOM CT series (a folder tree of .dcm files, or a DICOMDIR)"

    def __init__(self, workers: int | None = None, *, check_contrast: bool = False) -> None:
        self.workers = workers
        self.check_contrast = check_contrast

    def can_read(self, path: str | os.PathLike[str]) -> bool:
        """True for a DICOM file, a DICOMDIR, or a folder with a DICOM file in its first
        :data:`_PROBE_FILES` candidate files (breadth-first). Never raises."""
        p = Path(path)
        try:
            if p.is_file():
                return is_dicomdir(p) or is_dicom_file(p)
            if not p.is_dir():
                return False
            queue, probed, seen = [p], 0, 0
            while queue and probed < _PROBE_FILES and seen < _PROBE_ENTRIES:
                folder = queue.pop(0)
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name)
                for e in entries:
                    seen += 1
                    if e.name.startswith("."):
                        continue
                    if e.is_dir(follow_symlinks=False):
                        queue.append(Path(e.path))
                    elif e.is_file() and Path(e.name).suffix.lower() not in SKIP_SUFFIXES:
                        probed += 1
                        if is_dicom_file(e.path):
                            return True
                        if probed >= _PROBE_FILES:
                            break
            return False
        except (OSError, ValueError):
            return False

    def scan(self, path: str | os.PathLike[str]
             ) -> Generator[Progress | Notice, None, list[StudyInfo]]:
        """One study per CT series of ``path`` that stacks into a volume.

        Yields
        ------
        Progress
            Stage ``"scan"``: headers read.
        Notice
            ``"info"``: how many series were found; ``"warning"``: each series left out
            (and why) and each series kept with problems (missing or duplicated slices,
            gantry tilt, non-uniform spacing, images left out), unreadable files.

        Raises
        ------
        DicomError
            No DICOM file, or no series that stacks into a CT volume (the message lists
            every series found and why each was left out).
        """
        root = Path(path)
        series = yield from scan_series(root, workers=self.workers)
        usable = [s for s in series if s.usable]
        if len(series) > 1:
            yield Notice(f"{len(series)} series found in {quote(root)}: {len(usable)} "
                         "stack into a CT volume.", "info")
        for s in series:
            if not s.usable:
                why = "; ".join(p.message for p in s.problems if p.level == "error")
                also = "; ".join(p.message for p in s.problems if p.level != "error")
                yield Notice(f"Left out {s.label}: {why}" + (f" (also: {also})" if also else "")
                             + ".", "warning")
            elif s.problems:
                yield Notice(f"Kept {s.label} as a {'x'.join(map(str, s.shape or ()))} "
                             f"volume, but: " + "; ".join(p.message for p in s.problems) + ".",
                             "warning")
        if not usable:
            listing = " ".join(f"{s.label}: " + "; ".join(
                p.message for p in s.problems if p.level == "error") + "." for s in series)
            raise DicomError(f"No CT series in {quote(root)} stacks into a volume. {listing} "
                             f"Path: {root}")
        out = []
        for s in usable:
            z, y, x = s.shape or (0, 0, 0)
            meta = _meta(s)
            if self.check_contrast:
                meta.update((yield from self._contrast_meta(s)))
                if meta["contrast"]["enhanced"] is False:
                    yield Notice(f"{s.label} looks like a CT without contrast: "
                                 f"{meta['contrast']['reason']}.", "warning")
            out.append(StudyInfo(s.folder, "ct_series", _name(s), z, y, x, 0.0,
                                 _content_hash(s), subject=s.subject, meta=meta,
                                 index=series_to_json(s)))
        return out

    def _contrast_meta(self, series: SeriesInfo) -> Generator[Progress, None, dict[str, Any]]:
        """``hu_range`` and ``contrast`` of a series, loaded for the purpose and dropped."""
        vol = CtVolume(series, workers=self.workers)
        try:
            hu = yield from vol.load()
            check = contrast_check(hu, vol.spacing_mm, orientation=vol.orientation)
            return {"hu_range": [float(hu.min()), float(hu.max())],
                    "contrast": dataclasses.asdict(check)}
        finally:
            vol.close()

    def open(self, study: Any, *, index: str | None = None,
             cache_frames: int = 256) -> CtVolume:
        """A :class:`CtVolume` of ``study`` (``cache_frames`` is ignored: the volume is
        loaded once), from ``index`` (or ``study.index``), else by scanning ``study.path``
        again and taking the series ``study.meta["series_uid"]`` (or the only one)."""
        root = Path(study.path)
        text = index if index is not None else getattr(study, "index", None)
        if text:
            series = series_from_json(text)
            if series.folder != str(root):  # the same content, found elsewhere
                series = dataclasses.replace(series, folder=str(root))
            return CtVolume(series, workers=self.workers)
        if not root.exists():
            raise DicomError(f"The DICOM series folder {quote(root)} was not found. "
                             f"Path: {root}")
        infos = drain(self.scan(root))
        uid = (getattr(study, "meta", None) or {}).get("series_uid")
        match = [i for i in infos if uid is None or i.meta.get("series_uid") == uid]
        if not match or (uid is None and len(match) > 1):
            raise DicomError(f"{quote(root)} holds {len(infos)} CT series and none is "
                             f"{'the one asked for' if uid else 'chosen'}; pass a scanned "
                             f"study. Path: {root}")
        return CtVolume(series_from_json(match[0].index or ""), workers=self.workers)


class CtVolume:
    """A CT series as a Hounsfield volume (:class:`core.io.base.VolumeSource`).

    The volume is loaded on the first :meth:`hu` (or by driving :meth:`load` for
    progress) and cached; it is returned read-only (copy it to modify). Thread-safe.

    Parameters
    ----------
    series : SeriesInfo
        A usable series from :func:`core.io.dicom_scan.scan_series`.
    workers : int, optional
        Threads reading the slices.
    """

    def __init__(self, series: SeriesInfo, *, workers: int | None = None) -> None:
        if not series.usable or series.shape is None or series.spacing_mm is None:
            why = "; ".join(p.message for p in series.problems if p.level == "error")
            raise DicomError(f"{series.label} is not a volume: {why}")
        self.series = series
        self.geometry: VolumeGeometry = series.geometry
        self._workers = workers
        self._hu: np.ndarray | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def shape(self) -> tuple[int, int, int]:
        """(planes, rows, cols)."""
        return self.geometry.shape

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        """(dz, dy, dx) in mm; dz from the slice positions along the normal."""
        return self.geometry.spacing_mm

    @property
    def orientation(self) -> tuple[float, ...]:
        """ImageOrientationPatient: row then column direction cosines (6 floats)."""
        return self.geometry.orientation

    @property
    def origin_mm(self) -> tuple[float, float, float]:
        """World (x, y, z) in mm of voxel (0, 0, 0)."""
        return self.geometry.origin_mm

    @property
    def series_uid(self) -> str:
        return self.series.uid

    @property
    def problems(self) -> tuple[Problem, ...]:
        return self.series.problems

    def voxel_to_world(self, ijk: Any) -> np.ndarray:
        """(N, 3) voxel indices (plane, row, col) -> (N, 3) world (x, y, z) in mm."""
        return self.geometry.voxel_to_world(ijk)

    def world_to_voxel(self, xyz: Any) -> np.ndarray:
        """(N, 3) world (x, y, z) mm -> (N, 3) fractional voxel indices (plane, row, col)."""
        return self.geometry.world_to_voxel(xyz)

    def load(self) -> Generator[Progress, None, np.ndarray]:
        """Load (once) and return the volume, yielding ``"load"`` progress."""
        with self._lock:
            self._check_open()
            if self._hu is None:
                hu = yield from load_hu(self.series, workers=self._workers)
                hu.flags.writeable = False
                self._hu = hu
            return self._hu

    def hu(self) -> np.ndarray:
        """The (planes, rows, cols) float32 volume in Hounsfield units (read-only)."""
        if self._hu is not None and not self._closed:
            return self._hu
        return drain(self.load())

    def hu_range(self) -> tuple[float, float]:
        """(min, max) HU of the loaded volume (loads it if needed)."""
        hu = self.hu()
        return float(hu.min()), float(hu.max())

    def contrast(self, **kwargs: Any) -> ContrastCheck:
        """:func:`core.io.dicom_contrast.contrast_check` on this volume (loads it)."""
        return contrast_check(self.hu(), self.spacing_mm, orientation=self.orientation,
                              **kwargs)

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"the CT volume of {self.series.label} is closed")

    def close(self) -> None:
        """Drop the cached volume; later reads raise ``ValueError``."""
        self._closed = True
        self._hu = None

    def __enter__(self) -> CtVolume:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


register_reader(DicomSeriesReader(), before="images")
