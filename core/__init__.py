"""LayerTune core: everything that is not GUI. Never imports Qt."""

from __future__ import annotations

import os

__version__ = "0.1.0"

# FFmpeg (through OpenCV) and OpenCV itself print warnings such as "moov atom not found"
# straight to the terminal; LayerTune reports unreadable files in its own words. Set
# before OpenCV is first used (a user's own setting wins).
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
