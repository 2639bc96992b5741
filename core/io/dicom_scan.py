"""A fast header-only scan of a DICOM folder tree (or DICOMDIR), grouped into series.

:func:`scan_series` finds the DICOM files under a folder (every file with the ``DICM``
signature, or a raw data set starting with group 0002/0008; hidden files and known
non-DICOM suffixes skipped) or those a DICOMDIR references, reads their headers in a
thread pool without the pixel data (``dcmread(..., specific_tags=HEADER_TAGS,
defer_size=...)``: PixelData is deferred, so its byte offset is learnt without reading
it), groups them by SeriesInstanceUID and assembles each series
(:func:`core.io.dicom_series.assemble`): ordered slices, geometry, problems.

Enhanced multi-frame images (Enhanced CT, PS3.3 C.7.6.16) contribute one header per
frame, from their per-frame and shared functional groups (Plane Position, Plane
Orientation, Pixel Measures, Pixel Value Transformation).

No patient name is read. PatientID is read only to make :func:`pseudonym`; messages
name files relative to the scanned folder.
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from core.events import Notice, Progress
from core.io import dicom_pixels
from core.io.base import quote
from core.io.dicom_header import read_fast
from core.io.dicom_pixels import NATIVE_SYNTAXES, DicomError
from core.io.dicom_series import SeriesInfo, SliceHeader, assemble

__all__ = ["HEADER_TAGS", "SKIP_SUFFIXES", "dicom_files", "is_dicom_file", "is_dicomdir", "pseudonym",
           "read_headers", "scan_series"]

HEADER_TAGS = (
    "SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "Modality",
    "SeriesNumber", "SeriesDescription", "ImageType", "PatientID", "InstanceNumber",
    "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "Rows", "Columns",
    "SamplesPerPixel", "BitsAllocated", "BitsStored", "PixelRepresentation",
    "RescaleSlope", "RescaleIntercept", "ModalityLUTSequence", "PixelPaddingValue",
    "PixelPaddingRangeLimit", "NumberOfFrames", "GantryDetectorTilt", "ContrastBolusAgent",
    "SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence", "PixelData",
    "DirectoryRecordSequence")
"""The only elements the scan keeps (no names, no dates, nothing else about the patient)."""
SKIP_SUFFIXES = frozenset({
    ".txt", ".md", ".json", ".xml", ".csv", ".nrrd", ".nii", ".gz", ".zip", ".png", ".jpg",
    ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".mp4", ".avi", ".mov", ".mkv", ".pdf",
    ".html", ".htm", ".py", ".exe", ".dll", ".ini", ".sqlite", ".db", ".bat", ".sh"})
"""Suffixes of files never opened while looking for DICOM files."""
_MAX_DEPTH = 12
_PROGRESS_EVERY = 32
_SHOWN = 6


def pseudonym(patient_id: str | None) -> str | None:
    """A short stable pseudonym of a PatientID (``"P"`` + 10 hex digits of SHA-256 over
    a LayerTune prefix and the ID), or None when there is none. It groups a patient's
    studies into one subject without storing the ID (a short ID can still be guessed by
    trying candidates: the pseudonym is for keeping names out, not for anonymity)."""
    pid = (patient_id or "").strip()
    if not pid:
        return None
    return "P" + hashlib.sha256(f"layertune-subject:{pid}".encode()).hexdigest()[:10]


def is_dicom_file(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` starts like a DICOM file: ``DICM`` at byte 128 (Part 10), or a
    raw little-endian data set (no preamble) whose first element is (0002,00xx) or
    (0008,00xx) with a VR or a short length."""
    try:
        with open(path, "rb") as f:
            head = f.read(132)
    except OSError:
        return False
    if len(head) == 132 and head[128:132] == b"DICM":
        return True
    if len(head) < 8 or head[:2] not in (b"\x02\x00", b"\x08\x00") or head[3] != 0:
        return False  # a raw data set starts with (0002,00xx) or (0008,00xx)
    explicit = head[4:6].isalpha() and head[4:6].isupper()
    return explicit or int.from_bytes(head[4:8], "little") < 0x1000


