"""Video reader: exact frame counts and random access equal to the sequential decode."""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from video_cases import sequential
from video_cases import write_video as _write_video

from core.events import Progress
from core.io.video import (
    FrameSource,
    VideoError,
    VideoInfo,
    content_hash,
    is_video_path,
    open_source,
    read_frames,
    scan_video,
)
from core.io.video.decode import SEEK_OVERHEAD, Geometry
from core.io.video.race import SeekRace

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"
N = 60
SIZE = (72, 96)  # rows, cols


def write_video(path: Path, fourcc: str, n: int = N, size=SIZE, seed: int = 0) -> bool:
    return _write_video(path, fourcc, n, size, seed)
CODECS = [("mp4v", ".mp4"), ("mp4v", ".avi"), ("MJPG", ".avi"), ("VP80", ".mkv"),
          ("FFV1", ".mkv")]


def run(gen):
    """Drive a core generator to its end: (return value, events yielded)."""
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            return stop.value, events


def scan(path):
    return run(scan_video(path))[0]


@pytest.fixture(scope="module", params=CODECS, ids=lambda c: f"{c[0]}{c[1]}")
def video(request, tmp_path_factory):
    fourcc, ext = request.param
    path = tmp_path_factory.mktemp("video") / f"clip{ext}"
    if not write_video(path, fourcc):
        pytest.skip(f"no {fourcc} writer in this OpenCV build")
    return path, sequential(path), scan(path), fourcc


@pytest.fixture(scope="module")
def mp4(tmp_path_factory):
    path = tmp_path_factory.mktemp("mp4") / "clip.mp4"
    assert write_video(path, "mp4v")
    return path, sequential(path), scan(path)


def test_scan_counts_frames_exactly_and_indexes_keyframes(video):
    path, frames, info, fourcc = video
    assert len(frames) == N and info.n_frames == N
    assert (info.kind, info.height, info.width, info.warning) == ("video", *SIZE, "")
    assert info.fps == pytest.approx(25.0)
    assert info.keyframes[0] == 0 and list(info.keyframes) == sorted(set(info.keyframes))
    assert len(info.fingerprints) == len(info.pts) == N
    if fourcc in ("MJPG", "FFV1"):  # intra-only codecs: every frame is a keyframe
        assert len(info.keyframes) == N
    else:
        assert 1 < len(info.keyframes) < N // 2


def test_scan_reports_progress(mp4):
    path = mp4[0]
    info, events = run(scan_video(path))
    assert events and all(isinstance(e, Progress) and e.stage == "scan" for e in events)
    assert (events[-1].done, events[-1].total) == (info.n_frames, info.n_frames)


@pytest.mark.parametrize("cache_frames", [0, 4, 256])
def test_random_access_equals_sequential_decode(video, cache_frames):
    path, frames, info, _ = video
    rng = np.random.default_rng(cache_frames)
    orders = [range(N), range(N - 1, -1, -1), rng.permutation(N), rng.integers(0, N, 40)]
    with FrameSource(info, cache_frames=cache_frames) as src:
        assert (src.n_frames, src.shape, len(src)) == (N, SIZE, N)
        for order in orders:
            for i in order:
                frame = src.read(int(i))
                assert frame.dtype == np.uint8 and frame.shape == (*SIZE, 3)
                assert np.array_equal(frame, frames[i]), f"frame {i}"


def test_forward_steps_reuse_the_decoder_position(mp4):
    path, frames, info = mp4
    with FrameSource(info) as src:
        src.read(30)
        seeks, grabs = src.stats.seeks, src.stats.grabs
        for i in range(31, 40):
            assert np.array_equal(src.read(i), frames[i])
        # no seek, exactly one decoded frame per step
        assert (src.stats.seeks, src.stats.grabs) == (seeks, grabs + 9)
        src.read(45)  # a short jump ahead decodes forward instead of seeking
        assert (src.stats.seeks, src.stats.grabs) == (seeks, grabs + 15)


