"""One workspace per task, behind one protocol (:mod:`app.workspaces.base`).

Importing the package registers the built-in workspaces, in tab order.
"""

from __future__ import annotations

from . import cimt, emboli, frame_quality, polyps  # noqa: F401  (registers the tabs)
from .base import MenuAction, Workspace
from .registry import WORKSPACES, register_workspace, unregister_workspace, workspace_classes

__all__ = ["WORKSPACES", "MenuAction", "Workspace", "register_workspace",
           "unregister_workspace", "workspace_classes"]
