"""Benchmark: exact random access to video frames, FrameSource vs a plain OpenCV loop.

Writes textured, panning test videos (500 x 350, the paper's frame size; 1500 frames,
600 with --quick) in the formats a colonoscopy archive holds:

- mp4v (MPEG-4 part 2) as OpenCV writes it: a keyframe every 12 frames;
- MJPG: every frame a JPEG (intra-only), as frame grabbers often record;
- H.264 (libx264 defaults, B-frames) with a keyframe every 250 frames (x264's default,
  the usual case for real recordings) and every 50; only when the ``imageio-ffmpeg``
  package (which ships an ffmpeg binary) is installed.

For each it decodes the file once sequentially (the ground truth) and times

(a) ``--random`` frames (seeded, distinct), median per frame: ``FrameSource.read`` on a
    fresh source (cold cache; the import-time scan is reused, as a project stores it)
    vs ``cap.set(CAP_PROP_POS_FRAMES, i); cap.read()`` on a plain ``cv2.VideoCapture``;
(b) stepping back one frame ``--steps`` times from the middle, back to back, mean per
    step (both readers first show the middle frame, untimed, as a viewer would);
(c) stepping forward the same way (informative);
(d) stepping back at 25 steps/s, median latency per step (informative: a held arrow
    key in the GUI; ours prefetches during the pauses).

Runs alternate ours / reference, ``--repeats`` times (3; 1 with --quick), so a
briefly busy machine affects both alike; the steps start from a different seeded
frame in each repeat; the statistic is taken over the times of all runs. Each run of
ours is closed (its prefetch threads stopped) before the reference runs.

Correctness gate: every frame FrameSource returns must equal the sequential decode;
exit status 1 otherwise. The reference's accuracy, and whether the speed targets
(random >= 2x, step back >= 15x) are met, are reported, not gated.

Usage: python benchmarks/bench_video.py [--quick] [--no-mjpg] [--no-h264]
       [--cases random,back,forward,back25] [--random N] [--repeats R] [--seed S]
(``--cases random --random 300 --repeats 8 --no-mjpg --no-h264``: the random-access
case alone, as issue 6 item 32 measures it.)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.events import drain  # noqa: E402
from core.io.video import FrameSource, scan_video  # noqa: E402

TARGET_RANDOM = 2.0
TARGET_BACK = 15.0
FPS = 25.0


def frames(n: int, size: tuple[int, int], seed: int = 0) -> Iterator[np.ndarray]:
    """A camera panning over a smooth random texture, frame number burnt in (BGR)."""
    h, w = size
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.integers(0, 256, (2 * h, 2 * w, 3), dtype=np.uint8), (0, 0), 3)
    tex = cv2.normalize(tex, None, 0, 255, cv2.NORM_MINMAX)
    for i in range(n):
        y = int(h / 2 + h / 2 * np.sin(i / 40))
        x = int(w / 2 + w / 2 * np.cos(i / 55))
        frame = tex[y:y + h, x:x + w].copy()
        cv2.putText(frame, str(i), (20, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 3)
        yield frame


def write_cv2(path: Path, fourcc: str, n: int, size: tuple[int, int], seed: int) -> None:
    wr = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, size[::-1])
    if not wr.isOpened():
        raise RuntimeError(f"no {fourcc} writer in this OpenCV build")
    for f in frames(n, size, seed):
        wr.write(f)
    wr.release()


def ffmpeg_exe() -> str | None:
    """The ffmpeg binary of the imageio-ffmpeg package, or None when not installed."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    return imageio_ffmpeg.get_ffmpeg_exe()


