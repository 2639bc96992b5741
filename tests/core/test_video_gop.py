"""Cold jumps decoded from the keyframe at or before the frame (GopDecoder): exact, and
turned off for a file at the first sign that it does not hold there."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from video_cases import sequential
from video_cases import write_video as _write_video

from core.events import drain
from core.io.video import FrameSource, VideoError, read_frames, scan_video, source
from core.io.video.decode import Desync, Geometry, ReadStats
from core.io.video.packets import GopDecoder, avi_file

N = 90
SIZE = (64, 80)  # rows, cols


@pytest.fixture(autouse=True)
def two_cores(monkeypatch):
    """Every cold jump goes to the GOP decoder (with more cores it races the plain seek:
    see the last test)."""
    monkeypatch.setattr(source, "_cores", lambda: 2)


def write_video(path: Path, fourcc: str, n: int = N) -> bool:
    return _write_video(path, fourcc, n, SIZE, seed=11)


@pytest.fixture(scope="module")
def mp4v(tmp_path_factory):
    """mp4v as OpenCV writes it: a keyframe every 12 frames, no B-frames."""
    path = tmp_path_factory.mktemp("gop") / "clip.mp4"
    assert write_video(path, "mp4v")
    info = drain(scan_video(path))
    assert list(info.keyframes) == list(range(0, N, 12))
    return path, sequential(path), info


def _ffmpeg() -> str | None:
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    return imageio_ffmpeg.get_ffmpeg_exe()


def _x264(tmp_path: Path, name: str, *args: str) -> tuple[Path, list[np.ndarray], object]:
    exe = _ffmpeg()
    if exe is None:
        pytest.skip("imageio-ffmpeg (an ffmpeg with libx264) is not installed")
    lossless = tmp_path / "frames.avi"
    if not lossless.exists():
        assert write_video(lossless, "FFV1")
    path = tmp_path / name
    subprocess.run([exe, "-y", "-loglevel", "error", "-i", str(lossless), "-c:v", "libx264",
                    *args, "-pix_fmt", "yuv420p", str(path)], check=True)
    return path, sequential(path), drain(scan_video(path))


def _jumps(seed: int) -> list[int]:
    """Frame 0, keyframes, the last frame, then random frames; no short step back (a
    viewer stepping back gets blocks, from the seeking decoders)."""
    out = [0, 12, 24, N - 1, 13, 84, 1, 36]
    rng = np.random.default_rng(seed)
    while len(out) < 100:
        i = int(rng.integers(0, N))
        if not 0 < out[-1] - i <= 8:
            out.append(i)
    return out


@pytest.mark.parametrize("cache_frames", [0, 256])
def test_cold_jumps_decode_from_the_keyframe_before_and_equal_the_sequential_decode(
        mp4v, cache_frames):
    path, frames, info = mp4v
    geo = Geometry(info)
    with FrameSource(info, cache_frames=cache_frames, prefetch=False) as src:
        assert src._gop is not None
        for i in _jumps(seed=cache_frames):
            before = (src.stats.grabs, src.stats.gop, src.stats.hits)
            assert np.array_equal(src.read(i), frames[i]), f"frame {i}"
            grabs, fragments, hits = (src.stats.grabs - before[0], src.stats.gop - before[1],
                                      src.stats.hits - before[2])
            # a cache hit, a step forward in the open fragment, or a jump that decodes
            # from the keyframe at or before i: never from the one before i - 16
            assert (hits, grabs) == (1, 0) or (fragments == 0 and grabs >= 1) or (
                fragments == 1 and grabs == i - geo.key_before(i) + 1), (i, src.stats)
        assert src._gop is not None and src.stats.seeks == 0  # OpenCV's seek: never
        assert src.stats.gop >= 8


def test_steps_forward_after_a_jump_decode_one_frame_each(mp4v):
    path, frames, info = mp4v
    with FrameSource(info, cache_frames=0) as src:
        src.read(40)  # keyframe 36: 5 decodes
        assert (src.stats.gop, src.stats.grabs) == (1, 5)
        for i in range(41, 50):  # to the end of that GOP (47), then the next keyframe
            assert np.array_equal(src.read(i), frames[i]), f"frame {i}"
        assert (src.stats.gop, src.stats.grabs, src.stats.seeks) == (2, 14, 0)
        # going on from the end of a fragment: the next is twice as long (two GOPs)
        assert (src._gop.start, src._gop.end) == (48, 71)
        src.read(55)  # a jump ahead in the open fragment decodes forward
        assert (src.stats.gop, src.stats.grabs) == (2, 20)
        src.read(50)  # behind the fragment's position: a new fragment (keyframe 48)
        assert (src.stats.gop, src.stats.grabs) == (3, 23)
        assert (src._gop.start, src._gop.end) == (48, 59)  # a jump: one GOP
        for i in range(51, N):  # playing on to the end: fragments of up to 128 frames
            assert np.array_equal(src.read(i), frames[i]), f"frame {i}"
        assert src.stats.gop == 5 and src.stats.grabs == 23 + N - 51  # 60-83, 84-89


def test_stepping_back_and_sparse_reads_stay_exact(mp4v):
    path, frames, info = mp4v
    with FrameSource(info, cache_frames=32) as src:
        src.read(70)
        for i in range(69, 30, -1):  # back to back: blocks, on the seeking decoders
            assert np.array_equal(src.read(i), frames[i]), f"frame {i}"
        assert src._gop is not None
    picks = [77, 3, 50, 49, 89, 12]
    out = read_frames(info, picks)  # training extraction: a fragment per far frame
    assert all(np.array_equal(f, frames[i]) for f, i in zip(out, picks, strict=True))


def test_temporary_file_is_removed_on_close(mp4v):
    path, frames, info = mp4v
    src = FrameSource(info)
    tmp = Path(src._gop.tmp.path)
    src.read(30)
    assert tmp.is_file() and tmp.stat().st_size > 0 and tmp.read_bytes()[:4] == b"RIFF"
    src.close()
    assert not tmp.exists()
    src.close()  # twice is harmless
    # dropped for a file on the first failure: its file goes at once
    bad = list(info.fingerprints)
    bad[30] ^= 1
    src = FrameSource(replace(info, fingerprints=tuple(bad)))
    tmp = Path(src._gop.tmp.path)
    with pytest.raises(VideoError):
        src.read(30)
    assert src._gop is None and not tmp.exists()
    src.close()


def test_a_frame_unlike_the_scans_turns_it_off_and_is_still_refused(mp4v):
    path, frames, info = mp4v
    bad = list(info.fingerprints)
    bad[44] ^= 1  # as if the file had changed there since the import
    with FrameSource(replace(info, fingerprints=tuple(bad)), cache_frames=0) as src:
        assert np.array_equal(src.read(20), frames[20]) and src._gop is not None
        with pytest.raises(VideoError, match="clip.mp4.*changed"):
            src.read(44)
        assert src._gop is None  # off for this file from now on
        seeks = src.stats.seeks
        for i in (70, 5, 45, 43):  # the other frames: OpenCV's seek, as before
            assert np.array_equal(src.read(i), frames[i]), f"frame {i}"
        assert src.stats.seeks > seeks


def test_a_decode_that_fails_falls_back_to_the_right_frame(mp4v):
    path, frames, info = mp4v
    with FrameSource(info, cache_frames=0) as src:
        src._gop._fourcc = b"MJPG"  # the fragment now claims another codec
        gop = src._gop
        for i in (30, 31, 80):
            assert np.array_equal(src.read(i), frames[i]), f"frame {i}"
        assert src._gop is None and gop.packets is None  # closed
        assert src.stats.gop == 1 and src.stats.seeks >= 1


def test_fragment_position_is_checked(mp4v):
    path, frames, info = mp4v
    gop = GopDecoder.probe(info, Geometry(info), ReadStats())
    try:
        out = []
        gop.decode(26, 26, lambda k: True, lambda k, bgr: out.append(bgr))
        assert len(out) == 1 and (gop.start, gop.next, gop.end) == (24, 27, 35)
        gop.start = 25  # as if the fragment started elsewhere: the next frame's time
        with pytest.raises(Desync, match="position"):  # does not match
            gop.decode(27, 27, lambda k: True, lambda k, bgr: out.append(bgr))
    finally:
        gop.close()


def test_avi_file_layout():
    packets = [np.frombuffer(b"\x00\x00\x01\xb6key", np.uint8)[None], np.ones((1, 4), np.uint8)]
    data = avi_file(packets, b"FMP4", b"\x00\x00\x01\xb0", 80, 64)
    assert data[:4] == b"RIFF" and data[8:12] == b"AVI "
    assert int.from_bytes(data[4:8], "little") == len(data) - 8
    movi = data.index(b"movi")
    assert data[movi + 4:movi + 8] == b"00dc" and data[movi + 12:movi + 19] == b"\0\0\1\xb6key"
    assert data[movi + 19] == 0  # odd chunk padded
    idx = data.index(b"idx1")
    entries = np.frombuffer(data[idx + 8:], "<u4").reshape(-1, 4)
    assert entries[:, 1].tolist() == [0x10, 0] and entries[:, 3].tolist() == [7, 4]
    assert [data[movi + o:movi + o + 4] for o in entries[:, 2]] == [b"00dc"] * 2


def test_b_frames_turn_it_off_after_one_try(tmp_path):
    path, frames, info = _x264(tmp_path, "b.mp4", "-g", "25", "-bf", "3")
    with FrameSource(info, cache_frames=0) as src:
        for i in (40, 7, 0, N - 1, 26, 25):
            assert np.array_equal(src.read(i), frames[i]), f"frame {i}"
        assert src._gop is None and src.stats.gop == 0  # packets out of order: no fragment


def test_h264_without_b_frames_short_and_long_runs(tmp_path):
    path, frames, info = _x264(tmp_path, "nob.mkv", "-g", "80", "-bf", "0",
                                  "-sc_threshold", "0")
    assert list(info.keyframes) == [0, 80]
    with FrameSource(info, cache_frames=0) as src:
        # 70 and its steps: decoding forward from frame 0 is as cheap; 60: a long run
        # (a frame-threaded fragment); 79: forward again
        for i in (70, 71, 72, 3, 85, 60, 89, 79):
            assert np.array_equal(src.read(i), frames[i]), f"frame {i}"
        assert src._gop is not None and src.stats.seeks == 0 and src.stats.gop == 4


def test_not_a_keyframe_for_the_demuxer_turns_it_off(tmp_path):
    """FFV1 codes every frame intra (the scan's keyframes) but only some are keyframes
    for the demuxer: the others need the context before them."""
    path = tmp_path / "ffv1.mkv"
    if not write_video(path, "FFV1"):
        pytest.skip("no FFV1 writer in this OpenCV build")
    frames, info = sequential(path), drain(scan_video(path))
    with FrameSource(info, cache_frames=0) as src:
        for i in (0, 13, 50, 49):
            assert np.array_equal(src.read(i), frames[i]), f"frame {i}"
        assert src._gop is None


@pytest.mark.parametrize("cheaper", [0, 1])
def test_with_more_cores_cold_jumps_go_to_whichever_is_faster(mp4v, monkeypatch, cheaper):
    """Frame threading on many cores might decode a seek's frames faster than one
    thread decodes the GOP's: there the GOP decoder (0) races the plain seek (1)."""
    path, frames, info = mp4v
    with FrameSource(info, cache_frames=0) as src:
        assert src._gop_race is None  # not on two cores (nor on one)
    monkeypatch.setattr(source, "_cores", lambda: 16)
    with FrameSource(info, cache_frames=0) as src:
        race = src._gop_race
        for k in (0, 1):
            race.samples[k] += [1e-9 if k == cheaper else 1.0] * race.min_samples
        record = race.record  # keep the costs as set, whatever the timings
        race.record = lambda k, seconds, n, record=record: record(
            k, 1e-9 if k == cheaper else 1.0, 1)
        for i in _jumps(seed=4)[:40]:
            assert np.array_equal(src.read(i), frames[i]), f"frame {i}"
        assert race.jumps >= 10
        if cheaper:
            assert src.stats.plain == race.jumps and src.stats.seeks >= 10
        else:
            assert src.stats.plain == 0 and src.stats.seeks == 0
        assert src._gop is not None
