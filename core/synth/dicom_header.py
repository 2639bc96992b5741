"""The header every synthetic DICOM object of the demo shares (file meta, dates, a fake
patient): one place, so the CT series and the ultrasound files stay alike."""

from __future__ import annotations

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian

STUDY_DATE = "20240101"


def synthetic_dataset(sop_class: str, sop_uid: str, *, modality: str,
                      image_type: list[str], model: str, study_description: str,
                      series_description: str, patient_name: str, patient_id: str,
                      body_part: str) -> Dataset:
    """A dataset with its file meta (explicit VR little endian), the study/series
    descriptions, dates, manufacturer "LayerTune" and an obviously fake patient."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "LAYERTUNE_SYN"
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = list(image_type)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = STUDY_DATE
    ds.AccessionNumber = ""
    ds.Modality = modality
    ds.Manufacturer = "LayerTune"
    ds.ManufacturerModelName = model
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = study_description
    ds.SeriesDescription = series_description
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.BodyPartExamined = body_part
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    return ds
