"""The Emboli workspace (registered on import)."""

from .workspace import EmboliWorkspace

__all__ = ["EmboliWorkspace"]
