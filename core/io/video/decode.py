"""Decoders over OpenCV's FFmpeg backend that know which frame they stand on.

These are the workers behind :class:`core.io.video.FrameSource`; nothing here is public.

OpenCV's only way to move a decoder is ``cap.set(CAP_PROP_POS_FRAMES, a)``, and it
always does the same thing: seek the demuxer to the keyframe at or before ``a - 16``
(the *landing*), decode forward to ``a - 1`` without handing those frames out, and
leave ``a`` as the next frame. :class:`Geometry` predicts that from the scan's keyframe
index, so a caller knows what a seek costs and which frames come "for free" after it:
every frame from ``landing + 16`` up to ``a`` has the same landing.

:class:`Decoder` tracks its position (checked after every seek with the presentation
time) and checks each frame it hands out against the scan's fingerprint, so what it
returns is the sequential decode or an exception, never a neighbouring frame.

:mod:`core.io.video.packets` holds the decoders that read compressed packets
instead (:class:`~core.io.video.packets.IntraDecoder`,
:class:`~core.io.video.packets.GopDecoder`).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.io.video.index import VideoError, VideoInfo, frame_fingerprint, open_capture

SEEK_BACKOFF = 16  # OpenCV's FFmpeg seek lands on the keyframe at or before a - 16
SEEK_OVERHEAD = 4  # fixed cost of a seek in frame decodes (demuxer seek + decoder flush)


@dataclass
class ReadStats:
    """Counters of a :class:`~core.io.video.FrameSource`.

    ``hits`` / ``misses``: reads found in the cache or not; ``waits``: misses that were
    served by waiting for the prefetcher; ``seeks``, ``grabs`` (frames decoded) and
    ``retrieves`` (decoded frames converted to pixels): the reading thread's decoders;
    ``intra``: frames decoded alone (intra-only files); ``gop``: cold jumps decoded
    from the keyframe at or before the frame
    (:class:`~core.io.video.packets.GopDecoder` fragments; their frames count as
    grabs); ``prefetched``: frames the background prefetcher put in the cache;
    ``plain``: cold jumps served by the plain decoder (OpenCV's own threading, as a
    plain ``set``-and-``read`` has it).
    """

    hits: int = 0
    misses: int = 0
    seeks: int = 0
    grabs: int = 0
    retrieves: int = 0
    waits: int = 0
    intra: int = 0
    gop: int = 0
    prefetched: int = 0
    plain: int = 0


class Desync(Exception):
    """The decoder is not where it was thought to be, or gave other pixels."""


class Cancelled(Exception):
    """A prefetch job was called off."""


class Geometry:
    """Where OpenCV's seeks land in one video, from the scan's keyframe index."""

    def __init__(self, info: VideoInfo) -> None:
        self.n_frames = info.n_frames
        self.keys = list(info.keyframes) or [0]
        index = {p: i for i, p in enumerate(info.pts)}
        # usable only when every frame's presentation time is unique
        self.pts_index = index if len(index) == info.n_frames else None

    def key_before(self, i: int) -> int:
        """The keyframe at or before ``i``."""
        j = bisect.bisect_right(self.keys, i) - 1
        return self.keys[j] if j >= 0 else 0

    def key_after(self, i: int) -> int:
        """The first keyframe after ``i``; ``n_frames`` when there is none."""
        j = bisect.bisect_right(self.keys, i)
        return self.keys[j] if j < len(self.keys) else self.n_frames

    def landing(self, a: int) -> int:
        """First frame decoded after ``set(POS_FRAMES, a)``."""
        return 0 if a <= 1 else self.key_before(max(0, a - SEEK_BACKOFF))

    def seek_cost(self, a: int) -> int:
        """Frame decodes a seek to ``a`` costs before frame ``a`` itself, plus overhead."""
        return a - self.landing(a) + SEEK_OVERHEAD

    def free_start(self, a: int) -> int:
        """Smallest ``a'`` whose seek lands where a seek to ``a`` does: frames
        ``a' .. a`` cost a seek to ``a`` plus their conversion, nothing more."""
        land = self.landing(a)
        return 0 if land == 0 else land + SEEK_BACKOFF

    def block_start(self, hi: int, size: int, budget: int) -> int:
        """Start of a block of about ``size`` frames ending at ``hi``, extended back to
        :meth:`free_start` when that keeps it within ``budget`` frames."""
        lo = max(0, hi - size + 1)
        free = self.free_start(lo)
        return free if hi - free + 1 <= budget else lo

    def typical_seek_run(self) -> float:
        """Mean frames a seek to a random frame decodes (the GOP shapes it)."""
        gaps = np.diff([*self.keys, self.n_frames]) if self.n_frames else np.ones(1)
        # a random target lands mid-GOP on average: weight each GOP by its length
        return float(SEEK_BACKOFF + np.sum(gaps.astype(float) ** 2) / max(1, 2 * gaps.sum()))


Take = Callable[[], "np.ndarray | None"]
Sink = Callable[[int, np.ndarray], None]


