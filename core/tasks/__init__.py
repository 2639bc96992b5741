"""Tasks (one package each); importing this package registers every task.

:mod:`core.tasks.base` holds the protocol (:class:`Task`, :class:`ItemSet`) and the
registry (:func:`get_task`, :func:`task_names`, :func:`label_values`).
"""

from __future__ import annotations

from core.tasks import emboli, frame_quality, polyps  # noqa: F401  (registers the tasks)
from core.tasks.base import (
    ItemKey,
    ItemSet,
    Task,
    TaskBase,
    TaskData,
    canonical_name,
    get_task,
    label_values,
    task_names,
)
from core.tasks.cimt import task as _cimt_task  # noqa: F401  (registers the CIMT task)

__all__ = ["ItemKey", "ItemSet", "Task", "TaskBase", "TaskData", "canonical_name", "get_task",
           "label_values", "task_names"]
