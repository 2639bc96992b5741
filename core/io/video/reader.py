"""The readers (:class:`core.io.base.Reader`) of video files and frame folders.

Both scan with :func:`~core.io.video.index.scan_video` and store its
:class:`~core.io.video.index.VideoInfo` as the study's index, so opening a study does
not decode the video again; both open a :class:`~core.io.video.source.FrameSource`,
as :func:`open_source` does for everyone else (:func:`read_frames`: frames in one pass).
"""

from __future__ import annotations

import os
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.events import Notice, Progress, drain
from core.io.base import StudyInfo
from core.io.video.index import (
    IMAGE_EXTENSIONS,
    VideoInfo,
    content_hash,
    frame_files,
    is_video_path,
    recent_scan,
    scan_video,
)
from core.io.video.source import FrameSource

__all__ = ["FrameFolderReader", "VideoReader", "open_source", "read_frames"]


def _scan_cached(path: str | os.PathLike[str]) -> VideoInfo:
    info = recent_scan(path)
    return info if info is not None else drain(scan_video(path))


def open_source(path_or_info: str | os.PathLike[str] | VideoInfo,
                cache_frames: int = 256) -> FrameSource:
    """Open a :class:`FrameSource`, scanning first when given a path.

    The scan of an unchanged file (same size and modification time) made earlier in
    this process, by :func:`scan_video` or here, is reused: opening a video just
    imported does not decode it all again. Across processes, store
    ``VideoInfo.to_json()`` and pass ``VideoInfo.from_json(...)`` instead of a path.
    """
    info = (path_or_info if isinstance(path_or_info, VideoInfo)
            else _scan_cached(path_or_info))
    return FrameSource(info, cache_frames)


def read_frames(path_or_info: str | os.PathLike[str] | VideoInfo,
                indices: Sequence[int] | np.ndarray) -> np.ndarray:
    """Frames ``indices`` of a video or folder as (N, H, W, 3) uint8 RGB, in that order.

    One forward pass over the sorted indices: efficient for training extraction.
    """
    with open_source(path_or_info, cache_frames=0) as src:
        return src.read_many(indices)


class _Indexed:
    """Shared by the video and frame-folder readers: both scan with ``scan_video`` and
    store its :class:`~core.io.video.VideoInfo` as the study's index."""

    name = ""
    kinds: tuple[str, ...] = ()

    def scan(self, path: str | os.PathLike[str]
             ) -> Generator[Progress | Notice, None, list[StudyInfo]]:
        """Index the video or folder once (see :func:`core.io.video.scan_video`).

        Yields ``Progress`` (stage ``"scan"``) and, for a truncated video, a warning
        ``Notice``. Raises :class:`~core.io.video.VideoError` naming the file.
        """
        p = Path(path)
        info = yield from scan_video(p)
        if info.warning:
            yield Notice(info.warning, "warning")
        name = (p.name if p.is_dir() else p.stem) or "study"
        return [StudyInfo(str(p), self.kinds[0], name, info.n_frames, info.height,
                          info.width, info.fps, content_hash(p), index=info.to_json())]

    def open(self, study: Any, *, index: str | None = None,
             cache_frames: int = 256) -> FrameSource:
        """A :class:`core.io.video.FrameSource` on ``study.path``, from the stored index
        when it is for that path, else by scanning again (reused within a process)."""
        text = index if index is not None else getattr(study, "index", None)
        if text:
            info = VideoInfo.from_json(text)
            if Path(info.path) == Path(study.path) and Path(study.path).exists():
                return open_source(info, cache_frames)
        return open_source(study.path, cache_frames)


class VideoReader(_Indexed):
    """Reader of video files (kind ``"video"``), frame-exact (:mod:`core.io.video`)."""

    name = "video"
    kinds = ("video",)
    description = "videos (.mp4 .avi .mov .mkv .mpg .wmv and others FFmpeg decodes)"

    def can_read(self, path: str | os.PathLike[str]) -> bool:
        """True for a file with a video suffix, or one the decoder opens as a video."""
        p = Path(path)
        return p.is_file() and is_video_path(p)


class FrameFolderReader(_Indexed):
    """Reader of folders of frame images (kind ``"frames"``; ``"folder"`` in projects
    made by the first release); frame ``i`` is the ``i``-th file in natural order."""

    name = "frames"
    kinds = ("frames", "folder")
    description = ("folders of frame images ("
                   + " ".join(sorted(IMAGE_EXTENSIONS)) + ")")

    def can_read(self, path: str | os.PathLike[str]) -> bool:
        """True for a folder holding image files directly."""
        p = Path(path)
        try:
            return p.is_dir() and bool(frame_files(p))
        except OSError:
            return False
