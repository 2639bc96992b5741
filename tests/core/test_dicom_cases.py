"""Writers of small DICOM CT series for the DICOM reader's tests (and tests of them).

Every file is a real CT Image Storage instance written by pydicom (file meta, UIDs,
geometry, rescale, a fake patient "DOE^JANE" / "PID-4711" that must never show up in
what the reader reports).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

PATIENT_NAME = "DOE^JANE"
PATIENT_ID = "PID-4711"
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def phantom(n: int, rows: int = 24, cols: int = 28, seed: int = 0) -> np.ndarray:
    """(n, rows, cols) float HU: air around an ellipse of soft tissue with texture,
    distinct per plane (plane k adds 10 k HU), so that order mistakes show."""
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[0:rows, 0:cols]
    inside = ((rr - rows / 2) / (rows * 0.4)) ** 2 + ((cc - cols / 2) / (cols * 0.4)) ** 2 < 1
    vol = np.full((n, rows, cols), -1000.0)
    for k in range(n):
        vol[k][inside] = 40.0 + 10.0 * k + rng.normal(0, 20, inside.sum()).round()
    return vol


def ct_dataset(stored: np.ndarray, *, series_uid: str, position: Sequence[float],
               orientation: Sequence[float] = AXIAL, pixel_spacing=(0.7, 0.8),
               slope: float = 1.0, intercept: float = -1024.0, modality: str = "CT",
               image_type=("ORIGINAL", "PRIMARY", "AXIAL"), instance: int = 1,
               series_number: int = 1, description: str = "CTPA test",
               study_uid: str = "1.2.826.0.1.3680043.8.498.1",
               padding: int | None = None, bits_stored: int = 16, signed: bool = True,
               tilt: float = 0.0, slice_thickness: float = 1.25) -> Dataset:
    """One CT slice as a pydicom Dataset with file meta (explicit VR little endian)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.FrameOfReferenceUID = study_uid + ".9"
    ds.PatientName, ds.PatientID = PATIENT_NAME, PATIENT_ID
    ds.StudyDate, ds.StudyTime, ds.StudyID = "20260101", "120000", "1"
    ds.Modality, ds.ImageType = modality, list(image_type)
    ds.SeriesNumber, ds.InstanceNumber, ds.SeriesDescription = series_number, instance, description
    ds.ImagePositionPatient = [f"{v:.4f}" for v in position]
    ds.ImageOrientationPatient = [f"{v:.6f}" for v in orientation]
    ds.PixelSpacing = [f"{v:g}" for v in pixel_spacing]
    ds.SliceThickness, ds.GantryDetectorTilt = slice_thickness, tilt
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, bits_stored, bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.RescaleSlope, ds.RescaleIntercept = f"{slope:g}", f"{intercept:g}"
    if padding is not None:
        ds.PixelPaddingValue = padding  # US or SS: resolved by PixelRepresentation
    ds.PixelData = stored.astype("<i2" if signed else "<u2").tobytes()
    return ds


def write_series(folder: Path, hu: np.ndarray, *, z: Sequence[float] | None = None,
                 positions: Sequence[Sequence[float]] | None = None, slope: float = 1.0,
                 intercept: float = -1024.0, series_uid: str | None = None,
                 names: Sequence[str] | None = None, instances: Sequence[int] | None = None,
                 **kw) -> list[Path]:
    """Write ``hu`` (planes, rows, cols) as one slice per file; returns the paths.

    Plane k goes to ``positions[k]`` (default (-10, -20, z[k]), z default 2 k mm).
    """
    folder.mkdir(parents=True, exist_ok=True)
    uid = series_uid or generate_uid()
    n = len(hu)
    if positions is None:
        zs = [2.0 * k for k in range(n)] if z is None else list(z)
        positions = [(-10.0, -20.0, v) for v in zs]
    out = []
    for k in range(n):
        stored = np.rint((hu[k] - intercept) / slope).astype(np.int32)
        ds = ct_dataset(stored, series_uid=uid, position=positions[k], slope=slope,
                        intercept=intercept,
                        instance=instances[k] if instances is not None else k + 1, **kw)
        path = folder / (names[k] if names is not None else f"IM{k:04d}.dcm")
        ds.save_as(path, enforce_file_format=True)
        out.append(path)
    return out


def test_written_series_reads_back(tmp_path):
    hu = phantom(3)
    paths = write_series(tmp_path, hu, slope=0.5, intercept=-1000.0, z=[0.0, 1.5, 3.0])
    ds = pydicom.dcmread(paths[1])
    assert ds.Modality == "CT" and ds.SOPClassUID == CTImageStorage
    assert float(ds.ImagePositionPatient[2]) == 1.5
    back = pydicom.pixels.apply_modality_lut(ds.pixel_array, ds)
    np.testing.assert_allclose(back, hu[1], atol=0.25)
    assert len({pydicom.dcmread(p).SOPInstanceUID for p in paths}) == 3
