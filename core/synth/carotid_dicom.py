"""Write a synthetic carotid study as a real DICOM ultrasound file.

One file per study: Ultrasound Image Storage (one frame) or Ultrasound Multi-frame Image
Storage (several; FrameTime 33.3 ms), Explicit VR Little Endian, MONOCHROME2, 8 bits, a
DICOM preamble and file meta. The pixel spacing is *not* in PixelSpacing: as scanners do,
it is given by the Sequence of Ultrasound Regions (PS3.3 C.8.5.5), whose PhysicalDeltaX/Y
are in centimetres (PhysicalUnits 3). Two regions are written:

1. the B-mode area: RegionSpatialFormat 1 (2-D), RegionDataType 1 (tissue), its
   pixel box and the spacing -- the one a reader must use for an ROI inside it;
2. the header bar above it: RegionSpatialFormat 0 (none), RegionDataType 0, no
   physical units (0) -- a reader must not take its (zero) deltas for a spacing.

UIDs are derived from the seed and the parameters (:func:`pydicom.uid.generate_uid`'s
``entropy_srcs``), so the same study is written the same way every time.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import asdict
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    UltrasoundImageStorage,
    UltrasoundMultiFrameImageStorage,
    generate_uid,
)

from core.events import Progress
from core.synth.carotid import CarotidParams, SynthCarotid, synth_carotid
from core.synth.dicom_header import synthetic_dataset

__all__ = ["CM_PER_MM", "carotid_dataset", "write_carotid_dicom", "write_carotid_study"]

CM_PER_MM = 0.1
PATIENT_NAME = "SYNTH^CAROTID"
FRAME_TIME_MS = "33.3"


def _region(x0: int, y0: int, x1: int, y1: int, *, spatial: int, data_type: int,
            units: int, dx_cm: float, dy_cm: float) -> Dataset:
    r = Dataset()
    r.RegionSpatialFormat = spatial
    r.RegionDataType = data_type
    r.RegionFlags = 0
    r.RegionLocationMinX0 = int(x0)
    r.RegionLocationMinY0 = int(y0)
    r.RegionLocationMaxX1 = int(x1)
    r.RegionLocationMaxY1 = int(y1)
    r.PhysicalUnitsXDirection = units
    r.PhysicalUnitsYDirection = units
    r.PhysicalDeltaX = float(dx_cm)
    r.PhysicalDeltaY = float(dy_cm)
    if units:
        r.ReferencePixelX0 = int(x0)
        r.ReferencePixelY0 = int(y0)
        r.ReferencePixelPhysicalValueX = 0.0
        r.ReferencePixelPhysicalValueY = 0.0
    return r


def carotid_dataset(synth: SynthCarotid, *, name: str = "carotid") -> Dataset:
    """The DICOM dataset of ``synth`` (its frames, its spacing as US regions)."""
    key = f"carotid|{synth.seed}|{sorted(asdict(synth.params).items())}|{name}"
    n = len(synth.frames)
    sop_class = UltrasoundMultiFrameImageStorage if n > 1 else UltrasoundImageStorage
    sop = generate_uid(entropy_srcs=[key, "sop"])
    ds = synthetic_dataset(
        sop_class, sop, modality="US", image_type=["ORIGINAL", "PRIMARY", "", "0001"],
        model="synthetic carotid B-mode", study_description="Carotid ultrasound (synthetic)",
        series_description=f"CCA longitudinal, {name}", patient_name=PATIENT_NAME,
        patient_id=f"SYNTH-US-{synth.seed}", body_part="NECK")
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "100000"
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[key, "study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[key, "series"])
    ds.InstanceNumber = 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = synth.frames.shape[1:]
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    if n > 1:
        ds.NumberOfFrames = n
        ds.FrameTime = FRAME_TIME_MS
        ds.FrameIncrementPointer = 0x00181063  # FrameTime
    x0, y0, x1, y1 = synth.region
    dy_mm, dx_mm = synth.spacing_mm
    p = synth.params
    ds.SequenceOfUltrasoundRegions = Sequence([
        _region(x0, y0, x1, y1, spatial=1, data_type=1, units=3,
                dx_cm=dx_mm * CM_PER_MM, dy_cm=dy_mm * CM_PER_MM),
        _region(p.margin, 0, p.width - 1, max(1, p.header - 2), spatial=0, data_type=0,
                units=0, dx_cm=0.0, dy_cm=0.0),
    ])
    ds.PixelData = np.ascontiguousarray(synth.frames, np.uint8).tobytes()
    return ds


def write_carotid_dicom(path: str | Path, synth: SynthCarotid, *, name: str | None = None
                        ) -> Path:
    """Write ``synth`` to ``path`` (a ``.dcm`` file); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = carotid_dataset(synth, name=name or path.stem)
    tmp = path.with_name(path.name + ".part")
    try:
        ds.save_as(tmp, enforce_file_format=True)
        tmp.replace(path)  # atomic: an interrupted demo leaves no half file under the name
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_carotid_study(path: str | Path, seed: int, params: CarotidParams | None = None
                        ) -> Generator[Progress, None, SynthCarotid]:
    """Synthesise a study with ``seed`` and write it as DICOM US at ``path``."""
    yield Progress("synth", 0, 1, f"synthesising carotid ultrasound {Path(path).name}")
    synth = synth_carotid(seed, params or CarotidParams())
    write_carotid_dicom(path, synth)
    yield Progress("synth", 1, 1, f"synthesising carotid ultrasound {Path(path).name}")
    return synth
