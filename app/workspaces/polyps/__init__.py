"""The Polyps workspace (registered on import)."""

from .workspace import PolypsWorkspace

__all__ = ["PolypsWorkspace"]
