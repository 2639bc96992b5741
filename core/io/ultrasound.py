"""The ultrasound DICOM reader (kind ``"us"``) and its frames, :class:`UltrasoundSource`.

:class:`UltrasoundReader` implements :class:`core.io.base.Reader` for one ultrasound
DICOM file (Modality US or an ultrasound SOP class; single- or multi-frame) or a folder
holding only such files (one study per file). It is asked before the CT series reader
(``register_reader(..., before="dicom")``), which would otherwise claim any DICOM file
and leave an ultrasound one out as "not CT".

Frames are grey (:mod:`core.io.ultrasound_pixels`: RGB, YBR and palette to luma,
MONOCHROME1 inverted) and :meth:`UltrasoundSource.read` returns them as (H, W, 3) uint8
with the grey repeated, as every :class:`~core.io.base.FrameSource` returns RGB;
:meth:`UltrasoundSource.read_grey` gives the (H, W) grey itself.

Study metadata (``StudyInfo.meta``): ``us_regions`` (the Sequence of Ultrasound Regions,
PhysicalDeltaX/Y in mm: see :mod:`core.io.ultrasound_spacing`), ``pixel_spacing_mm``
[dy, dx] and ``spacing_source`` when the file gives a spacing (absent otherwise: a
Notice says so at import), ``dicom_pixel_spacing_mm`` when it has PixelSpacing, and the
header facts of :func:`core.io.ultrasound_pixels.header_facts`. No patient name is read;
``subject`` is a pseudonym of PatientID.

Importing this module registers the reader (and, through
:mod:`core.io.ultrasound_still`, the single still image reader).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Generator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pydicom

import core.io.dicom  # noqa: F401  (the CT reader must be registered: we go before it)
import core.io.ultrasound_still  # noqa: F401  (registers the single still image reader)
from core.events import Notice, Progress
from core.io.base import StudyInfo, quote
from core.io.dicom_pixels import DicomError
from core.io.dicom_scan import SKIP_SUFFIXES, is_dicom_file, pseudonym
from core.io.registry import register_reader
from core.io.ultrasound_pixels import (
    check_pixels,
    frame_grey,
    frames_per_second,
    header_facts,
    is_ultrasound,
    read_header,
)
from core.io.ultrasound_spacing import dicom_spacing, regions_from_dataset

__all__ = ["UltrasoundIndex", "UltrasoundReader", "UltrasoundSource", "us_files"]

_PROBE_FILES = 64  # files can_read opens in a folder before it decides


@dataclass(frozen=True)
class UltrasoundIndex:
    """The scan state of one ultrasound file (``StudyInfo.index``): its path, frames,
    size in pixels and byte size (a changed file is noticed when opened)."""

    path: str
    n_frames: int
    height: int
    width: int
    fps: float
    file_size: int

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> UltrasoundIndex:
        d = json.loads(text)
        return cls(str(d["path"]), int(d["n_frames"]), int(d["height"]), int(d["width"]),
                   float(d.get("fps", 0.0)), int(d.get("file_size", -1)))


def _candidates(folder: Path) -> tuple[list[Path], bool]:
    """The files of ``folder`` that may be DICOM (hidden and known non-DICOM suffixes
    skipped), sorted; and whether it has sub-folders (then it is a tree, not ours)."""
    files, has_dirs = [], False
    with os.scandir(folder) as it:
        for e in sorted(it, key=lambda e: e.name):
            if e.name.startswith("."):
                continue
            if e.is_dir():
                has_dirs = True
            elif e.is_file() and Path(e.name).suffix.lower() not in SKIP_SUFFIXES:
                files.append(Path(e.path))
    return files, has_dirs


def _is_us_file(path: Path) -> bool:
    if not is_dicom_file(path):
        return False
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True,
                             specific_tags=["Modality", "SOPClassUID"])
    except Exception:  # not readable DICOM: not ours
        return False
    return is_ultrasound(ds)


def us_files(path: str | os.PathLike[str]) -> list[Path]:
    """The ultrasound DICOM files of ``path``: itself, or those directly in the folder."""
    p = Path(path)
    if p.is_file():
        return [p] if _is_us_file(p) else []
    files, _ = _candidates(p)
    return [f for f in files if _is_us_file(f)]


def _sha256(path: Path) -> str:
    h = hashlib.sha256(b"layertune-us:")
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class UltrasoundReader:
    """Reader of ultrasound DICOM files (kind ``"us"``): one file, or a folder of them."""

    name = "ultrasound"
    kinds = ("us",)
    description = ("ultrasound DICOM (a US file, single- or multi-frame, or a folder of "
                   "them; RGB, YBR and palette made grey)")

    def can_read(self, path: str | os.PathLike[str]) -> bool:
        """True for an ultrasound DICOM file, or a folder (without sub-folders) whose
        first files are all ultrasound DICOM. Reads headers only; never raises."""
        p = Path(path)
        try:
            if p.is_file():
                return _is_us_file(p)
            if not p.is_dir():
                return False
            files, has_dirs = _candidates(p)
            if has_dirs or not files:
                return False
            return all(_is_us_file(f) for f in files[:_PROBE_FILES])
        except (OSError, ValueError):
            return False

    def scan(self, path: str | os.PathLike[str]
             ) -> Generator[Progress | Notice, None, list[StudyInfo]]:
        """One study per ultrasound file of ``path``.

        Yields
        ------
        Progress
            Stage ``"scan"``: files read.
        Notice
            ``"warning"``: a file of a folder left out (not ultrasound, compressed without
            a decoder, unreadable); a study without pixel spacing (IMT in pixels until
            calibrated); regions that disagree.

        Raises
        ------
        DicomError
            A single file that cannot be read (the message names it and, for a
            compression without decoder, the ``pip install`` that reads it); a folder
            where no file can.
        """
        root = Path(path)
        single = root.is_file()
        if not single and not root.is_dir():
            raise DicomError(f"{quote(root)} was not found: no file or folder exists at this "
                             f"path. Path: {root}")
        try:
            files = [root] if single else _candidates(root)[0]
        except OSError as exc:
            raise DicomError(f"The folder {quote(root)} cannot be listed ({exc.strerror}). "
                             f"Folder: {root}") from exc
        out: list[StudyInfo] = []
        left: list[str] = []
        for k, f in enumerate(files):
            yield Progress("scan", k, len(files), f"reading {f.name}")
            try:
                info = self._scan_file(f)
            except (DicomError, OSError) as exc:
                if single:
                    raise DicomError(str(exc)) from exc
                left.append(f"{f.name}: {exc}")
                continue
            if info is None:
                if single:
                    raise DicomError(f"{quote(f)} is not an ultrasound image (Modality US). "
                                     f"File: {f}")
                left.append(f"{f.name}: not an ultrasound image")
                continue
            out.append(info)
            if "pixel_spacing_mm" not in info.meta:
                regions = info.meta.get("us_regions") or []
                why = ("its ultrasound regions differ in spacing: each ROI takes the "
                       "region holding it" if any(r.get("spatial_format") == 1 and
                                                  r.get("dx_mm") for r in regions)
                       else "it has no ultrasound regions nor pixel spacing: IMT is in "
                       "pixels until a calibration is set (layertune calibrate)")
                yield Notice(f"{quote(f)}: {why}.", "warning")
        yield Progress("scan", len(files), len(files), f"read {len(files)} files")
        for line in left:
            yield Notice(f"Left out {line}", "warning")
        if not out:
            raise DicomError(f"No ultrasound DICOM file in {quote(root)} can be read"
                             + (": " + "; ".join(left) if left else "") + f". Path: {root}")
        return out

    def _scan_file(self, f: Path) -> StudyInfo | None:
        ds = read_header(f)
        if not is_ultrasound(ds):
            return None
        check_pixels(ds, f)
        n = max(1, int(ds.get("NumberOfFrames", 1) or 1))
        h, w = int(ds.Rows), int(ds.Columns)
        fps = frames_per_second(ds)
        meta: dict[str, Any] = {**header_facts(ds), "us_regions": regions_from_dataset(ds)}
        ps = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
        if ps is not None and len(ps) == 2 and all(float(v) > 0 for v in ps):
            meta["dicom_pixel_spacing_mm"] = [float(ps[0]), float(ps[1])]
        found = dicom_spacing(meta)
        if found is not None:
            meta["pixel_spacing_mm"], meta["spacing_source"] = list(found[0]), found[1]
        index = UltrasoundIndex(str(f), n, h, w, fps, f.stat().st_size)
        return StudyInfo(str(f), "us", f.stem or f.name, n, h, w, fps, _sha256(f),
                         subject=pseudonym(str(ds.get("PatientID", "") or "")), meta=meta,
                         index=index.to_json())

    def open(self, study: Any, *, index: str | None = None,
             cache_frames: int = 256) -> UltrasoundSource:
        """An :class:`UltrasoundSource` on ``study.path``, from ``index`` (or
        ``study.index``) when given, else by reading the header again.

        Raises
        ------
        DicomError
            The file is gone, no longer ultrasound, or has changed size since the scan.
        """
        p = Path(study.path)
        if not p.is_file():
            raise DicomError(f"The ultrasound file {quote(p)} was not found. File: {p}")
        text = index if index is not None else getattr(study, "index", None)
        if text:
            idx = UltrasoundIndex.from_json(text)
            if idx.path != str(p):  # the same content, found elsewhere
                idx = replace(idx, path=str(p))
            if idx.file_size >= 0 and p.stat().st_size != idx.file_size:
                raise DicomError(f"The ultrasound file {quote(p)} has changed since it was "
                                 f"imported ({idx.file_size} bytes then, {p.stat().st_size} "
                                 f"now); import it again. File: {p}")
        else:
            info = self._scan_file(p)
            if info is None:
                raise DicomError(f"{quote(p)} is not an ultrasound image. File: {p}")
            idx = UltrasoundIndex.from_json(info.index or "")
        return UltrasoundSource(idx, cache_frames)


class UltrasoundSource:
    """Random access to the grey frames of one ultrasound DICOM file.

    Implements :class:`core.io.base.FrameSource`; thread-safe. Frames are decoded one
    at a time and the newest ``cache_frames`` kept (LRU, grey, at most
    ``max_cache_bytes``).

    Parameters
    ----------
    index : UltrasoundIndex
    cache_frames : int
        Decoded frames kept, >= 0.
    max_cache_bytes : int
        Upper bound on the cache's memory.
    """

    def __init__(self, index: UltrasoundIndex, cache_frames: int = 256, *,
                 max_cache_bytes: int = 1 << 30) -> None:
        if cache_frames < 0 or max_cache_bytes < 0:
            raise ValueError(f"cache_frames and max_cache_bytes must be >= 0, got "
                             f"{cache_frames} and {max_cache_bytes}")
        self.index = index
        self.path = Path(index.path)
        self._ds = read_header(self.path)
        check_pixels(self._ds, self.path)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._max_frames = min(cache_frames,
                               max_cache_bytes // max(1, index.height * index.width))
        self._lock = threading.Lock()
        self._closed = False

    @property
    def n_frames(self) -> int:
        return self.index.n_frames

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return self.index.height, self.index.width

    @property
    def fps(self) -> float:
        """The cine rate (0.0 for a still or when the file gives none)."""
        return self.index.fps

    @property
    def dataset(self) -> pydicom.Dataset:
        """The file's header (no pixel data); do not modify it."""
        return self._ds

    def __len__(self) -> int:
        return self.n_frames

    def _check(self, index: int) -> int:
        if self._closed:
            raise ValueError(f"the ultrasound source {quote(self.path)} is closed")
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"a frame index must be an integer, got {type(index).__name__}")
        i = int(index)
        if not 0 <= i < self.n_frames:
            raise IndexError(f"frame {i} is outside {quote(self.path)} "
                             f"(0..{self.n_frames - 1})")
        return i

    def read_grey(self, index: int) -> np.ndarray:
        """Frame ``index`` as a new (H, W) uint8 grey array the caller owns.

        Raises
        ------
        IndexError
            ``index`` outside ``0 .. n_frames - 1``.
        DicomError
            The file is gone or the frame cannot be decoded.
        """
        i = self._check(index)
        with self._lock:
            grey = self._cache.get(i)
            if grey is not None:
                self._cache.move_to_end(i)
                return grey.copy()
            grey = frame_grey(self.path, self._ds, i)
            if grey.shape != self.shape:
                raise DicomError(f"Frame {i} of {quote(self.path)} is {grey.shape}, not "
                                 f"{self.shape} as scanned. File: {self.path}")
            if self._max_frames > 0:
                self._cache[i] = grey
                while len(self._cache) > self._max_frames:
                    self._cache.popitem(last=False)
            return grey.copy()

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` as a new (H, W, 3) uint8 array, the grey repeated."""
        return np.repeat(self.read_grey(index)[:, :, None], 3, axis=2)

    def read_many(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Frames ``indices`` as (N, H, W, 3) uint8, in that order."""
        arr = np.asarray(indices).ravel()
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"frame indices must be integers, got {arr.dtype}")
        out = np.empty((arr.size, *self.shape, 3), np.uint8)
        for j, k in enumerate(arr):
            out[j] = self.read(int(k))
        return out

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._cache.clear()

    def __enter__(self) -> UltrasoundSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


register_reader(UltrasoundReader(), before="dicom")
