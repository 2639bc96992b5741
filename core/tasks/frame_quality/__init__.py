"""Colonoscopy frame quality: informative vs non-informative frames (SPEC §1.6)."""

from core.tasks.frame_quality.task import (
    CLASS_NAMES,
    FRAME_SIZE,
    FrameQualityTask,
    FrameTaskConfig,
    label_index,
    load_frames,
    prepare_frame,
)

__all__ = ["CLASS_NAMES", "FRAME_SIZE", "FrameQualityTask", "FrameTaskConfig", "label_index",
           "load_frames", "prepare_frame"]
