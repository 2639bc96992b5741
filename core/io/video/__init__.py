"""Frame-exact random access to videos and frame folders (see :mod:`core.io.video.source`)."""

from core.io.video.source import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    FrameSource,
    ReadStats,
    VideoError,
    VideoInfo,
    content_hash,
    frame_files,
    is_video_path,
    natural_key,
    open_source,
    read_frames,
    recent_scan,
    scan_video,
)

__all__ = [
    "IMAGE_EXTENSIONS", "VIDEO_EXTENSIONS", "FrameSource", "ReadStats", "VideoError",
    "VideoInfo", "content_hash", "frame_files", "is_video_path", "natural_key",
    "open_source", "read_frames", "recent_scan", "scan_video",
]