def write_h264(path: Path, gop: int, n: int, size: tuple[int, int], seed: int,
               exe: str) -> None:
    """libx264 with its defaults (preset medium, B-frames) but a keyframe every ``gop``."""
    h, w = size
    cmd = [exe, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "bgr24",
           "-s", f"{w}x{h}", "-r", str(FPS), "-i", "-", "-c:v", "libx264", "-g", str(gop),
           "-pix_fmt", "yuv420p", str(path)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    for f in frames(n, size, seed):
        proc.stdin.write(f.tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError(f"ffmpeg failed writing {path.name}")


def sequential(path: Path, keep: set[int]) -> tuple[int, dict[int, np.ndarray], float]:
    """Plain read loop: frame count, the frames in ``keep`` (RGB), seconds taken."""
    cap = cv2.VideoCapture(str(path))
    out, n, t0 = {}, 0, time.perf_counter()
    while True:
        ok, f = cap.read()
        if not ok:
            break
        if n in keep:
            out[n] = cv2.cvtColor(f, cv2.COLOR_BGR2RGB)
        n += 1
    cap.release()
    return n, out, time.perf_counter() - t0


Reader = Callable[[int], np.ndarray | None]


def run_ours(info, order: list[int], truth: dict[int, np.ndarray], start: int | None,
             pause: float) -> tuple[list[float], int, str]:
    src = FrameSource(info)
    try:
        return timed(src.read, order, truth, start, pause) + (_stats(src),)
    finally:
        src.close()


def run_reference(path: Path, order: list[int], truth: dict[int, np.ndarray],
                  start: int | None, pause: float) -> tuple[list[float], int, str]:
    cap = cv2.VideoCapture(str(path))

    def read(i: int) -> np.ndarray | None:
        cap.set(cv2.CAP_PROP_POS_FRAMES, i)
        ok, f = cap.read()
        return cv2.cvtColor(f, cv2.COLOR_BGR2RGB) if ok else None  # same output as ours

    try:
        return timed(read, order, truth, start, pause) + ("",)
    finally:
        cap.release()


def timed(read: Reader, order: list[int], truth: dict[int, np.ndarray], start: int | None,
          pause: float) -> tuple[list[float], int]:
    if start is not None:
        read(start)  # the viewer shows this frame first (untimed)
    times, right = [], 0
    for i in order:
        if pause:
            time.sleep(pause)
        t0 = time.perf_counter()
        f = read(i)
        times.append(time.perf_counter() - t0)
        right += bool(f is not None and np.array_equal(f, truth[i]))
    return times, right


def _stats(src: FrameSource) -> str:
    s = src.stats
    return (f"{s.hits} hits, {s.misses} misses ({s.waits} waited for prefetch), "
            f"{s.seeks} seeks, {s.grabs} decodes, {s.intra} single-JPEG decodes, "
            f"{s.gop} jumps from the keyframe before, "
            f"{s.prefetched} prefetched, {s.plain} cold jumps on the plain decoder")


CASES = {"random": "random", "back": "step back", "forward": "step forward",
         "back25": "back @25/s"}


def bench_one(path: Path, n_random: int, n_steps: int, seed: int, repeats: int,
              only: set[str] | None = None) -> tuple[bool, dict]:
    t0 = time.perf_counter()
    info = drain(scan_video(path))
    t_scan = time.perf_counter() - t0
    n = info.n_frames
    rng = np.random.default_rng(seed)
    rand = [int(i) for i in rng.choice(n, size=min(n_random, n), replace=False)]
    # steps start from a seeded frame per repeat, anywhere in the GOP structure: a
    # step back costs cv2 16 frames plus the distance to the keyframe before it
    starts = [int(s) for s in rng.integers(n_steps + 1, n - n_steps - 1, repeats)]
    backs = [[s - k for k in range(1, n_steps + 1)] for s in starts]
    fwds = [[s + k for k in range(1, n_steps + 1)] for s in starts]
    needed = set(rand) | set(starts) | {i for o in backs + fwds for i in o}
    n_seq, truth, t_seq = sequential(path, needed)
    ok = n_seq == n
    res: dict = {"n": n, "keyframes": len(info.keyframes)}
    print(f"  {n} frames ({n_seq} by a plain read loop), {len(info.keyframes)} keyframes; "
          f"scan {t_scan:.2f} s vs plain sequential read {t_seq:.2f} s; steps from "
          f"{', '.join(map(str, starts))}")
    cases = (("random", [rand] * repeats, [None] * repeats, statistics.median, 0.0),
             ("step back", backs, starts, statistics.fmean, 0.0),
             ("step forward", fwds, starts, statistics.fmean, 0.0),
             ("back @25/s", backs, starts, statistics.median, 1 / FPS))
    for name, orders, begins, stat, pause in cases:
        if only is not None and name not in only:
            continue
        # alternate ours / reference; pool the times of all runs
        ours, ref, ours_right, ref_right, note = [], [], 0, 0, ""
        for order, start in zip(orders, begins):
            t, r, note = run_ours(info, order, truth, start, pause)
            ours += t
            ours_right += r
            t, r, _ = run_reference(path, order, truth, start, pause)
            ref += t
            ref_right += r
        a, b = stat(ours) * 1e3, stat(ref) * 1e3
        total = len(ours)
        res[name] = (a, b, b / a, ours_right, ref_right, total)
        ok &= ours_right == total
        label = "median" if stat is statistics.median else "mean"
        print(f"  {name:12s} {label:6s} ours {a:7.3f} ms   cv2 set+read {b:7.3f} ms   "
              f"ratio {b / a:6.2f}x   identical: ours {ours_right}/{total}, "
              f"cv2 {ref_right}/{total}\n{'':22s}(ours, last run: {note})")
    return ok, res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter videos, fewer frames")
    ap.add_argument("--no-mjpg", action="store_true", help="skip the MJPG video")
    ap.add_argument("--no-h264", action="store_true", help="skip the H.264 videos")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=None,
                    help="runs of each reader, interleaved (steps: one start each)")
    ap.add_argument("--cases", default=",".join(CASES),
                    help=f"comma-separated subset of {','.join(CASES)}")
    ap.add_argument("--random", type=int, default=None,
                    help="random frames per run (100; 40 with --quick)")
    args = ap.parse_args(argv)
    only = {CASES[c] for c in args.cases.split(",") if c}
    size = (350, 500)
    n = 600 if args.quick else 1500
    n_random, n_steps = (40, 30) if args.quick else (100, 50)
    n_random = args.random or n_random
    repeats = args.repeats or (1 if args.quick else 3)
    exe = None if args.no_h264 else ffmpeg_exe()
    kinds: list[tuple[str, str, Callable[[Path], None]]] = [
        ("mp4v GOP 12", "mp4v.mp4", lambda p: write_cv2(p, "mp4v", n, size, args.seed))]
    if not args.no_mjpg:
        kinds.append(("MJPG (intra)", "mjpg.avi",
                      lambda p: write_cv2(p, "MJPG", n, size, args.seed)))
    if exe is not None:
        for gop in (250, 50):
            kinds.append((f"H.264 GOP {gop}", f"h264_g{gop}.mp4",
                          lambda p, g=gop: write_h264(p, g, n, size, args.seed, exe)))
    elif not args.no_h264:
        print("H.264 videos skipped: install imageio-ffmpeg (pip install imageio-ffmpeg) "
              "for an ffmpeg with libx264\n")
    all_ok, results = True, {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, name, write in kinds:
            path = Path(tmp) / name
            write(path)
            print(f"{label} ({name}): {size[1]}x{size[0]}, {path.stat().st_size / 1e6:.1f} MB")
            ok, results[label] = bench_one(path, n_random, n_steps, args.seed, repeats,
                                           only)
            all_ok &= ok
    print(f"\n{'video':16s} {'random, median ms':>26s}   {'step back, mean ms':>26s}   "
          f"{'back @25/s, median ms':>26s}   {'identical':>9s}")
    print(f"{'':16s}" + f"{'ours':>8s} {'cv2':>8s} {'ratio':>9s}   " * 3 + "ours, cv2")
    for label, res in results.items():
        row, ok_ours, ok_ref, total = "", 0, 0, 0
        for name, target in (("random", TARGET_RANDOM), ("step back", TARGET_BACK),
                             ("back @25/s", None)):
            if name not in res:
                row += f"{'-':>8s} {'-':>8s} {'-':>9s}  "
                continue
            a, b, r, o, c, t = res[name]
            mark = "*" if target is not None and r >= target else " "
            row += f"{a:8.2f} {b:8.2f} {r:8.2f}x{mark}  "
            ok_ours, ok_ref, total = ok_ours + o, ok_ref + c, total + t
        print(f"{label:16s}{row} {ok_ours}/{total}, {ok_ref}/{total}")
    print(f"(* target met: random >= {TARGET_RANDOM:g}x, step back >= {TARGET_BACK:g}x)")
    print("correctness gate:", "PASS (every frame ours returned is identical to the "
          "sequential decode)" if all_ok else "FAIL")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
