"""Task modules; importing the package registers every task."""

from __future__ import annotations

from core.tasks import frame_quality  # noqa: F401  (registers the task)
from core.tasks.base import ItemKey, Task, TaskData, get_task

__all__ = ["ItemKey", "Task", "TaskData", "get_task"]
