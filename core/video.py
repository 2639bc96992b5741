"""Random access to the frames of a video or a folder of frames, exact and fast.

A :class:`FrameSource` is opened on a :class:`~core.video_index.VideoInfo` from the
import-time scan (:func:`~core.video_index.scan_video`). ``read(i)`` returns exactly
frame ``i`` of the sequential decode, which is what the GUI shows and what training
extracts, whatever order frames are asked in.

Where it beats ``cap.set(CAP_PROP_POS_FRAMES, i); cap.read()``: OpenCV's FFmpeg
seek jumps to the keyframe at or before ``i - 16`` and decodes forward, so every call
decodes 17 to 16 + GOP frames, even when the decoder already stands just before ``i``.
Here the decoder's position is tracked and it only seeks when grabbing forward would
cost more than the seek (estimated from the keyframe index); decoded frames go to an
LRU cache; and stepping backwards (a miss just behind the last frame read) decodes a
block of up to 64 frames behind it in one forward pass, so the following steps back
are cache hits. No seek can land closer than OpenCV's ``i - 16`` rule allows, so a
jump to a random, far frame costs about what OpenCV's own seek costs.

Every frame decoded is checked against the scan's fingerprint of that frame. On a
mismatch (an inexact seek, a file without an index) the reader seeks further back,
then decodes from the start, and raises :class:`VideoError` only if even the
sequential decode disagrees (the file changed since it was imported).
"""

from __future__ import annotations

import bisect
import operator
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .video_index import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    VideoError,
    VideoInfo,
    content_hash,
    frame_files,
    frame_fingerprint,
    is_video_path,
    natural_key,
    open_capture,
    read_image,
    recent_scan,
    scan_video,
)

__all__ = [
    "IMAGE_EXTENSIONS", "VIDEO_EXTENSIONS", "FrameSource", "ReadStats", "VideoError",
    "VideoInfo", "content_hash", "frame_files", "is_video_path", "natural_key",
    "open_source", "read_frames", "recent_scan", "scan_video",
]

_SEEK_BACKOFF = 16  # OpenCV's FFmpeg seek lands on the keyframe at or before i - 16
_SEEK_OVERHEAD = 4  # fixed cost of a seek in frame decodes (~0.5 ms vs ~0.16 ms/frame)
_MAX_BACK_BLOCK = 64  # frames decoded behind a backward miss (~0.3 s hitch at 1080p)


@dataclass
class ReadStats:
    """Counters of a :class:`FrameSource`: cache hits and misses, decoder work."""

    hits: int = 0
    misses: int = 0
    seeks: int = 0
    grabs: int = 0  # frames decoded
    retrieves: int = 0  # decoded frames converted to pixels


class _Desync(Exception):
    """The decoder is not where it was thought to be; try a safer way."""


