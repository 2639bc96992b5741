"""Frame-exact random access to videos and frame folders (see :mod:`core.io.video.source`)."""

from core.io.video.decode import ReadStats
from core.io.video.index import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    VideoError,
    VideoInfo,
    content_hash,
    frame_files,
    is_video_path,
    natural_key,
    recent_scan,
    scan_video,
)
from core.io.video.reader import open_source, read_frames
from core.io.video.source import FrameSource

__all__ = [
    "IMAGE_EXTENSIONS", "VIDEO_EXTENSIONS", "FrameSource", "ReadStats", "VideoError",
    "VideoInfo", "content_hash", "frame_files", "is_video_path", "natural_key",
    "open_source", "read_frames", "recent_scan", "scan_video",
]
