"""Ultrasound DICOM headers and pixels: which files are ultrasound, frames to grey uint8.

B-mode ultrasound is a grey image, but scanners store it every way DICOM allows:
MONOCHROME2 (and, rarely, MONOCHROME1, inverted), RGB (a screen capture, colour overlays
included), YBR_FULL / YBR_FULL_422 (JPEG), PALETTE COLOR (8 or 16-bit indices through a
palette, as gdcm's ALOKA sample). :func:`to_grey` makes every one of them an (H, W)
uint8 grey image:

* monochrome: stored values scaled linearly from their BitsStored range to 0..255
  (identity for 8-bit); MONOCHROME1 inverted so that bright is echo;
* colour (RGB, and YBR which pydicom converts to RGB while decoding): the ITU-R BT.601
  luma ``0.299 R + 0.587 G + 0.114 B`` (OpenCV's RGB2GRAY, rounded);
* palette: indices through the palette (pydicom's ``apply_color_lut``, 16-bit entries
  scaled to 8 bits), then luma.

Frames are decoded one at a time (``pydicom.pixels.pixel_array(path, index=i)``), so a
long cine loop is never held whole; compressed transfer syntaxes need a pydicom pixel
plugin, and a missing one is refused with the ``pip install`` that provides it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pydicom
from pydicom.pixels import apply_color_lut
from pydicom.pixels import pixel_array as _pixel_array

from core.io.base import quote
from core.io.dicom_pixels import DicomError, decoder_problem

__all__ = ["US_SOP_CLASSES", "check_pixels", "frame_grey", "frames_per_second",
           "header_facts", "is_ultrasound", "read_header", "to_grey"]

US_SOP_CLASSES = frozenset({
    "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image Storage
    "1.2.840.10008.5.1.4.1.1.3.1",  # Ultrasound Multi-frame Image Storage
    "1.2.840.10008.5.1.4.1.1.6",    # Ultrasound Image Storage (retired)
    "1.2.840.10008.5.1.4.1.1.3",    # Ultrasound Multi-frame Image Storage (retired)
})
"""The SOP classes of 2-D ultrasound images (Enhanced US Volume, 3-D, is not one)."""
_PHOTOMETRIC = ("MONOCHROME1", "MONOCHROME2", "RGB", "YBR_FULL", "YBR_FULL_422",
                "YBR_PARTIAL_422", "YBR_PARTIAL_420", "YBR_ICT", "YBR_RCT", "PALETTE COLOR")


def read_header(path: str | os.PathLike[str]) -> pydicom.Dataset:
    """The data set of ``path`` without its pixel data (palettes and regions included).

    Raises
    ------
    DicomError
        The file cannot be read as DICOM; the message names it.
    """
    p = Path(path)
    try:
        return pydicom.dcmread(p, stop_before_pixels=True, force=True)
    except Exception as exc:  # pydicom raises many kinds for damaged files
        raise DicomError(f"The DICOM file {quote(p)} cannot be read ({type(exc).__name__}: "
                         f"{exc}). File: {p}") from exc


def is_ultrasound(ds: pydicom.Dataset) -> bool:
    """True for a 2-D ultrasound image: Modality US (an ultrasound SOP class when the
    file names no modality)."""
    sop = str(ds.get("SOPClassUID", "") or getattr(ds.get("file_meta", None),
                                                    "MediaStorageSOPClassUID", "") or "")
    modality = str(ds.get("Modality", "") or "").strip().upper()
    if sop == "1.2.840.10008.5.1.4.1.1.6.2":  # Enhanced US Volume: 3-D
        return False
    return modality == "US" if modality else sop in US_SOP_CLASSES


def frames_per_second(ds: pydicom.Dataset) -> float:
    """The cine rate of a multi-frame file from FrameTime (ms), CineRate or
    RecommendedDisplayFrameRate; 0.0 for a still or when none is given."""
    if int(ds.get("NumberOfFrames", 1) or 1) <= 1:
        return 0.0
    for key, to_fps in (("FrameTime", lambda v: 1000.0 / v), ("CineRate", float),
                        ("RecommendedDisplayFrameRate", float)):
        try:
            v = float(ds.get(key) or 0)
        except (TypeError, ValueError):
            continue
        if v > 0:
            return float(to_fps(v))
    return 0.0


def check_pixels(ds: pydicom.Dataset, path: Path) -> None:
    """Raise :class:`DicomError` when the pixels of ``ds`` cannot be made grey here:
    no pixel data, a compression without decoder, an unknown photometric
    interpretation."""
    ts = str(getattr(ds.get("file_meta", None), "TransferSyntaxUID", "") or
             "1.2.840.10008.1.2")
    problem = decoder_problem(ts)
    if problem:
        raise DicomError(f"The ultrasound file {quote(path)} cannot be read: {problem}. "
                         f"File: {path}")
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    if rows <= 0 or cols <= 0:
        raise DicomError(f"The ultrasound file {quote(path)} has no image (Rows x Columns "
                         f"{rows} x {cols}). File: {path}")
    pi = str(ds.get("PhotometricInterpretation", "") or "").strip()
    if pi not in _PHOTOMETRIC:
        raise DicomError(f"The ultrasound file {quote(path)} stores its pixels as {pi!r}, "
                         f"which LayerTune does not read (it reads "
                         f"{', '.join(_PHOTOMETRIC)}). File: {path}")


def _scale_to_uint8(arr: np.ndarray, bits: int, signed: bool) -> np.ndarray:
    """Stored values of ``bits`` bits (signed or not) linearly onto 0..255."""
    if arr.dtype == np.uint8 and bits >= 8 and not signed:
        return arr  # 8-bit storage: values are already 0..255
    a = arr.astype(np.float64)
    if signed:
        a += 2.0 ** (bits - 1)
    top = 2.0 ** bits - 1.0
    return np.clip(np.rint(a * (255.0 / top)), 0, 255).astype(np.uint8)


def to_grey(arr: np.ndarray, ds: pydicom.Dataset) -> np.ndarray:
    """One decoded frame of ``ds`` as an (H, W) uint8 grey image (see the module doc).

    Parameters
    ----------
    arr : ndarray
        The frame as pydicom decodes it: (H, W) monochrome or palette indices, or
        (H, W, 3) RGB (YBR already converted by pydicom).
    ds : Dataset
        Its header (photometric interpretation, bits, palette).

    Returns
    -------
    ndarray
        (H, W) uint8, a new array.
    """
    pi = str(ds.get("PhotometricInterpretation", "") or "").strip()
    bits = int(ds.get("BitsStored", 8) or 8)
    signed = bool(int(ds.get("PixelRepresentation", 0) or 0))
    if pi == "PALETTE COLOR" and arr.ndim == 2:
        rgb = apply_color_lut(arr, ds)
        depth = 8 if rgb.dtype == np.uint8 else int(ds.RedPaletteColorLookupTableDescriptor[2])
        arr = _scale_to_uint8(rgb, depth if depth in (8, 16) else 16, False)
        return cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_RGB2GRAY)
    if arr.ndim == 3:
        if arr.shape[2] != 3:
            raise DicomError(f"an ultrasound frame of {arr.shape[2]} samples per pixel is not "
                             "supported (1 or 3)")
        rgb = _scale_to_uint8(arr, bits, False)
        return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    grey = _scale_to_uint8(arr, bits, signed)
    if pi == "MONOCHROME1":
        grey = 255 - grey
    return np.array(grey, dtype=np.uint8, copy=True)


def frame_grey(path: str | os.PathLike[str], ds: pydicom.Dataset, index: int) -> np.ndarray:
    """Decode frame ``index`` of the file ``path`` (header ``ds``) to (H, W) uint8 grey.

    Raises
    ------
    DicomError
        The file is gone, truncated or its pixels cannot be decoded; the message names it.
    """
    p = Path(path)
    try:
        arr = _pixel_array(p, index=int(index))
    except FileNotFoundError as exc:
        raise DicomError(f"The ultrasound file {quote(p)} is gone; was it moved or deleted? "
                         f"File: {p}") from exc
    except Exception as exc:  # pydicom and its plugins raise many kinds
        raise DicomError(f"Frame {index} of the ultrasound file {quote(p)} cannot be decoded "
                         f"({type(exc).__name__}: {exc}). File: {p}") from exc
    if arr.ndim == 4 or (arr.ndim == 3 and arr.shape[-1] not in (3,)):
        arr = arr[0]  # a multi-frame array where one frame was asked for
    return to_grey(arr, ds)


def header_facts(ds: pydicom.Dataset) -> dict[str, Any]:
    """Small JSON-able facts of an ultrasound header for ``StudyInfo.meta``."""
    fm = ds.get("file_meta", None)
    return {"modality": str(ds.get("Modality", "") or ""),
            "sop_class_uid": str(ds.get("SOPClassUID", "") or ""),
            "sop_instance_uid": str(ds.get("SOPInstanceUID", "") or ""),
            "series_uid": str(ds.get("SeriesInstanceUID", "") or ""),
            "study_uid": str(ds.get("StudyInstanceUID", "") or ""),
            "photometric": str(ds.get("PhotometricInterpretation", "") or ""),
            "bits_stored": int(ds.get("BitsStored", 8) or 8),
            "transfer_syntax": str(getattr(fm, "TransferSyntaxUID", "") or ""),
            "manufacturer": str(ds.get("Manufacturer", "") or "")}
