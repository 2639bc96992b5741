"""Colonoscopy frame quality: informative vs non-informative frames (SPEC §1.6)."""

from core.tasks.frame_quality.task import *  # noqa: F403
from core.tasks.frame_quality.task import (  # noqa: F401
    CLASS_NAMES,
    FRAME_SIZE,
    FrameQualityTask,
    FrameTaskConfig,
    label_index,
    load_frames,
    prepare_frame,
)
