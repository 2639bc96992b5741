"""The readers (:class:`core.io.base.Reader`) of video files and frame folders.

Both scan with :func:`~core.io.video.index.scan_video` and store its
:class:`~core.io.video.index.VideoInfo` as the study's index, so opening a study does
not decode the video again; both open a :class:`~core.io.video.source.FrameSource`.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

from core.events import Notice, Progress
from core.io.base import StudyInfo
from core.io.video.index import (
    IMAGE_EXTENSIONS,
    VideoInfo,
    content_hash,
    frame_files,
    is_video_path,
    scan_video,
)
from core.io.video.source import FrameSource, open_source

__all__ = ["FrameFolderReader", "VideoReader"]


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