def test_stepping_back_fills_the_cache_in_one_pass(mp4):
    path, frames, info = mp4
    with FrameSource(info, prefetch=False) as src:
        src.read(50)
        src.read(49)  # a backward miss decodes a block behind 49
        seeks, misses = src.stats.seeks, src.stats.misses
        for i in range(48, 20, -1):
            assert np.array_equal(src.read(i), frames[i])
        assert (src.stats.seeks, src.stats.misses) == (seeks, misses)  # all hits
        assert src.stats.prefetched == 0 and not _prefetch_threads()


def _prefetch_threads():
    return [t for t in threading.enumerate() if t.name.startswith("frame-prefetch")]


def _wait_for(condition, timeout=10.0):
    end = time.monotonic() + timeout
    while not condition() and time.monotonic() < end:
        time.sleep(0.005)
    return condition()


def test_a_paused_viewer_stepping_back_is_served_by_the_prefetch_thread(tmp_path):
    path = tmp_path / "long.mp4"
    assert write_video(path, "mp4v", n=150)
    frames, info = sequential(path), scan(path)
    with FrameSource(info) as src:
        src.read(140)
        for i in range(139, 109, -1):
            time.sleep(0.02)  # a viewer holding the left arrow key (~30 steps/s)
            assert np.array_equal(src.read(i), frames[i]), f"frame {i}"
        assert _prefetch_threads()
        # the first step decoded what its own seek reaches; the worker did the rest
        assert src.stats.seeks <= 2 and src.stats.prefetched >= 16
        assert src.stats.hits + src.stats.waits >= 28
    assert _wait_for(lambda: not _prefetch_threads(), 5.0)  # close() stopped it


def test_back_to_back_steps_use_one_long_pass(mp4):
    path, frames, info = mp4
    with FrameSource(info) as src:
        src.read(55)
        for i in range(54, 5, -1):  # no pauses: one long pass (the fewest decodes)
            assert np.array_equal(src.read(i), frames[i]), f"frame {i}"
        assert src.stats.seeks <= 6  # not one per step (a stalled machine may add one)


def test_a_jump_calls_off_the_prefetch_and_close_stops_it(tmp_path):
    path = tmp_path / "long.avi"
    assert write_video(path, "mp4v", n=200)
    frames, info = sequential(path), scan(path)
    src = FrameSource(info)
    src.read(190)
    time.sleep(0.05)
    src.read(189)  # queues work behind 189
    assert np.array_equal(src.read(20), frames[20])  # a jump: that work is called off
    assert _wait_for(lambda: not src._shared.active and not src._shared.pending)
    for i in (19, 18, 150, 149, 148):
        assert np.array_equal(src.read(i), frames[i])
    src.close()
    assert _wait_for(lambda: not _prefetch_threads(), 5.0)
    with pytest.raises(ValueError, match="closed"):
        src.read(5)


def test_an_unclosed_source_stops_its_thread_when_collected(mp4):
    info = mp4[2]
    src = FrameSource(info)
    src.read(50)
    time.sleep(0.05)
    src.read(49)
    assert _prefetch_threads()
    del src
    gc.collect()
    assert _wait_for(lambda: not _prefetch_threads(), 5.0)


