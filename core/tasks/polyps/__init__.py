"""Polyp detection in colonoscopy video and stills (SPEC §1.4).

``candidates`` the handcrafted generator; ``hits`` polyps from masks and the recall;
``truth`` the expert's masks, boxes and decisions as candidate labels; ``patches`` /
``patches_torch`` the augmented candidate patches; ``task`` the registered task.
"""

from core.tasks.polyps.task import CLASS_NAMES, FROC_FPS, PolypTask, PolypTaskConfig

__all__ = ["CLASS_NAMES", "FROC_FPS", "PolypTask", "PolypTaskConfig"]
