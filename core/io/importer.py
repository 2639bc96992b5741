"""Studies in a project: import (scan once, store the index) and open for reading.

The import-time scan decodes the whole video once (exact frame count, keyframes, a
fingerprint per frame). Its result is stored in the project, so opening a study later,
in any process, does not decode the video again. If the file has changed since, the
reader notices (fingerprints differ) and says so.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

from core.events import Notice, Progress
from core.store import Project, Study


def _info_key(study_id: int) -> str:
    return f"video_info:{study_id}"


def import_study(project: Project, path, *, split: str = "train", task: str = "frames"
                 ) -> Generator[Progress | Notice, None, Study]:
    """Scan a video or frame folder and add it to the project (idempotent by content)."""
    from core.io.video import content_hash, scan_video

    path = Path(path)
    info = yield from scan_video(path)
    if getattr(info, "warning", None):
        yield Notice(info.warning, "warning")
    study = project.add_study(path, content_hash(path), info.kind, task, info.n_frames,
                              info.fps, info.height, info.width, split=split)
    project.set_setting(_info_key(study.id), info.to_json())
    return study


def open_study(project: Project, study: Study, cache_frames: int = 256):
    """A :class:`core.io.video.FrameSource` for ``study``, from its stored index when valid."""
    from core.io.video import VideoInfo, open_source

    text = project.get_setting(_info_key(study.id))
    if text:
        info = VideoInfo.from_json(text)
        if Path(info.path) == Path(study.path) and Path(study.path).exists():
            return open_source(info, cache_frames)
    return open_source(study.path, cache_frames)
