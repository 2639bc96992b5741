"""Synthetic demo data, one module per task (``colonoscopy`` for frame quality)."""

from core.synth.colonoscopy import ARTEFACTS, FRAME_SIZE, SynthVideo, make_video, render_frame

__all__ = ["ARTEFACTS", "FRAME_SIZE", "SynthVideo", "make_video", "render_frame"]