class FrameSource:
    """Exact random access to the frames of a scanned video or frame folder.

    Thread-compatible: one lock guards the decoder and the cache, so threads may share
    a source (their reads are serialised).

    Parameters
    ----------
    info : VideoInfo
        From :func:`scan_video` (or :func:`open_source`).
    cache_frames : int
        Decoded frames kept (LRU), >= 0. At 500 x 350 a frame takes 0.5 MB.
    max_cache_bytes : int
        Upper bound on the cache's memory (1 GiB: 256 frames up to about 1080p).
    """

    def __init__(self, info: VideoInfo, cache_frames: int = 256, *,
                 max_cache_bytes: int = 1 << 30) -> None:
        if info.kind not in ("video", "folder"):
            raise ValueError(f"unknown kind {info.kind!r}; use 'video' or 'folder'")
        if cache_frames < 0 or max_cache_bytes < 0:
            raise ValueError(f"cache_frames and max_cache_bytes must be >= 0, got "
                             f"{cache_frames} and {max_cache_bytes}")
        self.info = info
        self.stats = ReadStats()
        frame_bytes = max(1, info.height * info.width * 3)
        self._capacity = int(min(cache_frames, max_cache_bytes // frame_bytes))
        self._spare: list[np.ndarray] = []  # evicted frames, reused as decode buffers
        self._back_block = max(1, min(_MAX_BACK_BLOCK, self._capacity // 4))
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.RLock()
        self._last: int | None = None  # last index asked for
        self._cap: cv2.VideoCapture | None = None
        self._next: int | None = None  # index the next grab() yields; None: unknown
        self._verify_next = False  # check the next grab's pts (right after a seek)
        self._closed = False
        self._pts_index: dict[float, int] | None = None
        if info.kind == "folder":
            if not Path(info.path).is_dir():
                raise VideoError(f"The frame folder \u201c{Path(info.path).name}\u201d was "
                                 f"not found. Folder: {info.path}", info.path)
            return
        index = {p: i for i, p in enumerate(info.pts)}
        if len(index) == info.n_frames:  # usable only when every frame's pts is unique
            self._pts_index = index
        self._open()
        size = (int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)))
        if min(size) > 0 and size != (info.height, info.width):
            self.close()
            raise VideoError(f"The video \u201c{Path(info.path).name}\u201d is now "
                             f"{size[1]}x{size[0]}, not {info.width}x{info.height} as when it "
                             f"was imported; it has been replaced. File: {info.path}",
                             info.path)

    # -- public ---------------------------------------------------------------------

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return self.info.n_frames

    @property
    def fps(self) -> float:
        """Frames per second; 0.0 when unknown (folders)."""
        return self.info.fps

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) in pixels (of frame 0 for a folder)."""
        return self.info.height, self.info.width

    def __len__(self) -> int:
        return self.info.n_frames

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` as a new (H, W, 3) uint8 RGB array the caller owns.

        Raises
        ------
        IndexError
            ``index`` outside ``0 .. n_frames - 1``.
        VideoError
            The frame cannot be decoded, or differs from the imported one.
        """
        i = self._check_index(index)
        with self._lock:
            bgr = self._get(i, keep=True)
            self._last = i
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)  # cached frames are never written

    def read_many(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Frames ``indices`` (any order, repeats allowed) in one forward pass.

        Returns an (N, H, W, 3) uint8 RGB array in the order of ``indices``. Frames read
        here do not enter the cache (a training extraction would flush a viewer's).

        Raises
        ------
        IndexError, TypeError
            An index out of range, or not an integer.
        ValueError
            Folder frames of different sizes (read them one at a time).
        """
        arr = np.asarray(indices).ravel()
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"frame indices must be integers, got {arr.dtype}")
        idx = [self._check_index(int(k)) for k in arr]
        frames: dict[int, np.ndarray] = {}
        with self._lock:
            for k in sorted(set(idx)):
                frames[k] = self._get(k, keep=False)
        shapes = {f.shape for f in frames.values()}
        if len(shapes) > 1:
            raise ValueError(f"frames of \u201c{Path(self.info.path).name}\u201d differ in "
                             f"size {sorted(shapes)}; read them one at a time")
        shape = shapes.pop() if shapes else (self.info.height, self.info.width, 3)
        out = np.empty((len(idx), *shape), np.uint8)
        for j, k in enumerate(idx):
            cv2.cvtColor(frames[k], cv2.COLOR_BGR2RGB, dst=out[j])
        return out

    def close(self) -> None:
        """Release the decoder and the cache; later reads raise ``ValueError``."""
        with self._lock:
            self._closed = True
            if self._cap is not None:
                self._cap.release()
                self._cap = None
            self._cache.clear()
            self._spare.clear()

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- cache and dispatch -----------------------------------------------------------

    def _check_index(self, index: int) -> int:
        i = operator.index(index)
        if not 0 <= i < self.info.n_frames:
            raise IndexError(f"frame {i} is outside 0..{self.info.n_frames - 1} of "
                             f"\u201c{Path(self.info.path).name}\u201d")
        return i

    def _get(self, i: int, keep: bool) -> np.ndarray:
        if self._closed:
            raise ValueError(f"the frame source of {self.info.path} is closed")
        bgr = self._cache.get(i)
        if bgr is not None:
            self._cache.move_to_end(i)
            self.stats.hits += 1
            return bgr
        self.stats.misses += 1
        if self.info.kind == "folder":
            bgr = read_image(Path(self.info.path) / self.info.files[i])
            if keep:
                self._put(i, bgr)
            return bgr
        lo = i
        if (keep and self._back_block > 1 and self._last is not None
                and 0 < self._last - i <= self._back_block):
            lo = self._block_start(i)  # stepping back: fill the cache behind i
        return self._decode(lo, i, keep)

    def _put(self, i: int, bgr: np.ndarray) -> None:
        if self._capacity == 0:
            return
        self._cache[i] = bgr
        self._cache.move_to_end(i)
        while len(self._cache) > self._capacity:
            old = self._cache.popitem(last=False)[1]
            if len(self._spare) < 2:  # fresh memory costs page faults (~0.15 ms/frame)
                self._spare.append(old)

    def _key_before(self, i: int) -> int:
        keys = self.info.keyframes
        j = bisect.bisect_right(keys, i) - 1
        return keys[j] if j >= 0 else 0

    def _seek_cost(self, i: int) -> int:
        """Frames OpenCV decodes to seek to ``i``, plus the seek's own cost."""
        if i == 0:
            return _SEEK_OVERHEAD
        start = max(0, i - _SEEK_BACKOFF)
        landing = self._key_before(start) if self.info.keyframes else start
        return i - landing + _SEEK_OVERHEAD

    def _block_start(self, i: int) -> int:
        lo = max(0, i - self._back_block + 1)
        budget = max(1, self._capacity // 2)  # a block never evicts itself
        if lo < _SEEK_BACKOFF:  # a seek there lands on frame 0 anyway
            return 0 if i + 1 <= budget else lo
        # a seek to lo decodes from the keyframe K at or before lo - 16: those frames
        # cost nothing more than their conversion, so start the block at K + 16
        aligned = self._key_before(lo - _SEEK_BACKOFF) + _SEEK_BACKOFF
        return aligned if i - aligned + 1 <= budget else lo

    # -- decoder ------------------------------------------------------------------------

    def _open(self) -> None:
        if self._cap is not None:
            self._cap.release()
        self._cap = open_capture(self.info.path)
        self._next = 0  # a fresh decoder is exactly the scan's sequential decode
        self._verify_next = False

    def _decode(self, lo: int, hi: int, keep: bool) -> np.ndarray:
        """Decode frames ``lo..hi``; cache them if ``keep``; return frame ``hi`` (BGR)."""
        reason = ""
        for attempt in range(3):
            try:
                return self._decode_once(lo, hi, keep, attempt)
            except _Desync as exc:
                reason = str(exc)
                self._next = None
            except cv2.error as exc:
                reason = f"decoder error: {exc}"
                self._next = None
        name = Path(self.info.path).name
        if reason == "mismatch":
            raise VideoError(f"Frame {hi} of \u201c{name}\u201d is not the frame that was "
                             "indexed when the video was imported: the file has been changed "
                             f"or replaced since. Import it again. File: {self.info.path}",
                             self.info.path)
        raise VideoError(f"Frame {hi} of \u201c{name}\u201d cannot be decoded any more "
                         f"({reason}); the file may have been changed, moved or damaged "
                         f"since it was imported. File: {self.info.path}", self.info.path)

    def _decode_once(self, lo: int, hi: int, keep: bool, attempt: int) -> np.ndarray:
        cap = self._cap
        if cap is None:
            raise _Desync("decoder closed")
        nxt = self._next
        if attempt == 2:
            self._open()  # last resort: the sequential decode itself
            cap = self._cap
        elif attempt == 1 or nxt is None or nxt > lo or lo - nxt > self._seek_cost(lo):
            # attempt 1 starts well before lo, for seeks that land late or inexactly
            self._seek(max(0, lo - 4 * _SEEK_BACKOFF) if attempt == 1 else lo)
        while True:
            k = self._grab()
            if k > hi:
                raise _Desync("seek overshot")
            if k < lo or (k < hi and k in self._cache):
                continue
            ok, bgr = cap.retrieve(self._spare.pop()) if keep and self._spare else cap.retrieve()
            self.stats.retrieves += 1
            if not ok or bgr is None:
                raise _Desync("no pixels")
            prints = self.info.fingerprints
            if prints and frame_fingerprint(bgr) != prints[k]:
                raise _Desync("mismatch")
            if keep:
                self._put(k, bgr)
            if k == hi:
                return bgr

    def _seek(self, i: int) -> None:
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, i)
        self.stats.seeks += 1
        self._next = i
        self._verify_next = True

    def _grab(self) -> int:
        """Decode the next frame without converting it; return its index."""
        k = self._next
        if k is None or not self._cap.grab():
            raise _Desync("end of data")
        self.stats.grabs += 1
        if self._verify_next:  # where did the seek really land?
            self._verify_next = False
            if self._pts_index is not None:
                k = self._pts_index.get(float(self._cap.get(cv2.CAP_PROP_PTS)))
                if k is None:
                    raise _Desync("unknown position")
        self._next = k + 1
        return k


def _scan_cached(path: str | os.PathLike[str]) -> VideoInfo:
    info = recent_scan(path)
    if info is None:
        gen = scan_video(path)
        while True:
            try:
                next(gen)
            except StopIteration as stop:
                info = stop.value
                break
    return info


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