class FrameDecoder:
    """A capture that yields frames in order and knows which one comes next.

    The common part of :class:`Decoder` and :class:`~core.io.video.packets.GopDecoder`:
    subclasses say how to get to a frame (:meth:`_position`, :meth:`needs_seek`) and
    what it costs (:meth:`cost`). Not thread-safe: each thread has its own.
    """

    info: VideoInfo
    geo: Geometry
    stats: ReadStats
    cap: cv2.VideoCapture | None
    next: int | None  # index the next grab() yields; None: unknown

    def needs_seek(self, i: int) -> bool:
        """Whether reaching ``i`` is cheaper by moving the decoder than by decoding
        forward from where it stands."""
        raise NotImplementedError

    def cost(self, i: int) -> int:
        """Frame decodes a read of ``i`` alone costs, fixed overheads included."""
        raise NotImplementedError

    def _position(self, lo: int, attempt: int) -> None:
        """Make sure the frames up to ``lo`` are next (a seek when :meth:`needs_seek`)."""
        raise NotImplementedError

    def _grab(self) -> int:
        """Decode the next frame without converting it; return its index."""
        raise NotImplementedError

    def decode(self, lo: int, hi: int, want: Callable[[int], bool], sink: Sink,
               take: Take | None = None, *, attempt: int = 0,
               cancelled: Callable[[], bool] | None = None) -> None:
        """Decode so frames ``lo..hi`` pass by; raises :class:`Desync` or
        :class:`Cancelled`.

        ``want(k)`` is asked once per frame ``k`` in ``lo..hi``; wanted frames are
        converted (into ``take()``'s buffer when it gives one), checked against the
        scan and passed to ``sink(k, bgr)`` as (H, W, 3) uint8 BGR arrays it then owns.
        """
        self._position(lo, attempt)
        prints = self.info.fingerprints
        while True:
            if cancelled is not None and cancelled():
                raise Cancelled
            k = self._grab()
            if k > hi:
                raise Desync("seek overshot")
            if k < lo or not want(k):
                if k == hi:
                    return
                continue
            buf = take() if take is not None else None
            ok, bgr = self.cap.retrieve(buf) if buf is not None else self.cap.retrieve()
            self.stats.retrieves += 1
            if not ok or bgr is None:
                raise Desync("no pixels")
            if prints and frame_fingerprint(bgr) != prints[k]:
                raise Desync("mismatch")
            sink(k, bgr)
            if k == hi:
                return


class Decoder(FrameDecoder):
    """One ``cv2.VideoCapture`` on a scanned video, and the frame it stands on.

    Moves by OpenCV's seek. Not thread-safe: each thread has its own.
    """

    def __init__(self, info: VideoInfo, geometry: Geometry, stats: ReadStats, *,
                 threads: int = 0) -> None:
        self.info = info
        self.geo = geometry
        self.stats = stats
        self.threads = threads
        self.cap = None
        self.next = None
        self._verify_next = False  # check the next grab's pts (right after a seek)
        self.open()

    def open(self) -> None:
        """(Re)open the file: a fresh decoder is exactly the scan's sequential decode."""
        self.close()
        self.cap = open_capture(self.info.path, threads=self.threads)
        self.next = 0
        self._verify_next = False

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None
        self.next = None

    def size(self) -> tuple[int, int]:
        """(height, width) the decoder reports, (0, 0) when unknown."""
        return (int(self.cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                int(self.cap.get(cv2.CAP_PROP_FRAME_WIDTH)))

    def needs_seek(self, i: int) -> bool:
        nxt = self.next
        return nxt is None or nxt > i or i - nxt > self.geo.seek_cost(i)

    def cost(self, i: int) -> int:
        return 1 + (self.geo.seek_cost(i) if self.needs_seek(i) else i - self.next)

    def read_range(self, lo: int, hi: int, want: Callable[[int], bool], sink: Sink,
                   take: Take | None = None) -> None:
        """Decode so frames ``lo..hi`` pass by; hand each wanted one to ``sink``.

        Retries from further back, then from the start of the file; raises
        :class:`VideoError` when even the sequential decode disagrees with the scan.
        """
        reason = ""
        for attempt in range(3):
            try:
                self.decode(lo, hi, want, sink, take, attempt=attempt)
                return
            except Desync as exc:
                reason = str(exc)
                self.next = None
            except cv2.error as exc:
                reason = f"decoder error: {exc}"
                self.next = None
        name, path = Path(self.info.path).name, self.info.path
        if reason == "mismatch":
            raise VideoError(f"Frame {hi} of \u201c{name}\u201d is not the frame that was "
                             "indexed when the video was imported: the file has been changed "
                             f"or replaced since. Import it again. File: {path}", path)
        raise VideoError(f"Frame {hi} of \u201c{name}\u201d cannot be decoded any more "
                         f"({reason}); the file may have been changed, moved or damaged "
                         f"since it was imported. File: {path}", path)

    def _position(self, lo: int, attempt: int) -> None:
        if self.cap is None:
            raise Desync("decoder closed")
        if attempt == 2:
            self.open()  # last resort: the sequential decode itself
        elif attempt == 1 or self.needs_seek(lo):
            # attempt 1 starts well before lo, for seeks that land late or inexactly
            self._seek(max(0, lo - 4 * SEEK_BACKOFF) if attempt == 1 else lo)

    def _seek(self, i: int) -> None:
        self.cap.set(cv2.CAP_PROP_POS_FRAMES, i)
        self.stats.seeks += 1
        self.next = i
        self._verify_next = True

    def _grab(self) -> int:
        k = self.next
        if k is None or not self.cap.grab():
            raise Desync("end of data")
        self.stats.grabs += 1
        if self._verify_next:  # where did the seek really land?
            self._verify_next = False
            if self.geo.pts_index is not None:
                k = self.geo.pts_index.get(float(self.cap.get(cv2.CAP_PROP_PTS)))
                if k is None:
                    raise Desync("unknown position")
        self.next = k + 1
        return k
