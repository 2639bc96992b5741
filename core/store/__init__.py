"""The project store: one folder, one SQLite database.

``db`` opens, checks, migrates (``schema``) and writes the database; ``studies``,
``annotations`` (with ``geometry`` and the undo ``history``), ``candidates`` and ``runs``
(snapshots, predictions, experiments) are the parts of :class:`Project`.
"""

from core.store import schema  # noqa: F401  (migrations: core.store.schema)
from core.store.annotations import (
    LABEL_SOURCES,
    Annotation,
    AnnotationEvent,
    Label,
    LabelEvent,
    label_values,
)
from core.store.candidates import Candidate
from core.store.db import DB_NAME, SCHEMA_VERSION, ProjectError, from_json, to_json
from core.store.geometry import Box, Mask, Point, Polyline, Sphere
from core.store.project import Project
from core.store.runs import Experiment, Prediction, Run, Snapshot
from core.store.schema import ANNOTATION_KINDS, RUN_STATUSES
from core.store.studies import SPLITS, Study, Subject

__all__ = [
    "ANNOTATION_KINDS", "DB_NAME", "LABEL_SOURCES", "RUN_STATUSES", "SCHEMA_VERSION", "SPLITS",
    "Annotation", "AnnotationEvent", "Box", "Candidate", "Experiment", "Label", "LabelEvent",
    "Mask", "Point", "Polyline", "Prediction", "Project", "ProjectError", "Run", "Snapshot",
    "Sphere", "Study", "Subject", "from_json", "label_values", "to_json",
]