def _walk(root: Path) -> Iterator[str]:
    """Files under ``root`` (sorted, depth-first), hidden entries and known non-DICOM
    suffixes skipped; symbolic links to folders are not followed."""
    stack = [(str(root), 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for e in entries:
            if e.name.startswith("."):
                continue
            if e.is_dir(follow_symlinks=False):
                if depth < _MAX_DEPTH:
                    subdirs.append((e.path, depth + 1))
            elif e.is_file() and os.path.splitext(e.name)[1].lower() not in SKIP_SUFFIXES:
                yield e.path
        stack.extend(reversed(subdirs))


def _dicomdir_files(path: Path) -> list[str]:
    """The files a DICOMDIR references (ReferencedFileID, relative to its folder)."""
    try:
        ds = pydicom.dcmread(path, force=True)
    except (OSError, InvalidDicomError) as exc:
        raise DicomError(f"The DICOMDIR {quote(path)} cannot be read ({exc}). File: {path}"
                         ) from exc
    out = []
    for rec in ds.get("DirectoryRecordSequence", []):
        ref = rec.get("ReferencedFileID")
        if ref:
            parts = [ref] if isinstance(ref, str) else list(ref)
            out.append(str(path.parent.joinpath(*parts)))
    return sorted(set(out))


def is_dicomdir(path: Path) -> bool:
    """True for a DICOMDIR file (by name, or by its Media Storage SOP Class)."""
    if not path.is_file():
        return False
    if path.name.upper() == "DICOMDIR":
        return True
    try:
        meta = pydicom.filereader.read_file_meta_info(path)
    except Exception:  # not DICOM at all
        return False
    return str(meta.get("MediaStorageSOPClassUID", "")) == "1.2.840.10008.1.3.10"


def dicom_files(path: str | os.PathLike[str]) -> list[str]:
    """The DICOM files of a folder tree, of a DICOMDIR, or ``[path]`` for one file."""
    p = Path(path)
    if p.is_dir():
        return [f for f in _walk(p) if is_dicom_file(f)]
    if is_dicomdir(p):
        return [f for f in _dicomdir_files(p) if os.path.isfile(f)]
    return [str(p)] if is_dicom_file(p) else []


def _floats(v, n: int) -> tuple[float, ...] | None:
    if isinstance(v, str):
        v = v.split("\\")
    try:
        out = tuple(float(x) for x in v)
    except (TypeError, ValueError):
        return None
    return out if len(out) == n else None


def _float(v, default: float) -> float:
    try:
        return default if v is None or v == "" else float(v)
    except (TypeError, ValueError):
        return default


def _int(v) -> int | None:
    try:
        return None if v is None or v == "" else int(v)
    except (TypeError, ValueError):
        return None


def _group(item: Dataset | None, seq: str, attr: str):
    """``item.<seq>[0].<attr>`` of a functional-groups item, or None."""
    if item is None or seq not in item or not item[seq].value:
        return None
    return item[seq].value[0].get(attr)


def _pixel_facts(ds: Dataset) -> tuple[str, int, int, bool]:
    """(transfer syntax, Pixel Data value offset or -1, its length, has pixels) of a data
    set read by pydicom with Pixel Data deferred."""
    meta = getattr(ds, "file_meta", None)
    ts = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    ts = ts or "1.2.840.10008.1.2"  # no file meta: implicit VR little endian
    if "PixelData" not in ds:
        return ts, -1, 0, False
    raw = ds.get_item("PixelData", keep_deferred=True)
    tell = getattr(raw, "value_tell", None)
    length = getattr(raw, "length", 0) or 0
    defined = tell is not None and length != 0xFFFFFFFF
    return ts, int(tell) if defined else -1, int(length) if defined else 0, True


def _headers(path: str, src: Any, pixel: tuple[str, int, int, bool]
             ) -> list[SliceHeader] | None:
    """One :class:`SliceHeader` per frame of a pydicom data set read with
    :data:`HEADER_TAGS`, or of :func:`core.io.dicom_header.read_fast`'s values (``src``
    needs only ``get`` and ``in``); ``pixel`` as :func:`_pixel_facts`. None for a
    DICOMDIR, [] for a data set that is no instance of a series."""
    if "DirectoryRecordSequence" in src:
        return None
    if not src.get("SeriesInstanceUID"):
        return []
    ts, tell, length, has_pixels = pixel
    rows, cols = _int(src.get("Rows")) or 0, _int(src.get("Columns")) or 0
    samples = _int(src.get("SamplesPerPixel")) or 1
    bits = _int(src.get("BitsAllocated")) or 0
    n_frames = max(1, _int(src.get("NumberOfFrames")) or 1)
    frame_bytes = rows * cols * samples * bits // 8
    offset = tell if (tell >= 0 and ts in NATIVE_SYNTAXES and bits in (8, 16, 32)
                      and length >= frame_bytes * n_frames) else -1
    pad = _int(src.get("PixelPaddingValue"))
    limit = _int(src.get("PixelPaddingRangeLimit"))
    shared = src.get("SharedFunctionalGroupsSequence")
    shared = shared[0] if shared else None
    per = src.get("PerFrameFunctionalGroupsSequence") or [None] * n_frames
    enhanced = "PerFrameFunctionalGroupsSequence" in src or shared is not None
    image_type = tuple(str(v).strip() for v in (src.get("ImageType") or ()))
    common = dict(
        path=path, series_uid=str(src.get("SeriesInstanceUID")),
        sop_uid=str(src.get("SOPInstanceUID", "")),
        modality=str(src.get("Modality", "")).upper(), sop_class=str(src.get("SOPClassUID", "")),
        series_number=_int(src.get("SeriesNumber")),
        description=str(src.get("SeriesDescription", "") or "").strip(),
        study_uid=str(src.get("StudyInstanceUID", "")), subject=pseudonym(src.get("PatientID")),
        rows=rows, cols=cols, samples=samples, bits_allocated=bits,
        bits_stored=_int(src.get("BitsStored")) or bits,
        pixel_representation=_int(src.get("PixelRepresentation")) or 0,
        modality_lut="ModalityLUTSequence" in src,
        padding=None if pad is None else (pad, pad if limit is None else limit),
        transfer_syntax=ts, instance_number=_int(src.get("InstanceNumber")),
        gantry_tilt=_float(src.get("GantryDetectorTilt"), 0.0),
        contrast_agent=(str(src.get("ContrastBolusAgent") or "").strip() or None),
        enhanced=enhanced, has_pixels=has_pixels)
    out = []
    for f in range(n_frames):
        item = per[f] if f < len(per) else None
        if enhanced:
            def fg(seq: str, attr: str, item=item):
                v = _group(item, seq, attr)
                return v if v is not None else _group(shared, seq, attr)

            pos, ori = fg("PlanePositionSequence", "ImagePositionPatient"), \
                fg("PlaneOrientationSequence", "ImageOrientationPatient")
            spacing = fg("PixelMeasuresSequence", "PixelSpacing")
            slope = fg("PixelValueTransformationSequence", "RescaleSlope")
            intercept = fg("PixelValueTransformationSequence", "RescaleIntercept")
            ftype = fg("CTImageFrameTypeSequence", "FrameType")
            itype = tuple(str(v).strip() for v in ftype) if ftype else image_type
        else:
            pos, ori = src.get("ImagePositionPatient"), src.get("ImageOrientationPatient")
            spacing, itype = src.get("PixelSpacing"), image_type
            slope, intercept = src.get("RescaleSlope"), src.get("RescaleIntercept")
            if n_frames > 1:
                pos = None  # a classic multi-frame image has no per-frame positions
        out.append(SliceHeader(
            **common, image_type=itype, frame=f,
            position=_floats(pos, 3) if pos is not None else None,
            orientation=_floats(ori, 6) if ori is not None else None,
            pixel_spacing=_floats(spacing, 2) if spacing is not None else None,
            slope=_float(slope, 1.0), intercept=_float(intercept, 0.0),
            offset=offset + f * frame_bytes if offset >= 0 else -1))
    return out


def read_headers(path: str, *, fast: bool = True) -> list[SliceHeader] | None:
    """The headers (one per frame) of one DICOM file, pixels not read; None for a
    DICOMDIR.

    Parameters
    ----------
    path : str
        The file.
    fast : bool
        Try :func:`core.io.dicom_header.read_fast` first (pydicom reads what it cannot).

    Raises
    ------
    DicomError
        The file cannot be read or parsed, or is no instance of a series.
    """
    try:
        values = read_fast(path) if fast else None
        if values is not None:
            out = _headers(path, values, (values["transfer_syntax"], values["pixel_offset"],
                                          values["pixel_length"], values["has_pixels"]))
        else:
            ds = pydicom.dcmread(path, specific_tags=list(HEADER_TAGS), defer_size=1024,
                                 force=True)
            out = _headers(path, ds, _pixel_facts(ds))
    except Exception as exc:  # pydicom raises many kinds on damaged files
        raise DicomError(f"{quote(path)} is not a readable DICOM file ({type(exc).__name__}: "
                         f"{exc}). File: {path}") from exc
    if out == []:
        raise DicomError(f"{quote(path)} is not a DICOM image of a series (no "
                         f"SeriesInstanceUID: damaged, or not an instance). File: {path}")
    return out


def _names(rel: list[str]) -> str:
    more = len(rel) - _SHOWN
    return ", ".join(rel[:_SHOWN]) + (f" and {more} more" if more > 0 else "")


def scan_series(path: str | os.PathLike[str], *, workers: int | None = None
                ) -> Generator[Progress | Notice, None, list[SeriesInfo]]:
    """Scan a folder tree, a DICOMDIR or one file into its series, headers only.

    Parameters
    ----------
    path : str or PathLike
        A folder (searched recursively), a DICOMDIR, or a DICOM file.
    workers : int, optional
        Threads reading headers; default :func:`core.io.dicom_pixels.default_workers`.

    Yields
    ------
    Progress
        Stage ``"scan"``: files whose headers were read.
    Notice
        ``"warning"``: files that are not readable DICOM (named relative to ``path``).

    Returns
    -------
    list of SeriesInfo
        Every series found, usable or not, ordered by series number then UID.

    Raises
    ------
    DicomError
        No DICOM file is found, or none is readable.
    """
    root = Path(path)
    yield Progress("scan", 0, 0, f"looking for DICOM files in {root.name or root}")
    files = dicom_files(root)
    if not files:
        raise DicomError(f"No DICOM file was found in {quote(root)}. Path: {root}")
    base = root if root.is_dir() else root.parent
    total = len(files)
    headers: list[SliceHeader] = []
    bad: list[str] = []
    yield Progress("scan", 0, total, f"reading {total} DICOM headers")
    with ThreadPoolExecutor(max(1, workers or dicom_pixels.default_workers()),
                            thread_name_prefix="dicom-scan") as pool:
        def safe(f: str) -> list[SliceHeader] | None:
            try:
                return read_headers(f) or []  # a DICOMDIR inside the tree: skipped
            except DicomError:
                return None

        for k, (f, got) in enumerate(zip(files, pool.map(safe, files, chunksize=8)), 1):
            if got is None:
                bad.append(os.path.relpath(f, base))
            else:
                headers.extend(got)
            if k % _PROGRESS_EVERY == 0:
                yield Progress("scan", k, total, "reading DICOM headers")
    yield Progress("scan", total, total, f"read {total} DICOM headers")
    if bad:
        yield Notice(f"{len(bad)} of {total} files in {quote(root)} are not readable DICOM "
                     f"images and were left out: {_names(bad)}.", "warning")
    if not headers:
        raise DicomError(f"None of the {total} DICOM files in {quote(root)} is an image of "
                         f"a series. Path: {root}")
    groups: dict[str, list[SliceHeader]] = defaultdict(list)
    for h in headers:
        groups[h.series_uid].append(h)
    series = [assemble(hs, decoder_problem=lambda ts: dicom_pixels.decoder_problem(ts))
              for hs in groups.values()]
    series.sort(key=lambda s: (s.number is None, s.number or 0, s.uid))
    return series
