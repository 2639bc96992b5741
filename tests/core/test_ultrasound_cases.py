"""Ultrasound DICOM files written for the tests (pydicom), and where the real ones live."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"
MISC = DATA / "dicom_misc"
US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"
US_MULTI = "1.2.840.10008.5.1.4.1.1.3.1"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"


def need(name: str) -> Path:
    """A real test file of dicom_misc, or skip."""
    path = MISC / name
    if not path.exists():
        pytest.skip(f"test data {path} not present")
    return path


def region(x0: int, y0: int, x1: int, y1: int, delta_cm: float | tuple[float, float],
           spatial_format: int = 1, units: int = 3) -> Dataset:
    """One item of SequenceOfUltrasoundRegions (deltas in cm when units is 3)."""
    dx, dy = (delta_cm, delta_cm) if np.isscalar(delta_cm) else delta_cm
    r = Dataset()
    r.RegionSpatialFormat, r.RegionDataType, r.RegionFlags = spatial_format, 1, 0
    r.RegionLocationMinX0, r.RegionLocationMinY0 = x0, y0
    r.RegionLocationMaxX1, r.RegionLocationMaxY1 = x1, y1
    r.PhysicalUnitsXDirection = r.PhysicalUnitsYDirection = units
    r.PhysicalDeltaX, r.PhysicalDeltaY = float(dx), float(dy)
    return r


def write_us(path: Path, frames: np.ndarray, *, photometric: str = "MONOCHROME2",
             regions: list[Dataset] | None = None, palette: np.ndarray | None = None,
             bits: int = 8, frame_time_ms: float | None = None,
             transfer_syntax: str = ExplicitVRLittleEndian, modality: str = "US",
             patient_id: str = "PAT-1", pixel_spacing: list[float] | None = None) -> Path:
    """Write ``frames`` ((N, H, W) or (N, H, W, 3), or one frame) as an ultrasound file.

    ``palette``: (K, 3) uint16 RGB entries for PALETTE COLOR (16-bit entries).
    """
    arr = np.asarray(frames)
    colour = photometric in ("RGB", "YBR_FULL")
    multi = arr.ndim == (4 if colour else 3)
    n = arr.shape[0] if multi else 1
    meta = FileMetaDataset()
    sop = (US_MULTI if n > 1 else US_IMAGE) if modality == "US" else CT_IMAGE
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = sop, generate_uid()
    meta.TransferSyntaxUID = transfer_syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.PatientID = modality, patient_id
    h, w = arr.shape[-3:-1] if colour else arr.shape[-2:]
    ds.Rows, ds.Columns = int(h), int(w)
    ds.SamplesPerPixel = 3 if colour else 1
    if colour:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 8 if bits <= 8 else 16
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits - 1, 0
    if n > 1:
        ds.NumberOfFrames = n
        if frame_time_ms:
            ds.FrameTime = frame_time_ms
    if regions:
        ds.SequenceOfUltrasoundRegions = regions
    if pixel_spacing:
        ds.PixelSpacing = pixel_spacing
    if palette is not None:
        desc = [len(palette), 0, 16]
        ds.RedPaletteColorLookupTableDescriptor = desc
        ds.GreenPaletteColorLookupTableDescriptor = desc
        ds.BluePaletteColorLookupTableDescriptor = desc
        pal = np.asarray(palette, dtype="<u2")
        ds.RedPaletteColorLookupTableData = pal[:, 0].tobytes()
        ds.GreenPaletteColorLookupTableData = pal[:, 1].tobytes()
        ds.BluePaletteColorLookupTableData = pal[:, 2].tobytes()
    if transfer_syntax == ExplicitVRLittleEndian:
        dtype = np.uint8 if ds.BitsAllocated == 8 else np.dtype("<u2")
        ds.PixelData = np.ascontiguousarray(arr.astype(dtype)).tobytes()
    else:  # a compressed syntax: placeholder fragments (only the header is read)
        from pydicom.encaps import encapsulate

        ds.PixelData = encapsulate([b"\x00\x01" * 8 for _ in range(n)])
        ds["PixelData"].VR = "OB"
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path
