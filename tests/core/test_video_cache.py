"""FrameSource's cache memory: buffers are reused, never while anything still refers to them."""

from __future__ import annotations

import time
from itertools import combinations
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.events import drain
from core.io.video import FrameSource, scan_video
from core.io.video.cache import _HOT, SharedCache
from core.io.video.source import _BURST_S, _STEP

N = 80
SIZE = (48, 64)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """An mp4v clip (a keyframe every 12 frames), its frames (RGB) and its scan."""
    path = Path(tmp_path_factory.mktemp("cache")) / "clip.mp4"
    h, w = SIZE
    rng = np.random.default_rng(7)
    tex = cv2.GaussianBlur(rng.integers(0, 256, (2 * h, 2 * w, 3), dtype=np.uint8), (0, 0), 2)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (w, h))
    assert writer.isOpened()
    for i in range(N):
        frame = np.roll(tex, (i, 2 * i), (0, 1))[:h, :w].copy()
        cv2.putText(frame, str(i), (4, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
        writer.write(frame)
    writer.release()
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
    cap.release()
    assert len(frames) == N
    return frames, drain(scan_video(path))


def _jumps(n: int, seed: int) -> list[int]:
    """Random frames, none a short step back from the one before (those read blocks)."""
    rng = np.random.default_rng(seed)
    out: list[int] = []
    while len(out) < n:
        i = int(rng.integers(0, N))
        if not out or not 0 <= out[-1] - i <= _STEP:
            out.append(i)
    return out


def test_take_hands_out_evicted_or_lone_buffers_never_a_cached_one():
    shared = SharedCache(capacity=4)
    frames = [np.full((2, 2, 3), k, np.uint8) for k in range(8)]
    assert shared.take() is None and shared.take(recycle=True) is None  # empty cache
    for k in range(6):
        shared.put(k, frames[k])
    assert list(shared.cache) == [2, 3, 4, 5]  # 0 and 1 evicted: they are the spares
    spares = [shared.take(recycle=True), shared.take()]
    assert {id(b) for b in spares} == {id(frames[0]), id(frames[1])}
    assert shared.take() is None and shared.take(recycle=True) is None
    assert list(shared.cache) == [2, 3, 4, 5]  # only lone frames are recycled

    lone = SharedCache(capacity=8)
    for k in range(4):
        lone.put(k, frames[k])  # a block, say
    for k in range(4, 4 + _HOT):  # lone frames read back to back
        lone.put(k, frames[k], lone=True)
    assert lone.take() is None  # only a recycling reader takes a cached frame
    buf = lone.take(recycle=True)  # the lone frame read _HOT reads ago
    assert buf is frames[4] and 4 not in lone.cache
    assert all(not np.shares_memory(buf, f) for f in lone.cache.values())
    lone.put(6, buf, lone=True)
    assert lone.take(recycle=True) is frames[5] and 5 not in lone.cache
    # a lone frame evicted meanwhile is skipped (its buffer may be a spare by now)
    lone.put(7, frames[7], lone=True)
    del lone.cache[6]
    assert lone.take(recycle=True) is None and list(lone.cache) == [0, 1, 2, 3, 7]


def test_back_to_back_reads_take_turns_in_few_buffers_and_never_overwrite_one(clip):
    frames, info = clip
    order = _jumps(60, seed=1)
    with FrameSource(info, cache_frames=64, prefetch=False) as src:
        got = [src.read(i) for i in order]  # back to back: buffers are recycled
        cached = dict(src._shared.cache)
        # the cache did not grow (a stalled machine may add a few)
        assert _HOT <= len(cached) <= _HOT + 6
        # the frames just read are still cached
        hits = src.stats.hits
        for i in order[-_HOT:]:
            assert np.array_equal(src.read(i), frames[i])
        assert src.stats.hits == hits + _HOT
        # a caller that pauses gets new memory: the cache grows again
        for i in _jumps(3, seed=2):
            time.sleep(2 * _BURST_S)
            assert np.array_equal(src.read(i), frames[i])
        assert len(src._shared.cache) >= len(cached) + 2
    # what the caller got was never written to later
    for i, f in zip(order, got):
        assert np.array_equal(f, frames[i]), f"frame {i} changed after it was returned"
    # the cache holds each frame in memory of its own, as decoded (BGR), and shares
    # none with what callers got
    for k, bgr in cached.items():
        assert np.array_equal(bgr[..., ::-1], frames[k]), f"cached frame {k}"
    arrays = list(cached.values())
    assert not any(np.shares_memory(a, b) for a, b in combinations(arrays, 2))
    assert not any(np.shares_memory(a, f) for a in arrays for f in got)


def test_recycling_with_a_small_cache_and_blocks_stays_exact(clip):
    """Back steps (blocks), jumps and repeats, back to back, through an 8-frame cache."""
    frames, info = clip
    rng = np.random.default_rng(3)
    order = [int(i) for i in rng.integers(0, N, 80)]
    order += list(range(70, 40, -1)) + order[:10]
    with FrameSource(info, cache_frames=8) as src:
        got = [(i, src.read(i)) for i in order]
        assert src.stats.hits > 0 and len(src._shared.cache) <= 8
    assert all(np.array_equal(f, frames[i]) for i, f in got)
