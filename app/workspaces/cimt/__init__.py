"""The CIMT workspace (registered on import)."""

from .workspace import CimtWorkspace

__all__ = ["CimtWorkspace"]
