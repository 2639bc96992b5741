"""Benchmark: loading a DICOM CT series into a Hounsfield volume, ours vs a plain loop.

The series: 400 slices of 512 x 512 (``--quick``: 100), int16, RescaleIntercept -1024,
PixelPaddingValue -2000 outside a circular field of view, 0.7 mm pixels, 1.0 mm apart
(SliceThickness 1.25), written by this benchmark with pydicom into a temporary folder
(deleted at the end) under scrambled file names and InstanceNumbers.

Ours, end to end from the folder: :meth:`core.io.dicom.DicomSeriesReader.scan` (header-
only scan: threaded ``dcmread(specific_tags=..., defer_size=...)``, grouping, ordering
along the normal, spacing from positions) then :meth:`core.io.dicom.CtVolume.hu` (a
thread pool reads each slice's pixels from its byte offset straight into a per-thread
buffer, rescaled in place into one preallocated float32 volume). Also reported: the load
alone from a stored index (what opening an imported study costs).

Reference: the loop everyone writes — ``dcmread`` every file, sort by
ImagePositionPatient projected on the slice normal, ``np.stack`` of
``apply_modality_lut(ds.pixel_array, ds)`` as float32, padding set to air.

Timing: ours and the reference alternate, ``--repeats`` runs each, after one untimed
read of every file (a warm page cache for both). The headline ratio is of the fastest
runs (the least disturbed by other processes on a shared machine, as ``timeit`` does);
medians and CPU times (all threads) are printed too. SimpleITK's
``ImageSeriesReader`` (GDCM) is timed once when it is importable (information only).

Correctness gate (exit status 1 when it fails): our volume equals the reference's
exactly (every voxel, same order), and the spacing is 1.0 mm from the positions. The
speed target (>= 3x) is reported, not gated.

Usage: python benchmarks/bench_dicom.py [--quick] [--slices N] [--repeats R]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_modality_lut
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.events import drain  # noqa: E402
from core.io.dicom import DicomSeriesReader  # noqa: E402
from core.io.dicom_pixels import PADDING_HU  # noqa: E402

TARGET = 3.0
SIZE = 512


def write_series(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` 512 x 512 CT slices, one file each, names and numbers scrambled."""
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[0:SIZE, 0:SIZE]
    fov = (rr - 255.5) ** 2 + (cc - 255.5) ** 2 < 250.0 ** 2
    body = ((rr - 256) / 190.0) ** 2 + ((cc - 256) / 230.0) ** 2 < 1
    lungs = (((rr - 250) / 130.0) ** 2 + ((np.abs(cc - 256) - 110) / 80.0) ** 2) < 1
    base = np.where(body, 1024 + 40, 1024 - 1000).astype(np.int16)
    base[lungs] = 1024 - 850
    tile = rng.integers(-25, 26, (64, 64)).astype(np.int16)
    noise = np.tile(tile, (SIZE // 64, SIZE // 64))
    uid, study = generate_uid(), generate_uid()
    order = rng.permutation(n)
    paths = []
    for k in range(n):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = CTImageStorage
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, uid
        ds.PatientName, ds.PatientID, ds.Modality = "BENCH^MARK", "BENCH-1", "CT"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.SeriesNumber, ds.InstanceNumber = 1, int(order[k]) + 1
        ds.ImagePositionPatient = ["-179.2", "-179.2", f"{-300.0 + 1.0 * k:.2f}"]
        ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
        ds.PixelSpacing, ds.SliceThickness = ["0.7", "0.7"], "1.25"
        ds.Rows = ds.Columns = SIZE
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = "1", "-1024"
        ds.PixelPaddingValue = -2000
        img = base + np.roll(noise, k, axis=1) + np.int16(k % 40)
        img[~fov] = -2000
        ds.PixelData = img.astype("<i2").tobytes()
        path = folder / f"f{order[k]:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return sorted(paths)


def reference(files: list[Path]) -> np.ndarray:
    """The plain loop: read all, sort along the normal, stack the rescaled slices."""
    slices = [pydicom.dcmread(f) for f in files]
    o = np.array(slices[0].ImageOrientationPatient, dtype=np.float64)
    normal = np.cross(o[:3], o[3:])
    slices.sort(key=lambda ds: float(np.dot(np.array(ds.ImagePositionPatient, float), normal)))
    out = []
    for ds in slices:
        arr = ds.pixel_array
        hu = apply_modality_lut(arr, ds).astype(np.float32)
        hu[arr == ds.PixelPaddingValue] = PADDING_HU
        out.append(hu)
    return np.stack(out)


def ours(folder: Path) -> np.ndarray:
    reader = DicomSeriesReader()
    info = drain(reader.scan(folder))[0]
    with reader.open(info) as vol:
        return vol.hu()


def _timed(f):
    t0 = time.perf_counter()
    out = f()
    return time.perf_counter() - t0, out


def _cpu_timed(f):
    """(wall s, CPU s of this process, all threads, result)."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = f()
    return time.perf_counter() - t0, time.process_time() - c0, out


def _load() -> str:
    try:
        with open("/proc/loadavg") as fh:
            one = float(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return "load average unknown"
    cpus = os.cpu_count() or 1
    warn = "  WARNING: the machine is busy, wall times are unreliable" if one > cpus else ""
    return f"load average {one:.1f} on {cpus} CPUs{warn}"


def _sitk(folder: Path) -> str:
    try:
        import SimpleITK as sitk
    except ImportError:
        return "SimpleITK: not installed (pip install SimpleITK to compare)"
    reader = sitk.ImageSeriesReader()
    names = reader.GetGDCMSeriesFileNames(str(folder))
    reader.SetFileNames(names)
    t, img = _timed(reader.Execute)
    arr = sitk.GetArrayFromImage(img)
    return (f"SimpleITK ImageSeriesReader (GDCM): {t:.3f} s, one run ({arr.shape}, "
            f"{arr.dtype}, padding not clipped; file-name sorting by GDCM not timed)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100 slices instead of 400")
    ap.add_argument("--slices", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=None, help="timed runs each (default 5, "
                    "quick 3)")
    args = ap.parse_args(argv)
    n = args.slices or (100 if args.quick else 400)
    repeats = max(1, args.repeats or (3 if args.quick else 5))
    tmp = Path(tempfile.mkdtemp(prefix="bench_dicom_"))
    try:
        t_write, files = _timed(lambda: write_series(tmp, n))
        print(f"{n} slices of {SIZE}x{SIZE} int16 written in {t_write:.1f} s to {tmp}")
        for f in files:  # warm the page cache for both sides alike
            f.read_bytes()
        print(f"  before: {_load()}")
        t_ours, t_ref, c_ours, c_ref = [], [], [], []
        vol = ref = None
        for _ in range(repeats):
            t, c, vol = _cpu_timed(lambda: ours(tmp))
            t_ours.append(t)
            c_ours.append(c)
            t, c, ref = _cpu_timed(lambda: reference(files))
            t_ref.append(t)
            c_ref.append(c)
        reader = DicomSeriesReader()
        info = drain(reader.scan(tmp))[0]
        t_load = min(_timed(lambda: reader.open(info).hu())[0] for _ in range(repeats))
        m_ours, m_ref = statistics.median(t_ours), statistics.median(t_ref)
        b_ours, b_ref = min(t_ours), min(t_ref)
        same = vol is not None and ref is not None and vol.shape == ref.shape \
            and bool(np.array_equal(vol, ref))
        spacing_ok = info.meta["spacing_mm"][0] == 1.0
        runs = ", ".join(f"{t:.3f}" for t in t_ours)
        print(f"  ours (scan + load; runs {runs}): fastest {b_ours:.3f} s "
              f"({b_ours / n * 1e3:.2f} ms per slice), median {m_ours:.3f} s")
        runs = ", ".join(f"{t:.3f}" for t in t_ref)
        print(f"  plain dcmread loop + sort + stack + rescale (runs {runs}): fastest "
              f"{b_ref:.3f} s ({b_ref / n * 1e3:.2f} ms per slice), median {m_ref:.3f} s")
        print(f"  ours, load only from the stored index: fastest {t_load:.3f} s")
        print(f"  {_sitk(tmp)}")
        cpu_o, cpu_r = statistics.median(c_ours), statistics.median(c_ref)
        print(f"  CPU time (all threads, medians): ours {cpu_o:.3f} s, plain loop {cpu_r:.3f} s"
              f" ({cpu_r / cpu_o:.1f}x)")
        print(f"  after: {_load()}")
        ratio = b_ref / b_ours
        print(f"  ratio (fastest runs) {ratio:.1f}x (target >= {TARGET:g}x: "
              f"{'met' if ratio >= TARGET else 'MISSED'}); medians {m_ref / m_ours:.1f}x")
        ok = same and spacing_ok
        print(f"correctness gate: {'PASS' if ok else 'FAIL'} (identical volume {vol.shape}: "
              f"{same}; spacing from positions {info.meta['spacing_mm'][0]} mm: {spacing_ok})")
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
