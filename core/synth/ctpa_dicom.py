"""Write a synthetic CT volume as a real DICOM series (one CT Image Storage file per slice).

Every file has a DICOM preamble and file meta (Explicit VR Little Endian), the CT Image
module's mandatory attributes and a fake patient ``SYNTH^DEMO`` / ``SYNTH-<seed>``.
Pixels are stored unsigned, 12 bits in 16 (``stored = HU + 1024``, RescaleIntercept -1024,
RescaleSlope 1), so the modality LUT gives back the Hounsfield units exactly. UIDs are
derived from the synthesis parameters with :func:`pydicom.uid.generate_uid`'s
``entropy_srcs``: the same parameters give the same UIDs, others give others.

File names are ``NNNN.dcm`` in a seeded random order unrelated to the slice position, so a
reader must order slices by ImagePositionPatient (InstanceNumber does follow the planes).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage, generate_uid

from core.events import Progress
from core.io.geometry3d import VolumeGeometry
from core.synth.dicom_header import STUDY_DATE, synthetic_dataset

PATIENT_NAME = "SYNTH^DEMO"

# PE (mediastinal-vascular) window first, lung window second.
WINDOWS = (("100", "700", "PE"), ("-600", "1500", "LUNG"))


@dataclass(frozen=True)
class SeriesUids:
    """The UIDs of one synthetic series; ``sop(k)`` is the SOPInstanceUID of plane ``k``."""

    key: str
    study: str
    series: str
    frame_of_reference: str

    @classmethod
    def derive(cls, key: str) -> SeriesUids:
        """UIDs determined by ``key`` (a string naming every synthesis parameter)."""
        return cls(key, generate_uid(entropy_srcs=[key, "study"]),
                   generate_uid(entropy_srcs=[key, "series"]),
                   generate_uid(entropy_srcs=[key, "frame-of-reference"]))

    def sop(self, k: int) -> str:
        """SOPInstanceUID of plane ``k``."""
        return generate_uid(entropy_srcs=[self.key, "sop", str(k)])


def ds_str(v: float) -> str:
    """A decimal string (DICOM DS, <= 16 characters) for ``v`` with at most 4 decimals."""
    s = f"{float(v):.4f}".rstrip("0").rstrip(".")
    s = "0" if s in ("-0", "") else s
    if len(s) > 16:
        raise ValueError(f"{v} does not fit a DICOM decimal string")
    return s


def _slice_dataset(hu: np.ndarray, k: int, geometry: VolumeGeometry, uids: SeriesUids,
                   seed: int, description: str) -> Dataset:
    """The dataset of plane ``k`` (``hu`` (Y, X) int16)."""
    sop = uids.sop(k)
    ds = synthetic_dataset(
        CTImageStorage, sop, modality="CT", image_type=["ORIGINAL", "PRIMARY", "AXIAL"],
        model="synthetic CTPA", study_description="CT pulmonary angiogram (synthetic)",
        series_description=description, patient_name=PATIENT_NAME, patient_id=f"SYNTH-{seed}",
        body_part="CHEST")
    ds.AcquisitionDate = STUDY_DATE
    ds.StudyTime = "090000"
    ds.SeriesTime = ds.AcquisitionTime = "090500"
    ds.ContentTime = f"0905{k % 60:02d}"
    ds.ContrastBolusAgent = "Iodinated contrast (synthetic)"
    dz, dy, dx = geometry.spacing_mm
    ds.SliceThickness = ds_str(dz)
    ds.KVP = "100"
    ds.ConvolutionKernel = "STANDARD"
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = uids.study
    ds.SeriesInstanceUID = uids.series
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = k + 1
    pos = geometry.voxel_to_world(np.array([k, 0, 0], float))
    ds.ImagePositionPatient = [ds_str(v) for v in pos]
    ds.ImageOrientationPatient = [ds_str(v) for v in geometry.orientation]
    ds.FrameOfReferenceUID = uids.frame_of_reference
    ds.PositionReferenceIndicator = ""
    ds.SliceLocation = ds_str(pos[2])
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = hu.shape
    ds.PixelSpacing = [ds_str(dy), ds_str(dx)]
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.WindowCenter = [w[0] for w in WINDOWS]
    ds.WindowWidth = [w[1] for w in WINDOWS]
    ds.WindowCenterWidthExplanation = [w[2] for w in WINDOWS]
    ds.RescaleIntercept = "-1024"
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    stored = hu.astype(np.int32) + 1024
    ds.PixelData = stored.astype("<u2").tobytes()
    return ds


def file_names(n: int, seed: int) -> list[str]:
    """File name of each plane: ``NNNN.dcm`` numbered in a seeded random order."""
    perm = np.random.default_rng([seed, 0xD1C0]).permutation(n)
    return [f"{int(p):04d}.dcm" for p in perm]


def write_slices(folder: Path, hu: np.ndarray, geometry: VolumeGeometry, uids: SeriesUids,
                 seed: int, description: str) -> Generator[Progress, None, list[str]]:
    """Write ``hu`` (Z, Y, X) int16 in [-1024, 3071] as one file per plane into ``folder``.

    Files already written are removed when an error (or closing the generator) stops the
    writing half way.

    Yields
    ------
    Progress
        Stage ``"synth"``, planes written out of Z.

    Returns
    -------
    list of str
        The paths written, in plane order.
    """
    if hu.dtype != np.int16 or hu.ndim != 3:
        raise ValueError(f"hu must be a (Z, Y, X) int16 volume, got {hu.dtype} {hu.shape}")
    if hu.min() < -1024 or hu.max() > 3071:
        raise ValueError("hu must lie in [-1024, 3071] to be stored in 12 bits")
    names = file_names(len(hu), seed)
    written: list[str] = []
    try:
        for k in range(len(hu)):
            path = folder / names[k]
            _slice_dataset(hu[k], k, geometry, uids, seed, description).save_as(
                path, enforce_file_format=True)
            written.append(str(path))
            yield Progress("synth", k + 1, len(hu), "writing DICOM slices")
    except BaseException:
        for p in written:
            Path(p).unlink(missing_ok=True)
        raise
    return written


def existing_dicom(folder: Path) -> Sequence[Path]:
    """``.dcm`` files already in ``folder`` (none when it does not exist)."""
    return sorted(folder.glob("*.dcm")) if folder.is_dir() else []
