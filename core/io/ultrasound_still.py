"""The single still image reader (kind ``"image"``): one PNG, JPEG, TIFF or BMP file.

An ultrasound still exported from a scanner or a dataset (CUBS ships TIFF) is one
study of one frame. The image sets reader wants a folder with ``images/`` and the
frame folder reader a folder of frames; this reader takes the single file. It is asked
before the frame folder reader (``register_reader(..., before="frames")``).

Frames are returned as the file holds them (RGB uint8; a grey file repeated to three
channels by the decoder); the CIMT task makes them grey itself. A still has no pixel
spacing: IMT is in pixels until a calibration is set
(:func:`core.io.ultrasound_spacing.calibrate_study`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

import cv2

from core.events import Notice, Progress
from core.io.base import StudyInfo, quote
from core.io.images import ImageSetError, ImageSetIndex, ImageSetSource, _decode
from core.io.registry import register_reader
from core.io.video.index import IMAGE_EXTENSIONS, looks_like_image

__all__ = ["StillImageReader"]


def _index(path: Path, height: int, width: int) -> ImageSetIndex:
    """The one-image index of ``path`` (an image set of one still, in its folder)."""
    return ImageSetIndex(str(path.parent), ".", None, (path.name,), (None,), height, width)


class StillImageReader:
    """Reader of one still image file (kind ``"image"``), a study of one frame."""

    name = "image"
    kinds = ("image",)
    description = "single still images (" + " ".join(sorted(IMAGE_EXTENSIONS)) + ")"

    def can_read(self, path: str | os.PathLike[str]) -> bool:
        """True for a file with an image suffix that starts like an image."""
        p = Path(path)
        try:
            return p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and looks_like_image(p)
        except OSError:
            return False

    def scan(self, path: str | os.PathLike[str]
             ) -> Generator[Progress | Notice, None, list[StudyInfo]]:
        """The still as one study of one frame (decoded once for its size).

        Yields
        ------
        Notice
            ``"info"``: the still has no pixel spacing (calibrate it for IMT in mm).

        Raises
        ------
        ImageSetError
            The file cannot be read or decoded (the message names it).
        """
        p = Path(path)
        yield Progress("scan", 0, 1, f"reading {p.name}")
        image = _decode(p, cv2.IMREAD_COLOR)
        h, w = (int(v) for v in image.shape[:2])
        digest = hashlib.sha256(b"layertune-image:")
        try:
            with open(p, "rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
        except OSError as exc:
            raise ImageSetError(f"The image {quote(p)} cannot be read ({exc.strerror}). "
                                f"File: {p}", p) from exc
        yield Progress("scan", 1, 1, f"read {p.name}")
        yield Notice(f"{quote(p)} has no pixel spacing: IMT is in pixels until a "
                     "calibration is set.", "info")
        meta: dict[str, Any] = {"file": p.name}
        return [StudyInfo(str(p), "image", p.stem or p.name, 1, h, w, 0.0, digest.hexdigest(),
                          meta=meta, index=_index(p, h, w).to_json())]

    def open(self, study: Any, *, index: str | None = None,
             cache_frames: int = 256) -> ImageSetSource:
        """An :class:`~core.io.images.ImageSetSource` of the one still.

        Raises
        ------
        ImageSetError
            The file is not there (or cannot be decoded when its size is not stored).
        """
        p = Path(study.path)
        if not p.is_file():
            raise ImageSetError(f"The image {quote(p)} was not found. File: {p}", p)
        text = index if index is not None else getattr(study, "index", None)
        if text:
            idx = ImageSetIndex.from_json(text)
            if idx.files != (p.name,) or idx.path != str(p.parent):  # moved or renamed
                idx = _index(p, idx.height, idx.width)
        else:
            h, w = _decode(p, cv2.IMREAD_COLOR).shape[:2]
            idx = _index(p, int(h), int(w))
        return ImageSetSource(idx, cache_frames)


register_reader(StillImageReader(), before="frames")
