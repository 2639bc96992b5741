"""DICOM pixels to Hounsfield units: decoders, a threaded loader, the modality LUT.

:func:`load_hu` fills one preallocated float32 (planes, rows, cols) array with a
:class:`~core.io.dicom_series.SeriesInfo`'s slices, in Hounsfield units:

* Natively stored little-endian pixels (the usual CT file) are read straight from their
  byte offset (found by the header scan) into a per-thread buffer: no dataset parsing,
  no intermediate copies; the rescale (``HU = stored * RescaleSlope + RescaleIntercept``,
  the linear modality LUT of PS3.3 C.11.1) is applied in place into the volume, in
  float32 when that is exact (slope 1, integer intercept), else in float64 and rounded
  once, so the result equals pydicom's ``apply_modality_lut`` cast to float32.
* Anything else (JPEG, JPEG 2000, JPEG-LS, RLE, deflate, big endian, a Modality LUT
  Sequence) is decoded by pydicom (through its pixel-data plugins, e.g. pylibjpeg) and
  mapped with ``pydicom.pixels.apply_modality_lut``.
* Stored values outside BitsStored are sign-corrected as pydicom does; stored values in
  the PixelPaddingValue range (e.g. -2000 outside the scan's circular field of view) are
  set to :data:`PADDING_HU` (air), never left as -3000 HU.

Slices are read by a thread pool (file reads and numpy release the GIL); missing or
non-uniform slices are interpolated per the series' plan (:mod:`core.io.dicom_series`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut, get_decoder
from pydicom.uid import (
    UID,
    JPEG2000TransferSyntaxes,
    JPEGLSTransferSyntaxes,
    JPEGTransferSyntaxes,
)

from core.events import Progress
from core.io.base import quote
from core.io.dicom_series import SeriesInfo

__all__ = ["DicomError", "NATIVE_SYNTAXES", "PADDING_HU", "decoder_available",
           "decoder_problem", "default_workers", "install_hint", "load_hu"]

PADDING_HU = -1024.0
"""Hounsfield value given to padding pixels: air, the lowest value a CT image holds."""
NATIVE_SYNTAXES = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"})
"""Implicit and explicit VR little endian: pixels read straight from their offset."""
_J2K = set(JPEG2000TransferSyntaxes) | {"1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202",
                                        "1.2.840.10008.1.2.4.203"}
_CHUNK = 16  # slices per task: progress granularity, little scheduling overhead


class DicomError(ValueError):
    """A DICOM input cannot be read; the message names the file or series and why."""


def default_workers() -> int:
    """Threads for reading headers and pixels: the CPUs, at most 8."""
    return max(1, min(8, os.cpu_count() or 1))


def install_hint(transfer_syntax: str) -> str:
    """The pip command that installs a decoder for ``transfer_syntax``."""
    if transfer_syntax in _J2K:
        pkgs = "pylibjpeg pylibjpeg-openjpeg"
    elif transfer_syntax in set(JPEGTransferSyntaxes) | set(JPEGLSTransferSyntaxes):
        pkgs = "pylibjpeg pylibjpeg-libjpeg"
    else:
        pkgs = "python-gdcm"
    return f"pip install {pkgs}  (or: pip install \"layertune[dicom]\")"


def decoder_available(transfer_syntax: str) -> bool:
    """True when pydicom can decode pixels of ``transfer_syntax`` here (a plugin such as
    pylibjpeg-openjpeg is installed, or no plugin is needed)."""
    try:
        return bool(get_decoder(UID(transfer_syntax)).is_available)
    except (NotImplementedError, ValueError):
        return False


def decoder_problem(transfer_syntax: str) -> str | None:
    """None when pixels of ``transfer_syntax`` can be decoded here, else a message
    naming the compression and what to install."""
    if transfer_syntax in NATIVE_SYNTAXES or decoder_available(transfer_syntax):
        return None
    uid = UID(transfer_syntax)
    name = uid.name if uid.is_transfer_syntax else f"the unknown transfer syntax {uid}"
    return (f"its pixels are compressed as {name} and no decoder for it is installed: "
            f"install one with `{install_hint(transfer_syntax)}` and scan again")


def _dtype(series: SeriesInfo) -> np.dtype:
    px = series.pixel
    bits = int(px["bits_allocated"])
    if bits not in (8, 16, 32):
        raise DicomError(f"{series.label}: BitsAllocated {bits} is not supported natively")
    return np.dtype(f"<{'i' if px['pixel_representation'] else 'u'}{bits // 8}")


class _Rescaler:
    """Stored values -> HU into a float32 plane, in place, per the series' pixel module."""

    def __init__(self, series: SeriesInfo) -> None:
        px = series.pixel
        self.shift = int(px["bits_allocated"]) - int(px["bits_stored"])
        pad = px.get("padding")
        self.pad = (min(pad), max(pad)) if pad else None

    def __call__(self, stored: np.ndarray, out: np.ndarray, slope: float,
                 intercept: float, *, correct_bits: bool = True) -> None:
        if correct_bits and self.shift > 0 and stored.dtype.kind in "iu":
            np.left_shift(stored, self.shift, out=stored)  # drop unused high bits and
            np.right_shift(stored, self.shift, out=stored)  # sign-extend, as pydicom
        mask = None
        if self.pad is not None:
            lo, hi = self.pad
            mask = stored == lo if lo == hi else (stored >= lo) & (stored <= hi)
        if slope == 1.0 and float(intercept).is_integer() and stored.dtype.itemsize <= 2:
            np.copyto(out, stored, casting="unsafe")  # exact in float32
            if intercept:
                out += np.float32(intercept)
        else:  # float64 as apply_modality_lut, rounded once into float32
            tmp = stored.astype(np.float64)
            tmp *= slope
            tmp += intercept
            np.copyto(out, tmp, casting="same_kind")
        if mask is not None:
            np.copyto(out, np.float32(PADDING_HU), where=mask)


