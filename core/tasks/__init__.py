"""Task modules; importing the package registers every task."""

from __future__ import annotations

from . import frames  # noqa: F401  (registers "frames")
from .base import ItemKey, Task, TaskData, get_task

__all__ = ["ItemKey", "Task", "TaskData", "get_task"]
