"""The workspaces the main window shows, one tab each, keyed by their task name."""

from __future__ import annotations

from .base import Workspace

WORKSPACES: dict[str, type[Workspace]] = {}


def register_workspace(cls: type[Workspace]) -> type[Workspace]:
    """Add a workspace class (usable as a class decorator); tabs keep this order.

    Raises
    ------
    ValueError
        When the class names no task, or another class already holds its task name.
    """
    if not cls.task_name or not cls.title:
        raise ValueError(f"{cls.__name__} needs a task_name and a title")
    held = WORKSPACES.get(cls.task_name)
    if held is not None and held is not cls:
        raise ValueError(f"task {cls.task_name!r} already has the workspace {held.__name__}")
    WORKSPACES[cls.task_name] = cls
    return cls


def unregister_workspace(task_name: str) -> None:
    """Remove a workspace class (tests that register a temporary one)."""
    WORKSPACES.pop(task_name, None)


def workspace_classes() -> list[type[Workspace]]:
    """The registered workspace classes in tab order: by their ``tab_order``, then in the
    order they were registered."""
    return sorted(WORKSPACES.values(), key=lambda cls: cls.tab_order)
