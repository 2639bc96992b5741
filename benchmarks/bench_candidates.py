"""Benchmark: polyp candidate generation, vectorised voting vs per-pixel Python voting.

Renders synthetic polyp frames (384 x 288, :mod:`core.synth.polyps`; 12 frames, 4 with
--quick) and runs the candidate generator of :mod:`core.tasks.polyps.candidates` two ways
on each, interleaved frame by frame so that background load hits both alike:

- ours: ``candidates.detect`` (voting by ``np.bincount``, supporting edges selected with
  array expressions);
- reference: the same algorithm written straightforwardly: every edge pixel votes at
  every radius in a Python loop (``acc[iy, ix] += 1``), and every candidate's box is
  built by looping over every edge pixel. The stages that are not per-pixel work
  (preprocessing, edges, vote smoothing, peak picking) are the same calls on both sides.

Reported: frames/s of each, the ratio (target >= 10x), and the voting and support stages
on their own. Correctness gate: the candidates (centres, boxes, strengths) of every frame
must be identical; exit status 1 otherwise.

Usage: python benchmarks/bench_candidates.py [--quick] [--frames N] [--seed S]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.synth.polyps import render_polyp_video  # noqa: E402
from core.tasks.polyps.candidates import CandidateParams, Detection, detect  # noqa: E402
from core.tasks.polyps.candidates_vote import (  # noqa: E402
    WorkFrame,
    band_radii,
    bands,
    box_from_support,
    find_peaks,
    pad_cells,
    prepare,
    support_limits,
    to_full_frame,
    vote_steps,
)

TARGET = 10.0


def vote_counts_loop(work: WorkFrame, p: CandidateParams, radii: np.ndarray,
                     band: np.ndarray) -> list[np.ndarray]:
    """Per-pixel Python voting: each edge pixel, each signed radius, one vote."""
    rows, cols = work.rows.tolist(), work.cols.tolist()
    uys, uxs = work.uy.tolist(), work.ux.tolist()
    out = []
    for b in bands(work.shape, p, radii, band):
        acc = np.zeros(b.grid, np.int64)
        steps = vote_steps(p, b).tolist()
        m = pad_cells(b)  # coordinates in a padded grid, as the vectorised code takes them
        shift = 0.5 + m * b.cell
        for r, c, uy, ux in zip(rows, cols, uys, uxs):
            for step in steps:
                iy = math.floor(((r + shift) + step * uy) / b.cell) - m
                ix = math.floor(((c + shift) + step * ux) / b.cell) - m
                if 0 <= iy < b.grid[0] and 0 <= ix < b.grid[1]:
                    acc[iy, ix] += 1
        out.append(acc)
    return out


def support_boxes_loop(work: WorkFrame, peaks: dict, p: CandidateParams, radii: np.ndarray,
                       band: np.ndarray) -> np.ndarray:
    """Per-pixel support: for each candidate, test every edge pixel in a Python loop."""
    bl = bands(work.shape, p, radii, band)
    rows, cols = work.rows.tolist(), work.cols.tolist()
    uys, uxs = work.uy.tolist(), work.ux.tolist()
    out = np.zeros((len(peaks["y"]), 4))
    for k in range(len(peaks["y"])):
        cy, cx, b = float(peaks["y"][k]), float(peaks["x"][k]), bl[int(peaks["band"][k])]
        lo2, hi2, cos_t = support_limits(p, b)
        sup_r, sup_c = [], []
        for r, c, uy, ux in zip(rows, cols, uys, uxs):
            dy, dx = cy - r, cx - c
            d2 = dy * dy + dx * dx
            if d2 < lo2 or d2 > hi2:
                continue
            dot = dy * uy + dx * ux
            if p.polarity == "dark":
                dot = -dot
            elif p.polarity == "both":
                dot = abs(dot)
            if dot >= cos_t * math.sqrt(d2):
                sup_r.append(r)
                sup_c.append(c)
        out[k] = box_from_support(np.array(sup_r, np.int64), np.array(sup_c, np.int64),
                                  cy, cx, b, p)
    return out


def detect_reference(frame: np.ndarray, p: CandidateParams, timing: dict) -> list[Detection]:
    """The same algorithm as ``detect`` with the voting and support stages as loops."""
    radii, band = band_radii(p)
    work = prepare(frame, p)
    t0 = time.perf_counter()
    counts = vote_counts_loop(work, p, radii, band)
    t1 = time.perf_counter()
    peaks = find_peaks(work, counts, p, radii, band)
    t2 = time.perf_counter()
    boxes = support_boxes_loop(work, peaks, p, radii, band)
    t3 = time.perf_counter()
    timing["vote"] = timing.get("vote", 0.0) + t1 - t0
    timing["support"] = timing.get("support", 0.0) + t3 - t2
    centers, full = to_full_frame(work, peaks, boxes)
    return [Detection((float(c[0]), float(c[1])), tuple(int(v) for v in bx), float(s))
            for c, bx, s in zip(centers, full, peaks["score"], strict=True)]


def stage_times_ours(frame: np.ndarray, p: CandidateParams, timing: dict) -> None:
    """Time ours' voting and support stages alone (for the stage ratios)."""
    from core.tasks.polyps.candidates_vote import support_boxes, vote_counts

    radii, band = band_radii(p)
    work = prepare(frame, p)
    t0 = time.perf_counter()
    counts = vote_counts(work, p, radii, band)
    t1 = time.perf_counter()
    peaks = find_peaks(work, counts, p, radii, band)
    t2 = time.perf_counter()
    support_boxes(work, peaks, p, radii, band)
    t3 = time.perf_counter()
    timing["vote"] = timing.get("vote", 0.0) + t1 - t0
    timing["support"] = timing.get("support", 0.0) + t3 - t2


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 frames instead of 12")
    ap.add_argument("--frames", type=int, default=None, help="number of frames")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    n = args.frames or (4 if args.quick else 12)
    p = CandidateParams()
    frames, _ = render_polyp_video(8 * n, seed=args.seed)
    frames = frames[::8]  # frames apart in the video: different views
    print(f"{n} synthetic polyp frames {frames.shape[2]}x{frames.shape[1]}, "
          f"{len(p.__dataclass_fields__)} parameters at their defaults")
    detect(frames[0], p)  # warm-up (OpenCV, numpy first calls)
    t_ours = t_ref = 0.0
    stages_ours: dict = {}
    stages_ref: dict = {}
    same = 0
    n_edges = n_cands = 0
    for i, frame in enumerate(frames):
        t0 = time.perf_counter()
        ours = detect(frame, p)
        t1 = time.perf_counter()
        ref = detect_reference(frame, p, stages_ref)
        t2 = time.perf_counter()
        t_ours += t1 - t0
        t_ref += t2 - t1
        stage_times_ours(frame, p, stages_ours)
        ok = ours == ref
        same += ok
        n_edges += len(prepare(frame, p).rows)
        n_cands += len(ours)
        print(f"  frame {i}: {len(ours)} candidates, ours {1e3 * (t1 - t0):6.1f} ms, "
              f"loops {1e3 * (t2 - t1):7.1f} ms, identical: {ok}")
    fps_ours, fps_ref = n / t_ours, n / t_ref
    ratio = fps_ours / fps_ref
    print(f"\n{n_edges / n:.0f} edge pixels and {n_cands / n:.1f} candidates per frame")
    met = "met" if ratio >= TARGET else "NOT met"
    print(f"detect      ours {fps_ours:8.1f} frames/s   per-pixel loops {fps_ref:6.2f} frames/s"
          f"   ratio {ratio:6.1f}x  (target >= {TARGET:g}x: {met})")
    for stage in ("vote", "support"):
        a, b = stages_ours[stage] / n, stages_ref[stage] / n
        print(f"  {stage:8s}  ours {1e3 * a:7.2f} ms/frame   loops {1e3 * b:8.1f} ms/frame"
              f"   ratio {b / a:6.1f}x")
    all_ok = same == n
    print("correctness gate:", f"PASS (identical candidates on {same}/{n} frames)" if all_ok
          else f"FAIL (identical candidates on only {same}/{n} frames)")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
