"""Readers: every kind of file LayerTune opens, behind one protocol (:mod:`core.io.base`).

``base.py`` holds the shapes (``Reader``, ``StudyInfo``, ``FrameSource``,
``VolumeSource``); ``registry.py`` the registry (``reader_for(path)``,
``reader_for_kind(kind)``); ``video/`` reads videos and frame folders frame-exactly
(``video/reader.py``: their readers); ``images.py`` reads image sets (``images/`` +
``masks/``); ``dicom*.py`` read CT series (header scan, ordering by position, HU,
geometry; ``geometry3d.py`` voxel <-> patient mm; ``marks.py`` / ``marks_seg.py`` lesion
marks as LUNA16 CSV and DICOM SEG); ``importer.py`` adds what a reader scanned to a project; ``labels_csv.py``
and ``scores_csv.py`` read and write the tables neighbouring tools use.
"""

import core.io.dicom  # noqa: F401, E402  (registers the DICOM CT series reader)
import core.io.ultrasound  # noqa: F401, E402  (registers the ultrasound DICOM and still image readers)
from core.io.base import FrameSource, Reader, StudyInfo, UnsupportedInputError, VolumeSource
from core.io.registry import (
    reader_for,
    reader_for_kind,
    readers,
    register_reader,
    supported_inputs,
)

__all__ = [
    "FrameSource", "Reader", "StudyInfo", "UnsupportedInputError", "VolumeSource",
    "reader_for", "reader_for_kind", "readers", "register_reader", "supported_inputs",
]
