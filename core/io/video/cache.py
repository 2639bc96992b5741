"""The frame cache a :class:`core.io.video.FrameSource` shares with its prefetch thread.

Nothing here is public. The reading thread and one background worker (each with its
own :class:`~core.io.video.decode.Decoder`) put decoded frames in one LRU cache; the
reader queues :class:`Job` s (frame ranges) for the worker and waits for a frame a
running job is about to produce rather than decoding it twice. The lock is held only
for dictionary work and frame copies, never while decoding, so the two decode in
parallel (OpenCV releases the GIL).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque

import cv2
import numpy as np

from core.io.video.decode import Cancelled, Decoder, Desync, Geometry, ReadStats
from core.io.video.index import VideoError, VideoInfo

_SPARE = 4  # evicted frames kept as decode buffers (fresh memory costs page faults)
_HOT = 2  # lone frames read back to back: each reuses the buffer of the one _HOT before


class Job:
    """Frames ``lo..hi`` for a prefetch worker to put in the cache."""

    __slots__ = ("lo", "hi", "cancelled", "done")

    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi
        self.cancelled = False
        self.done = False


class SharedCache:
    """The cache and the prefetch queue, shared by readers and workers.

    Every attribute is guarded by ``lock`` (``cond`` is bound to it): it is only held
    for dictionary work and frame copies, never while decoding.
    """

    def __init__(self, capacity: int) -> None:
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.capacity = capacity
        self.cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self.spare: list[np.ndarray] = []
        self.lone: deque[tuple[int, np.ndarray]] = deque()  # see take()
        self.pending: list[Job] = []  # nearest first
        self.active: list[Job] = []
        self.closed = False

    def put(self, k: int, bgr: np.ndarray, lone: bool = False) -> None:
        """Cache frame ``k`` (evicting the least recently used); lock held.

        ``lone``: a frame read alone, back to back, into a buffer from ``take(True)``.
        """
        if self.capacity == 0:
            return
        if k not in self.cache:  # a frame decoded twice is the same frame
            self.cache[k] = bgr
            if lone:
                self.lone.append((k, bgr))
        self.cache.move_to_end(k)
        while len(self.cache) > self.capacity:
            old = self.cache.popitem(last=False)[1]
            if len(self.spare) < _SPARE:
                self.spare.append(old)

    def take(self, recycle: bool = False) -> np.ndarray | None:
        """A buffer to decode a frame into whose pages are mapped, or None (new memory).

        With ``recycle`` (a lone frame read back to back), the buffer of the lone
        frame read ``_HOT`` such reads ago, evicted now if it is still cached: the
        cache does not grow, and the few buffers taken in turn stay in the CPU's cache
        and TLB, as the one buffer a plain read loop's allocator hands back does (a
        buffer unused for long costs twice as much to decode into). Otherwise an
        evicted frame's. Either way nothing else refers to it: cached frames never
        leave the cache (readers get copies), and it leaves the cache under the lock.
        """
        with self.lock:
            while recycle and len(self.lone) >= _HOT:
                k, buf = self.lone.popleft()
                if self.cache.get(k) is buf:  # else evicted already (maybe a spare)
                    del self.cache[k]
                    return buf
            return self.spare.pop() if self.spare else None

    def covering(self, k: int) -> Job | None:
        """The live job (running or queued) that will produce frame ``k``; lock held."""
        for job in (*self.active, *self.pending):
            if job.lo <= k <= job.hi and not job.cancelled:
                return job
        return None

    def cancel_outside(self, lo: int, hi: int) -> None:
        """Call off the jobs that do not overlap ``lo..hi``; lock held."""
        for job in (*self.active, *self.pending):
            if job.hi < lo or job.lo > hi:
                job.cancelled = True
        self.pending = [j for j in self.pending if not j.cancelled]


def prefetch_worker(shared: SharedCache, info: VideoInfo, geo: Geometry,
                    counts: ReadStats) -> None:
    """Prefetch loop: decode queued jobs into the cache until the source closes.

    Holds no reference to the FrameSource, so an unclosed source can still be
    collected (its finalizer then stops this thread). Failures are dropped: the
    reading thread decodes (and reports) whatever is missing.
    """
    decoder: Decoder | None = None

    def sink(k: int, bgr: np.ndarray) -> None:
        with shared.cond:
            if not shared.closed:
                shared.put(k, bgr)
                counts.prefetched += 1  # the reader's stats: no other thread writes this
            shared.cond.notify_all()

    try:
        while True:
            with shared.cond:
                while not shared.closed and not shared.pending:
                    shared.cond.wait()
                if shared.closed:
                    return
                job = shared.pending.pop(0)
                shared.active.append(job)

            def want(k: int, job: Job = job) -> bool:
                with shared.lock:
                    return not job.cancelled and k not in shared.cache

            try:
                if decoder is None:
                    decoder = Decoder(info, geo, ReadStats(), threads=1)
                decoder.decode(job.lo, job.hi, want, sink, shared.take,
                               cancelled=lambda job=job: job.cancelled or shared.closed)
            except (Desync, Cancelled, VideoError, cv2.error):
                if decoder is not None:
                    decoder.next = None
            finally:
                with shared.cond:
                    shared.active.remove(job)
                    job.done = True
                    shared.cond.notify_all()
    finally:
        if decoder is not None:
            decoder.close()


def release(shared: SharedCache, workers: list[threading.Thread],
            closers: list[object]) -> None:
    """Stop the workers, release decoders and cache (close() and the finalizer)."""
    with shared.cond:
        shared.closed = True
        for job in (*shared.active, *shared.pending):
            job.cancelled = True
        shared.pending.clear()
        shared.cond.notify_all()
    for t in workers:
        if t is not threading.current_thread():
            t.join(timeout=5.0)  # a worker stops within one seek
    for obj in closers:
        if obj is not None:
            obj.close()
    with shared.lock:
        shared.cache.clear()
        shared.spare.clear()
        shared.lone.clear()
