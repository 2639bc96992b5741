"""Pulmonary embolism detection in CTPA (SPEC §1.5).

``toboggan`` the clustering (each voxel slides to its darkest neighbour); ``candidates``
the tobogganing candidate generator; ``vessel`` the vessel axis at a candidate;
``patches`` / ``patches_render`` the vessel-aligned 2-channel patches; ``truth`` marks
and decisions as candidate labels; ``task`` the registered task.
"""

from core.tasks.emboli.task import CLASS_NAMES, EmboliTask, EmboliTaskConfig

__all__ = ["CLASS_NAMES", "EmboliTask", "EmboliTaskConfig"]