def _read_native(path: Path, offset: int, buf: np.ndarray) -> None:
    """Read ``buf.nbytes`` bytes at ``offset`` of ``path`` into ``buf``."""
    try:
        with open(path, "rb", buffering=0) as f:
            f.seek(offset)
            n = f.readinto(memoryview(buf).cast("B"))
    except OSError as exc:
        raise DicomError(f"The DICOM file {quote(path)} cannot be read ({exc.strerror}); was "
                         f"it moved or deleted? File: {path}") from exc
    if n != buf.nbytes:
        raise DicomError(f"The DICOM file {quote(path)} ends inside its pixel data (got {n} "
                         f"of {buf.nbytes} bytes); it is truncated or has changed since it "
                         f"was scanned. File: {path}")


def _decode_file(path: Path, frames: list[int]) -> tuple[list[np.ndarray], pydicom.Dataset]:
    """Decode ``frames`` of one file through pydicom; the dataset for its modality LUT."""
    try:
        ds = pydicom.dcmread(path, force=True)
        arr = ds.pixel_array
    except Exception as exc:  # pydicom and its plugins raise many kinds
        raise DicomError(f"The pixels of the DICOM file {quote(path)} cannot be decoded "
                         f"({type(exc).__name__}: {exc}). File: {path}") from exc
    n = int(getattr(ds, "NumberOfFrames", 1) or 1)
    return [arr[f] if n > 1 else arr for f in frames], ds


def load_hu(series: SeriesInfo, *, workers: int | None = None
            ) -> Generator[Progress, None, np.ndarray]:
    """Load ``series`` as a (planes, rows, cols) float32 array in Hounsfield units.

    Parameters
    ----------
    series : SeriesInfo
        A usable series (:attr:`SeriesInfo.usable`) from the scan.
    workers : int, optional
        Reading threads; default :func:`default_workers`.

    Yields
    ------
    Progress
        Stage ``"load"``: source slices read.

    Raises
    ------
    DicomError
        The series is not usable, a file is gone, truncated or cannot be decoded.
    """
    if not series.usable or series.shape is None:
        why = "; ".join(p.message for p in series.problems if p.level == "error")
        raise DicomError(f"{series.label} cannot be loaded as a volume: {why}")
    n_src = len(series.files)
    rows, cols = series.shape[1:]
    k0, k1, w = (np.asarray(a) for a in series.plan)
    direct = len(k0) == n_src and np.array_equal(k0, np.arange(n_src)) and not w.any()
    out = np.empty(series.shape, np.float32)
    src = out if direct else np.empty((n_src, rows, cols), np.float32)
    folder = Path(series.folder)
    rescale = _Rescaler(series)
    modality_lut = bool(series.pixel.get("modality_lut"))
    native = [k for k in range(n_src) if series.offsets[k] >= 0 and not modality_lut]
    by_file: dict[str, list[int]] = {}
    for k in range(n_src):
        if series.offsets[k] < 0 or modality_lut:
            by_file.setdefault(series.files[k], []).append(k)
    dtype = _dtype(series) if native else None
    local = threading.local()

    def one_native(k: int) -> int:
        buf = getattr(local, "buf", None)
        if buf is None:
            buf = local.buf = np.empty((rows, cols), dtype)
        _read_native(folder / series.files[k], series.offsets[k], buf)
        rescale(buf, src[k], series.slopes[k], series.intercepts[k])
        return 1

    def one_file(name: str) -> int:
        ks = by_file[name]
        arrays, ds = _decode_file(folder / name, [series.frames[k] for k in ks])
        for k, arr in zip(ks, arrays):
            if arr.shape != (rows, cols):
                raise DicomError(f"The DICOM file {quote(folder / name)} holds "
                                 f"{arr.shape} pixels, not {(rows, cols)} as scanned. "
                                 f"File: {folder / name}")
            if modality_lut and not series.enhanced:
                np.copyto(src[k], apply_modality_lut(arr, ds), casting="same_kind")
                if rescale.pad is not None:
                    lo, hi = rescale.pad
                    np.copyto(src[k], np.float32(PADDING_HU), where=(arr >= lo) & (arr <= hi))
            else:  # pydicom already sign-corrected the decoded values
                rescale(np.array(arr), src[k], series.slopes[k], series.intercepts[k],
                        correct_bits=False)
        return len(ks)

    n_workers = max(1, workers or default_workers())
    chunk = max(1, min(_CHUNK, -(-len(native) // (4 * n_workers))))
    blocks = [native[i:i + chunk] for i in range(0, len(native), chunk)]
    done = 0
    yield Progress("load", 0, n_src, f"reading {n_src} slices")
    with ThreadPoolExecutor(n_workers, thread_name_prefix="dicom-load") as pool:
        futures = [pool.submit(lambda ks: sum(one_native(k) for k in ks), b) for b in blocks]
        futures += [pool.submit(one_file, name) for name in by_file]
        try:
            for fut in as_completed(futures):
                done += fut.result()
                yield Progress("load", done, n_src, "reading slices")
        finally:
            for fut in futures:
                fut.cancel()
    if not direct:
        w32 = w.astype(np.float32)
        for j in range(len(k0)):
            if w32[j] == 0.0:
                out[j] = src[k0[j]]
            else:
                np.multiply(src[k0[j]], 1.0 - w32[j], out=out[j])
                out[j] += w32[j] * src[k1[j]]
    yield Progress("load", n_src, n_src, f"read {n_src} slices")
    return out
