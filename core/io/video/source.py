"""Random access to the frames of a video or a folder of frames, exact and fast.

A :class:`FrameSource` is opened on a :class:`~core.io.video.index.VideoInfo` from the
import-time scan (:func:`~core.io.video.index.scan_video`). ``read(i)`` returns exactly
frame ``i`` of the sequential decode, which is what the GUI shows and what training
extracts, whatever order frames are asked in. Every frame decoded is checked against
the scan's fingerprint of that frame (see :mod:`core.io.video.decode`); a file changed
since its import raises :class:`VideoError` instead of showing another frame.

Against ``cap.set(CAP_PROP_POS_FRAMES, i); cap.read()``, which decodes from the
keyframe at or before ``i - 16`` on every call: the decoder's position is tracked
(stepping or jumping a little forward decodes only the frames in between); decoded
frames go to an LRU cache, decoded into evicted frames' buffers (new memory costs page
faults); a background thread keeps the block behind a viewer stepping backwards
decoded (:mod:`core.io.video.cache`); intra-only MJPEG files decode a far frame's JPEG
alone, and files without B-frames decode a cold jump from the keyframe at or before it
(:mod:`core.io.video.packets`: 0-11 frames where OpenCV's seek decodes 16-27 with a
keyframe every 12); other short-GOP files race a one-thread decoder against OpenCV's
frame threading (:class:`~core.io.video.race.SeekRace`), as does the GOP decoder on
more than two cores: which wins depends on the machine and its load.

What remains: files with B-frames (H.264 as cameras and ffmpeg write it) store
packets out of presentation order, so their cold jumps still decode from the
keyframe OpenCV's seek lands on and cost about what OpenCV's own seek costs; every
frame decoded costs its fingerprint check (~0.1 ms at 500 x 350), the price of
knowing it is the imported frame; stepping forward opens a new GOP fragment at the
end of each (~0.3 ms, amortised over growing fragments); and the race of the GOP
decoder with the plain seek on more than two cores has not been measured on such a
machine yet.
"""

from __future__ import annotations

import functools
import operator
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from core.io.video.cache import Job, SharedCache, prefetch_worker, release
from core.io.video.decode import SEEK_OVERHEAD, Decoder, Desync, Geometry, ReadStats, Sink, Take
from core.io.video.index import VideoError, VideoInfo, read_image
from core.io.video.packets import INTRA_COST, GopDecoder, IntraDecoder
from core.io.video.race import SeekRace

__all__ = ["FrameSource", "ReadStats"]

_MAX_BACK_BLOCK = 64  # frames per backward block (~0.3 s of decoding at 1080p)
_MIN_JOB = 16  # frames of the prefetch job nearest the viewer (each job costs a seek)
_JOBS = 1  # prefetch jobs queued or running at a time
_BURST_S = 0.015  # reads closer than this are back to back (a GUI key repeat is ~33 ms)
_STEP = 8  # a move back of at most this many frames is a step, not a jump
_SHORT_RUN = 32  # seeks decoding fewer frames than this on average: one decoder thread