def test_threads_stepping_back_with_a_small_cache(tmp_path):
    """Eviction, buffer reuse and the worker under contention: still exact."""
    path = tmp_path / "clip.mp4"
    assert write_video(path, "mp4v", n=120)
    frames, info = sequential(path), scan(path)
    src = FrameSource(info, cache_frames=12)
    errors = []

    def stepper(top):
        for i in range(top, top - 40, -1):
            time.sleep(0.001 * (i % 3))
            if not np.array_equal(src.read(i), frames[i]):
                errors.append(i)

    threads = [threading.Thread(target=stepper, args=(t,)) for t in (119, 90, 60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    src.close()
    assert errors == []


def test_intra_only_mjpeg_decodes_a_far_frame_alone(tmp_path):
    path = tmp_path / "grabber.avi"
    assert write_video(path, "MJPG", n=80)
    frames, info = sequential(path), scan(path)
    with FrameSource(info, cache_frames=0) as src:
        for i in (70, 1, 2, 33, 79, 40, 0, 17, 16):
            assert np.array_equal(src.read(i), frames[i]), f"frame {i}"
        assert src.stats.intra >= 5 and src.stats.seeks == 0
        sparse = src.read_many([75, 5, 45])  # training extraction: also one JPEG each
        assert all(np.array_equal(f, frames[i]) for f, i in zip(sparse, (75, 5, 45)))
    # a frame that is not the imported one is still refused, not shown
    prints = list(info.fingerprints)
    prints[60] ^= 1
    with FrameSource(replace(info, fingerprints=tuple(prints))) as src:
        assert np.array_equal(src.read(59), frames[59])
        with pytest.raises(VideoError, match="grabber.avi.*changed"):
            src.read(60)
        assert np.array_equal(src.read(61), frames[61])


def test_seek_geometry_follows_the_keyframe_index():
    info = VideoInfo("x.mp4", 100, 25.0, 4, 4, "video", keyframes=(0, 12, 24, 36, 48, 60))
    geo = Geometry(info)
    assert geo.pts_index is None  # no presentation times: landing unchecked
    assert [geo.landing(a) for a in (0, 1, 2, 16, 27, 28, 40, 99)] == [0, 0, 0, 0, 0, 12,
                                                                        24, 60]
    assert geo.free_start(40) == 40 and geo.free_start(45) == 40 and geo.free_start(10) == 0
    assert geo.seek_cost(40) == 16 + SEEK_OVERHEAD
    assert geo.block_start(50, 8, 100) == 40  # extended to where the same seek lands
    assert geo.block_start(50, 8, 10) == 43  # unless that exceeds the budget
    assert geo.typical_seek_run() < 32 < Geometry(
        replace(info, keyframes=(0,))).typical_seek_run()


def _race_jumps(race, cost, n):
    picks = []
    for _ in range(n):
        k = race.pick()
        picks.append(k)
        race.record(k, cost[k], 10)
    return picks


def test_seek_race_measures_before_choosing_and_notices_a_change():
    race = SeekRace(2, window=5, min_samples=2, explore_every=8, warmup=(0, 0),
                    settle=(1, 1), order=(1, 0), prefer=1)
    cost = {0: 0.020, 1: 0.010}
    # each candidate is measured first, in order; the first jump after a change of
    # decoder is not counted
    assert _race_jumps(race, cost, 6) == [1, 1, 1, 0, 0, 0]
    assert race.estimate(0) == pytest.approx(0.002) and race.best() == 1
    assert len(race.samples[0]) == len(race.samples[1]) == 2
    # the cheaper serves; the other is tried in a burst (settle + 2) at jump 8, and
    # as that changed nothing, the next burst comes twice as late
    assert _race_jumps(race, cost, 18) == [1, 0, 0, 0, *[1] * 14]
    assert (race.interval, race.next_burst) == (16, 26)
    cost[1] = 0.050  # the load changes: candidate 1 becomes the slow one
    picks = _race_jumps(race, cost, 24)
    assert race.best() == 0 and picks[-6:] == [0] * 6
    cost[1] = 0.010  # and back: the next burst notices, the interval starts again
    picks = _race_jumps(race, cost, 120)
    assert race.best() == 1 and picks[-5:] == [1] * 5


@pytest.mark.parametrize("other, serves", [(0.0098, 1), (0.0090, 0)])
def test_seek_race_keeps_the_preferred_unless_another_is_clearly_cheaper(other, serves):
    race = SeekRace(2, min_samples=3, explore_every=16, prefer=1, margin=0.03)
    picks = _race_jumps(race, {0: other, 1: 0.010}, 100)
    assert race.best() == serves and picks[-5:] == [serves] * 5


def test_seek_race_does_not_count_a_decoder_warming_up_or_settling_in():
    race = SeekRace(2, min_samples=3, explore_every=16, warmup=(2, 5), settle=(1, 4),
                    prefer=1)
    picks = []
    for _ in range(150):
        k = race.pick()
        picks.append(k)
        # slow while fresh and just after a change (longer for 1); settled, 1 is cheaper
        cold = race.served[k] <= (2, 5)[k] or race.run <= (1, 4)[k]
        race.record(k, 1.0 if cold else (0.010 if k == 1 else 0.012), 10)
        assert max(race.samples[k], default=0) < 0.01
    # measured first: 0 for warmup + 3 jumps, then 1 likewise; then 1 serves
    assert picks[:13] == [0] * 5 + [1] * 8
    assert race.best() == 1 and race.served[1] > 3 * race.served[0]


def test_cold_jumps_use_the_plain_seek_when_it_is_cheaper(mp4):
    path, frames, info = mp4
    assert Geometry(info).typical_seek_run() < 32  # short GOP: two decoders
    plain_threads = cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_N_THREADS)
    rng = np.random.default_rng(5)
    order = [int(i) for i in rng.permutation(N)[:40]]
    for cheaper in (0, 1):
        with FrameSource(info, cache_frames=0) as src:
            # the race serves files the GOP decoder cannot (B-frames): turn it off
            src._gop.close()
            src._gop = None
            # the plain decoder is configured as a plain cv2.VideoCapture is
            assert src._plain.cap.get(cv2.CAP_PROP_N_THREADS) == plain_threads
            assert src._decoder.cap.get(cv2.CAP_PROP_N_THREADS) == 1
            race = src._race
            for k in (0, 1):
                for _ in range(race.min_samples):
                    race.samples[k].append(1e-9 if k == cheaper else 1.0)  # s/frame
            record = race.record  # keep the costs as set, whatever the timings
            race.record = lambda k, seconds, frames, record=record, cheaper=cheaper: (
                record(k, 1e-9 if k == cheaper else 1.0, 1))
            for i in order:
                assert np.array_equal(src.read(i), frames[i]), i
            assert 10 <= race.jumps < race.explore_every  # others decode forward
            assert src.stats.plain == (race.jumps if cheaper else 0), (cheaper, src.stats)


def _ffmpeg():
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    return imageio_ffmpeg.get_ffmpeg_exe()


@pytest.fixture(scope="module")
def h264(tmp_path_factory):
    """H.264 as real recordings are (B-frames), keyframes every 25 frames."""
    exe = _ffmpeg()
    if exe is None:
        pytest.skip("imageio-ffmpeg (an ffmpeg with libx264) is not installed")
    src = tmp_path_factory.mktemp("h264") / "frames.avi"
    assert write_video(src, "FFV1", n=N)  # lossless: the same pictures go to x264
    path = src.with_name("colonoscopy.mp4")
    subprocess.run([exe, "-y", "-loglevel", "error", "-i", str(src), "-c:v", "libx264",
                    "-g", "25", "-bf", "3", "-pix_fmt", "yuv420p", str(path)], check=True)
    return path, sequential(path), scan(path)


def test_h264_with_b_frames_random_access_and_steps(h264):
    path, frames, info = h264
    assert info.n_frames == len(frames) == N and 1 < len(info.keyframes) < N // 10
    rng = np.random.default_rng(3)
    with FrameSource(info) as src:
        for i in [*rng.permutation(N), *range(N - 1, -1, -1)]:
            assert np.array_equal(src.read(int(i)), frames[i]), f"frame {i}"
        src.read(55)
        time.sleep(0.05)
        for i in range(54, 10, -1):
            time.sleep(0.002)
            assert np.array_equal(src.read(i), frames[i]), f"frame {i}"
    assert np.array_equal(read_frames(info, [50, 3, 29])[1], frames[3])


def test_cache_hits_return_independent_copies(mp4):
    path, frames, info = mp4
    with FrameSource(info, cache_frames=8) as src:
        a = src.read(12)
        hits = src.stats.hits
        a[:] = 0  # the caller owns its array; the cache is untouched
        b = src.read(12)
        assert src.stats.hits == hits + 1
        assert np.array_equal(b, frames[12]) and not np.shares_memory(a, b)


def test_read_frames_in_any_order(mp4):
    path, frames, info = mp4
    idx = [5, 3, 5, N - 1, 0, 31]
    out = read_frames(path, idx)
    assert out.shape == (len(idx), *SIZE, 3) and out.dtype == np.uint8
    for row, i in zip(out, idx, strict=True):
        assert np.array_equal(row, frames[i])
    assert read_frames(info, []).shape == (0, *SIZE, 3)
    with pytest.raises(TypeError, match="integers"):
        read_frames(info, [1.5])


def test_threads_can_share_a_source(mp4):
    path, frames, info = mp4
    src = FrameSource(info, cache_frames=16)
    errors = []

    def worker(seed):
        for i in np.random.default_rng(seed).integers(0, N, 30):
            if not np.array_equal(src.read(int(i)), frames[i]):
                errors.append(int(i))

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    src.close()
    assert errors == []


def test_bad_indices_and_closed_source(mp4):
    path, _, info = mp4
    src = FrameSource(info)
    for i in (-1, N):
        with pytest.raises(IndexError, match="outside"):
            src.read(i)
    src.close()
    with pytest.raises(ValueError, match="closed"):
        src.read(0)
    with pytest.raises(ValueError, match="cache_frames"):
        FrameSource(info, cache_frames=-1)


def test_open_source_reuses_the_scan_of_an_unchanged_file(tmp_path, mp4):
    path = tmp_path / "imported.mp4"
    shutil.copy(mp4[0], path)
    info = scan(path)  # the import
    with open_source(path) as a, open_source(str(path)) as b:
        assert a.info is info and b.info is info
    os.utime(path, ns=(1, 1))  # touched: scanned again
    with open_source(path) as c:
        assert c.info is not info and c.info == info


def test_video_info_json_round_trip(mp4):
    info = mp4[2]
    back = VideoInfo.from_json(info.to_json())
    assert back == info and isinstance(back.fingerprints, tuple)
    with FrameSource(back) as src:
        assert np.array_equal(src.read(33), mp4[1][33])


def _truncate(src: Path, dst: Path, fraction: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


@pytest.mark.parametrize("fourcc", ["mp4v", "MJPG"])
def test_truncated_avi_keeps_its_complete_frames(tmp_path, fourcc):
    whole = tmp_path / "whole.avi"
    assert write_video(whole, fourcc, n=90)
    intact = sequential(whole)
    cut = _truncate(whole, tmp_path / "cut.avi", 0.6)
    info = scan(cut)
    decoded = sequential(cut)
    # defined behaviour: a shorter, exact count; the last (partial) frame is dropped
    assert 0 < info.n_frames == len(decoded) - 1 < 90
    assert "cut.avi" in info.warning and "incomplete" in info.warning
    with FrameSource(info, cache_frames=4) as src:
        for i in [*range(info.n_frames - 1, -1, -1), *range(info.n_frames)]:
            frame = src.read(i)
            assert np.array_equal(frame, decoded[i]) and np.array_equal(frame, intact[i])
        with pytest.raises(IndexError):
            src.read(info.n_frames)


def test_truncated_mp4_is_a_clear_error(tmp_path, mp4):
    cut = _truncate(mp4[0], tmp_path / "interrupted.mp4", 0.6)
    with pytest.raises(VideoError, match="interrupted.mp4") as err:
        scan(cut)
    assert err.value.path == str(cut)


def test_unreadable_files_are_clear_errors(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is a text file, not a video\n" * 20)
    with pytest.raises(VideoError, match="notes.mp4.*cannot be opened"):
        scan(fake)
    empty = tmp_path / "empty.avi"
    empty.touch()
    with pytest.raises(VideoError, match="empty.avi.*empty"):
        scan(empty)
    with pytest.raises(VideoError, match="missing.mp4.*not found"):
        scan(tmp_path / "missing.mp4")


def test_a_replaced_file_is_detected_not_misread(tmp_path):
    path = tmp_path / "study.avi"
    assert write_video(path, "mp4v", seed=0)
    info = scan(path)
    assert write_video(path, "mp4v", seed=1)  # same size and length, other pixels
    with FrameSource(info) as src, pytest.raises(VideoError, match="study.avi.*changed"):
        src.read(25)


def _write_png(path: Path, value: int) -> np.ndarray:
    bgr = np.zeros((8, 10, 3), np.uint8)
    bgr[..., 0], bgr[..., 2] = value, 255 - value  # blue, red: checks the RGB order
    assert cv2.imwrite(str(path), bgr)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def test_folder_frames_in_natural_order(tmp_path):
    names = ["frame10.png", "frame2.png", "frame1.png", "Frame3.PNG"]
    expected = {name: _write_png(tmp_path / name, 20 * k) for k, name in enumerate(names)}
    (tmp_path / "notes.txt").write_text("not a frame")
    info, events = run(scan_video(tmp_path))
    assert events
    assert info.files == ("frame1.png", "frame2.png", "Frame3.PNG", "frame10.png")
    assert (info.kind, info.n_frames, info.fps, info.height, info.width) == (
        "folder", 4, 0.0, 8, 10)
    with open_source(info) as src:
        for i, name in enumerate(info.files):
            assert np.array_equal(src.read(i), expected[name])
        assert src.read_many([3, 0]).shape == (2, 8, 10, 3)


def test_folder_with_a_broken_image(tmp_path):
    _write_png(tmp_path / "f1.png", 0)
    (tmp_path / "f2.png").write_bytes(b"garbage, not a png")
    with pytest.raises(VideoError, match="f2.png"):
        scan(tmp_path)
    good = _write_png(tmp_path / "f2.png", 9)
    ok_bytes = (tmp_path / "f2.png").read_bytes()
    (tmp_path / "f3.png").write_bytes(ok_bytes[:30])  # valid signature, cut short
    info = scan(tmp_path)
    with FrameSource(info) as src:
        assert np.array_equal(src.read(1), good)
        with pytest.raises(VideoError, match="f3.png"):
            src.read(2)


def test_empty_folder_is_a_clear_error(tmp_path):
    folder = tmp_path / "no frames here"
    folder.mkdir()
    (folder / "readme.txt").write_text("x")
    with pytest.raises(VideoError, match="no frames here"):
        scan(folder)
    assert not is_video_path(folder)


def test_is_video_path(tmp_path, mp4):
    assert is_video_path(mp4[0])
    frames = tmp_path / "frames"
    frames.mkdir()
    _write_png(frames / "a.png", 1)
    assert is_video_path(frames)
    assert not is_video_path(frames / "a.png")
    text = tmp_path / "a.txt"
    text.write_text("hello")
    assert not is_video_path(text) and not is_video_path(tmp_path / "missing.mp4")
    probed = tmp_path / "recording.bin"  # unknown suffix: decided by probing
    shutil.copy(mp4[0], probed)
    assert is_video_path(probed)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01" * 500)
    assert not is_video_path(junk)


def test_content_hash(tmp_path, mp4):
    path = mp4[0]
    digest = content_hash(path)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest() == content_hash(path)
    copy = tmp_path / "copy.mp4"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    copy.write_bytes(bytes(data))
    assert content_hash(copy) != digest

    folder = tmp_path / "frames"
    folder.mkdir()
    _write_png(folder / "f1.png", 1)
    _write_png(folder / "f2.png", 2)
    h1 = content_hash(folder)
    (folder / "notes.txt").write_text("ignored: not a frame")
    assert content_hash(folder) == h1
    (folder / "f2.png").rename(folder / "f3.png")
    assert content_hash(folder) != h1
    (folder / "f3.png").rename(folder / "f2.png")
    assert content_hash(folder) == h1
    _write_png(folder / "f2.png", 3)
    assert content_hash(folder) != h1
    with pytest.raises(VideoError, match="nothing.mp4"):
        content_hash(tmp_path / "nothing.mp4")


def test_real_frame_folder_kvasir():
    folder = TESTDATA / "kvasir_seg" / "images"
    if not folder.is_dir():
        pytest.skip("shared test data absent")
    info = scan(folder)
    files = sorted(p.name for p in folder.iterdir() if p.suffix.lower() == ".jpg")
    assert info.kind == "folder" and list(info.files) == files
    assert info.n_frames == len(files) and is_video_path(folder)
    with FrameSource(info) as src:
        for i, name in enumerate(files):
            expected = cv2.cvtColor(cv2.imread(str(folder / name)), cv2.COLOR_BGR2RGB)
            assert np.array_equal(src.read(i), expected)
        if len({src.read(i).shape for i in range(len(files))}) > 1:
            with pytest.raises(ValueError, match="differ in size"):
                src.read_many(range(len(files)))