class FrameSource:
    """Exact random access to the frames of a scanned video or frame folder.

    Thread-safe: threads may share a source (their reads are serialised).

    Parameters
    ----------
    info : VideoInfo
        From :func:`scan_video` (or :func:`open_source`).
    cache_frames : int
        Decoded frames kept (LRU), >= 0. At 500 x 350 a frame takes 0.5 MB.
    max_cache_bytes : int
        Upper bound on the cache's memory (1 GiB: 256 frames up to about 1080p).
    prefetch : bool
        When the viewer steps backwards, decode the frames behind it on a background
        thread with its own decoder. Needs a cache of >= 8 frames.
    """

    def __init__(self, info: VideoInfo, cache_frames: int = 256, *,
                 max_cache_bytes: int = 1 << 30, prefetch: bool = True) -> None:
        if info.kind not in ("video", "folder"):
            raise ValueError(f"unknown kind {info.kind!r}; use 'video' or 'folder'")
        if cache_frames < 0 or max_cache_bytes < 0:
            raise ValueError(f"cache_frames and max_cache_bytes must be >= 0, got "
                             f"{cache_frames} and {max_cache_bytes}")
        self.info = info
        self.stats = ReadStats()
        frame_bytes = max(1, info.height * info.width * 3)
        capacity = int(min(cache_frames, max_cache_bytes // frame_bytes))
        self._shared = SharedCache(capacity)
        self._io = threading.RLock()  # serialises readers: one decoder, one position
        self._geo = Geometry(info)
        self._back_block = max(1, min(_MAX_BACK_BLOCK, capacity // 4))
        self._budget = max(1, capacity // 2)  # a block never evicts itself
        # one worker: it keeps well ahead of a viewer stepping at 25-30 frames/s, and on
        # a busy machine more would only decode further ahead than the viewer goes
        self._n_workers = 1 if prefetch and info.kind == "video" and capacity >= 8 else 0
        self._window = _JOBS * self._back_block  # frames kept decoded behind the viewer
        self._workers: list[threading.Thread] = []
        self._last: int | None = None  # last index asked for
        self._t_last = 0.0  # when the last read returned (perf_counter seconds)
        self._decoder: Decoder | None = None
        self._plain: Decoder | None = None  # OpenCV's default threading, short GOPs only
        # which serves cold jumps: the plain one (a plain read loop's) unless the other
        # is clearly cheaper. The one-thread one is measured first: it warms up in 3
        # jumps, the plain one in 12 (as a plain loop's does), also after a switch
        self._race = SeekRace(warmup=(3, 12), settle=(1, 12), prefer=1, margin=0.05)
        self._intra: IntraDecoder | None = None
        self._gop: GopDecoder | None = None  # cold jumps from the keyframe before them
        self._gop_race: SeekRace | None = None  # it (0) or the plain seek (1), see below
        self._closers: list[object] = []
        self._finalizer = weakref.finalize(self, release, self._shared, self._workers,
                                           self._closers)
        if info.kind == "folder":
            if not Path(info.path).is_dir():
                raise VideoError(f"The frame folder \u201c{Path(info.path).name}\u201d was "
                                 f"not found. Folder: {info.path}", info.path)
            return
        threads = 1 if self._geo.typical_seek_run() < _SHORT_RUN else 0
        self._decoder = Decoder(info, self._geo, self.stats, threads=threads)
        self._closers.append(self._decoder)
        size = self._decoder.size()
        if min(size) > 0 and size != (info.height, info.width):
            self.close()
            raise VideoError(f"The video \u201c{Path(info.path).name}\u201d is now "
                             f"{size[1]}x{size[0]}, not {info.width}x{info.height} as when it "
                             f"was imported; it has been replaced. File: {info.path}",
                             info.path)
        self._intra = IntraDecoder.probe(info, self._geo, self.stats)
        self._closers.append(self._intra)
        if self._intra is None:
            self._gop = GopDecoder.probe(info, self._geo, self.stats)
            self._closers.append(self._gop)
        if threads == 1 and self._intra is None:
            self._plain = Decoder(info, self._geo, self.stats, threads=0)
            self._closers.append(self._plain)
        if self._gop is not None and self._plain is not None and _cores() > 2:
            # the GOP decoder decodes ~3x fewer frames on one thread; with more than
            # two cores OpenCV's frame threading might still decode a seek's faster
            # (large frames), so there it is measured as well (on two it gains < 1.3x)
            self._gop_race = SeekRace(warmup=(1, 12), settle=(1, 12), prefer=0,
                                      margin=0.05)

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
        with self._io:
            frame = self._fetch(i, keep=True)
            self._plan(i)
            self._t_last = time.perf_counter()
        return frame

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
        with self._io:
            for k in sorted(set(idx)):
                frames[k] = self._fetch(k, keep=False)
        shapes = {f.shape for f in frames.values()}
        if len(shapes) > 1:
            raise ValueError(f"frames of \u201c{Path(self.info.path).name}\u201d differ in "
                             f"size {sorted(shapes)}; read them one at a time")
        shape = shapes.pop() if shapes else (self.info.height, self.info.width, 3)
        out = np.empty((len(idx), *shape), np.uint8)
        for j, k in enumerate(idx):
            out[j] = frames[k]
        return out

    def close(self) -> None:
        """Stop the prefetch threads, release the decoders and the cache; later reads
        raise ``ValueError``."""
        with self._io:
            self._finalizer()

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

    def _fetch(self, i: int, keep: bool) -> np.ndarray:
        """Frame ``i`` as a new RGB array; ``keep``: cache what is decoded."""
        shared = self._shared
        with shared.cond:
            if shared.closed:
                raise ValueError(f"the frame source of {self.info.path} is closed")
            frame = self._hit(i)
            if frame is not None:
                self.stats.hits += 1
                return frame
            self.stats.misses += 1
            job = shared.covering(i)
            if job is not None and job in shared.pending:
                job.cancelled = True  # not started: this thread decodes it sooner
                shared.pending.remove(job)
            elif job is not None:  # a worker is on it: wait rather than decode it twice
                while not job.done and not shared.closed:
                    shared.cond.wait(0.25)
                    frame = self._hit(i)
                    if frame is not None:
                        self.stats.waits += 1
                        return frame
                if shared.closed:
                    raise ValueError(f"the frame source of {self.info.path} is closed")
        if self.info.kind == "folder":
            bgr = read_image(Path(self.info.path) / self.info.files[i])
            return self._keep(i, bgr, i) if keep else _rgb(bgr, own=True)
        return self._decode(i, keep)

    def _hit(self, i: int) -> np.ndarray | None:
        """An RGB copy of cached frame ``i``, or None; call with the lock held."""
        frame = self._shared.cache.get(i)
        if frame is None:
            return None
        self._shared.cache.move_to_end(i)
        # converted under the lock: an evicted frame becomes a decode buffer
        return _rgb(frame, own=False)

    def _keep(self, k: int, bgr: np.ndarray, target: int, lone: bool = False
              ) -> np.ndarray | None:
        """Cache frame ``k``; return an RGB copy if it is ``target``."""
        with self._shared.lock:
            self._shared.put(k, bgr, lone)
            return _rgb(bgr, own=False) if k == target else None

    def _choose(self, lo: int, hi: int) -> tuple[Decoder, int | None]:
        """The decoder for frames ``lo..hi``, and its race candidate when the read is a
        cold jump to time (both decoders would seek)."""
        one, plain = self._decoder, self._plain
        if plain is None or not one.needs_seek(lo):
            return one, None
        if not plain.needs_seek(lo):
            return plain, None
        if lo != hi:  # a block: the faster decoder, untimed (its frames cost more each)
            return (one, plain)[self._race.best()], None
        k = self._race.pick()
        self.stats.plain += k
        return (one, plain)[k], k

    def _decode(self, i: int, keep: bool) -> np.ndarray:
        decoder = self._decoder
        lo = i
        if keep and self._last is not None and 0 < self._last - i <= _STEP:
            # stepping back: cache the frames behind i as well. A viewer that paused
            # gets the frames this seek decodes anyway (no extra latency) and the worker
            # starts on the ones behind; a caller reading back to back has no pauses to
            # hide work in, so one long pass (fewest decodes) serves it best.
            if self._n_workers and time.perf_counter() - self._t_last > _BURST_S:
                lo = max(self._geo.free_start(i), i - self._back_block + 1)
                with self._shared.cond:
                    self._queue(lo - 1, i)
            else:
                lo = self._geo.block_start(i, self._back_block, self._budget)
        if lo == i and self._intra is not None and (
                decoder.next is None or not 0 <= i - decoder.next <= INTRA_COST):
            try:
                bgr = self._intra.read(i)
                return self._keep(i, bgr, i) if keep else _rgb(bgr, own=True)
            except (Desync, cv2.error, OSError):
                self._intra.close()  # not usable for this file after all
                self._intra = None
        out: list[np.ndarray] = []
        take: Take | None = None
        if keep:
            def want(k: int) -> bool:
                if k == i:
                    return True
                with self._shared.lock:
                    return k not in self._shared.cache

            # a lone frame read back to back is decoded into a recently used buffer
            # (see SharedCache.take): new memory costs page faults (~0.3 ms a frame on
            # a virtual machine) and a long unused buffer cache misses, more than the
            # cache saves a caller that is not stepping; one that pauses can afford it
            recycle = lo == i and time.perf_counter() - self._t_last <= _BURST_S

            def sink(k: int, bgr: np.ndarray) -> None:
                copy = self._keep(k, bgr, i, recycle)
                if copy is not None:
                    out.append(copy)

            take = functools.partial(self._shared.take, recycle)
        else:
            def want(k: int) -> bool:
                return True

            def sink(k: int, bgr: np.ndarray) -> None:
                out.append(_rgb(bgr, own=True))
        if lo == i and self._gop is not None and self._via_gop(i, want, sink, take):
            return out[-1]
        decoder, timed = self._choose(lo, i)
        t0 = time.perf_counter()
        decoder.read_range(lo, i, want, sink, take)
        if timed is not None:
            self._race.record(timed, time.perf_counter() - t0,
                              self._geo.seek_cost(i) - SEEK_OVERHEAD + 1)
        return out[-1]

    def _via_gop(self, i: int, want: Callable[[int], bool], sink: Sink, take: Take | None
                 ) -> bool:
        """Serve lone frame ``i`` as :meth:`_decode` would if the GOP decoder reaches it
        in fewer decodes than the others: True if served so.

        On a cold jump (all would seek) with a race, the race picks it or the plain
        seek. Its first failure turns it off for the file (False: not served).
        """
        gop, one, plain = self._gop, self._decoder, self._plain
        others = [d for d in (one, plain) if d is not None]
        if gop.cost(i) >= min(d.cost(i) for d in others):
            return False
        race = self._gop_race if gop.needs_seek(i) and all(
            d.needs_seek(i) for d in others) else None
        k = race.pick() if race is not None else 0
        t0 = time.perf_counter()
        if k == 1:
            self.stats.plain += 1
            plain.read_range(i, i, want, sink, take)
        else:
            try:
                gop.decode(i, i, want, sink, take)
            except (Desync, cv2.error, OSError):
                gop.close()  # not usable for this file after all
                self._gop = self._gop_race = None
                return False
        if race is not None:
            race.record(k, time.perf_counter() - t0,
                        self._geo.seek_cost(i) - SEEK_OVERHEAD + 1)
        return True

    # -- prefetch -----------------------------------------------------------------------

    def _plan(self, i: int) -> None:
        """After reading ``i``: keep the frames behind a backward-stepping viewer queued
        for the worker; call off jobs the viewer has moved away from."""
        last, self._last = self._last, i
        if not self._n_workers or last is None or last == i:
            return
        with self._shared.cond:
            if 0 < last - i <= _STEP:
                self._shared.cancel_outside(i - self._window, last)
                self._queue(i - 1, i)
            else:  # a jump or a step forward
                self._shared.cancel_outside(i - self._window, i + _STEP)

    def _queue(self, top: int, viewer: int) -> None:
        """Queue jobs for the frames from ``top`` down to ``viewer - window`` that are
        neither cached nor queued (at most ``_JOBS`` outstanding); lock held."""
        shared = self._shared
        j, floor = top, max(0, viewer - self._window)
        queued = len(shared.pending) + len(shared.active)
        while j >= floor and queued < _JOBS:
            if j in shared.cache:
                j -= 1
                continue
            job = shared.covering(j)
            if job is None:  # small jobs near the viewer: a job's top frame comes last
                size = min(self._back_block, max(_MIN_JOB, viewer - j))
                job = Job(self._geo.block_start(j, size, self._budget), j)
                shared.pending.append(job)
                queued += 1
                shared.cond.notify()
            j = job.lo - 1
        self._start_workers()

    def _start_workers(self) -> None:
        while len(self._workers) < self._n_workers:
            t = threading.Thread(target=prefetch_worker,
                                 name=f"frame-prefetch-{len(self._workers)}",
                                 args=(self._shared, self.info, self._geo, self.stats),
                                 daemon=True)
            self._workers.append(t)
            t.start()


def _cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _rgb(bgr: np.ndarray, own: bool) -> np.ndarray:
    """RGB version of a BGR frame: in place if ``own`` (nobody else holds it)."""
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=bgr if own else None)
