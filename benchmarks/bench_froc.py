"""Benchmark: FROC bootstrap CIs by whole videos, vectorised vs a per-resample loop.

Synthetic detector output: 200 videos of 10 frames (2,000 frames), 10,000 candidates
(duplicates on lesions, 2 % ignored, scores rounded to 0.001 so that ties occur), about
0.6 lesions per frame, missed lesions and empty frames included; each video has its own
detection rate, so frames of a video are alike.

Ours: :func:`core.stats.froc_analysis` with ``n_boot`` resamples of whole videos (the
curve, 7 operating points, the CPM, the 49-point band and every CI), timed end to end,
median of ``--repeats`` runs.

Reference: what a competent user writes with the same library: for each resample draw the
videos (``rng.integers(0, G, G)``, the draws ours makes), build the resampled candidate
and lesion arrays (each drawn video copied under new image ids, with numpy, no per-mark
Python loop), and run the same curve function (:func:`core.stats.froc_curve`) and
interpolation (:func:`core.stats.froc_sensitivity`) on them; then percentile CIs.

Also timed, for information: a leaner loop that a user who knows the internals could
write — the same per-resample curve code on arrays encoded to integer codes once, so
no id checks or string keys per resample; it isolates what the vectorisation itself buys.

Correctness gate (exit status 1 when it fails): for one seed, every resample's
sensitivity at every FP rate from ours (:func:`core.stats.froc_bootstrap.bootstrap_froc`)
equals the reference's exactly (and the leaner loop's), and so do the CIs and CPM CI that
``froc_analysis`` reports. The speed target (>= 10x) is reported, not gated.

Usage: python benchmarks/bench_froc.py [--quick] [--boot N] [--seed S] [--repeats R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.stats import (  # noqa: E402
    DEFAULT_FROC_FPS,
    froc_analysis,
    froc_curve,
    froc_sensitivity,
    percentile_ci,
)
from core.stats.froc import _curve  # noqa: E402
from core.stats.froc_bootstrap import bootstrap_froc  # noqa: E402
from core.stats.froc_data import FrocData, encode_froc  # noqa: E402

TARGET = 10.0


def synthetic(n_videos: int = 200, frames: int = 10, n_cands: int = 10_000, seed: int = 0):
    """Detector output as arrays: candidates (score, lesion id 0 = none, image, ignore),
    lesions as an (L, 2) array of (image, lesion id), images 0..F-1, video of each image."""
    rng = np.random.default_rng(seed)
    n_img = n_videos * frames
    video = np.repeat(np.arange(n_videos), frames)
    n_les = rng.choice([0, 1, 2], size=n_img, p=[0.55, 0.35, 0.10])
    lesions = np.column_stack([np.repeat(np.arange(n_img), n_les),
                               np.concatenate([np.arange(1, k + 1) for k in n_les])])
    q = rng.uniform(0.3, 0.95, n_videos)[video]  # each video's detection rate
    img = np.sort(rng.integers(0, n_img, n_cands))
    on = (rng.random(n_cands) < q[img]) & (n_les[img] > 0)
    les = np.where(on, rng.integers(0, 2, n_cands) % np.maximum(n_les[img], 1) + 1, 0)
    score = np.where(on, rng.normal(1.0, 0.7, n_cands), rng.normal(0.0, 0.7, n_cands))
    ignore = rng.random(n_cands) < 0.02
    return np.round(score, 3), les, img, ignore, lesions, np.arange(n_img), video


def reference(score, les, img, ignore, lesions, images, video, rates, n_boot, seed):
    """Per resample: copy the drawn videos under new image ids, curve, interpolate."""
    keys = np.unique(video)  # the sorted group keys ours numbers its draws by
    n_img = images.size
    c_of = [np.flatnonzero(video[img] == g) for g in keys]
    l_of = [np.flatnonzero(video[lesions[:, 0]] == g) for g in keys]
    i_of = [np.flatnonzero(video == g) for g in keys]
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, len(rates)))
    for b in range(n_boot):
        picks = rng.integers(0, keys.size, size=keys.size)
        ci = np.concatenate([c_of[g] for g in picks])
        c_copy = np.repeat(np.arange(picks.size), [c_of[g].size for g in picks])
        li = np.concatenate([l_of[g] for g in picks])
        l_copy = np.repeat(np.arange(picks.size), [l_of[g].size for g in picks])
        ii = np.concatenate([i_of[g] for g in picks])
        i_copy = np.repeat(np.arange(picks.size), [i_of[g].size for g in picks])
        if li.size == 0:
            out[b] = np.nan
            continue
        r_les = np.column_stack([l_copy * n_img + lesions[li, 0], lesions[li, 1]])
        fps, sens, _ = froc_curve(score[ci], les[ci], c_copy * n_img + img[ci], lesions=r_les,
                                  images=i_copy * n_img + images[ii], ignore=ignore[ci])
        out[b] = froc_sensitivity(fps, sens, rates)
    return out


def lean_reference(data: FrocData, rates, n_boot: int, seed: int) -> np.ndarray:
    """A leaner loop (informative): the same per-resample curve code, but on arrays
    encoded once (integer codes), so no id checks or key encoding per resample."""
    g_of_img = data.image_group
    n_g = data.n_groups
    c_of = [np.flatnonzero(g_of_img[data.image] == g) for g in range(n_g)]
    l_of = [np.flatnonzero(g_of_img[data.lesion_image] == g) for g in range(n_g)]
    n_img_g = np.bincount(g_of_img, minlength=n_g)
    local = np.empty(data.n_lesions, dtype=np.int64)  # a lesion's place in its group
    for idx in l_of:
        local[idx] = np.arange(idx.size)
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, len(rates)))
    for b in range(n_boot):
        picks = rng.integers(0, n_g, size=n_g)
        ci = np.concatenate([c_of[g] for g in picks])
        n_les = np.array([l_of[g].size for g in picks])
        off = np.repeat(np.cumsum(n_les) - n_les, [c_of[g].size for g in picks])
        lesion = np.where(data.lesion[ci] >= 0, off + local[data.lesion[ci]], -1)
        li = np.concatenate([l_of[g] for g in picks])
        n_images = int(n_img_g[picks].sum())
        if li.size == 0:
            out[b] = np.nan
            continue
        sample = FrocData(data.scores[ci], data.image[ci], lesion, data.ignore[ci],
                          data.lesion_image[li], np.zeros(n_images, np.int64),
                          np.empty(n_images, dtype=str), data.group_keys, data.grouped)
        fps, sens, _ = _curve(sample, "image")
        out[b] = froc_sensitivity(fps, sens, rates)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="200 resamples instead of 1,000")
    ap.add_argument("--boot", type=int, default=None, help="resamples (default 1000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of ours (median)")
    args = ap.parse_args(argv)
    n_boot = args.boot or (200 if args.quick else 1000)
    rates = DEFAULT_FROC_FPS
    score, les, img, ignore, lesions, images, video = synthetic(seed=args.seed)
    groups = dict(zip(images.tolist(), video.tolist()))
    kw = dict(lesions=lesions, images=images, ignore=ignore, groups=groups)
    print(f"{video.max() + 1} videos, {images.size} frames, {score.size} candidates, "
          f"{len(lesions)} lesions; {n_boot} resamples of whole videos, seed {args.seed}")

    times = []
    for _ in range(max(1, args.repeats)):
        t0 = time.perf_counter()
        res = froc_analysis(score, les, img, **kw, fps=rates, n_boot=n_boot, seed=args.seed)
        times.append(time.perf_counter() - t0)
    t_ours = statistics.median(times)
    t0 = time.perf_counter()
    ref = reference(score, les, img, ignore, lesions, images, video, rates, n_boot, args.seed)
    t_ref = time.perf_counter() - t0

    data = encode_froc(score, les, img, **kw)
    t0 = time.perf_counter()
    lean = lean_reference(data, rates, n_boot, args.seed)
    t_lean = time.perf_counter() - t0

    reps = bootstrap_froc(data, rates, np.zeros(0), n_boot, np.random.default_rng(args.seed))
    same_reps = np.array_equal(reps.sens, ref, equal_nan=True)
    same_lean = np.array_equal(lean, ref, equal_nan=True)
    lo, hi = percentile_ci(ref, 0.05)
    c_lo, c_hi = percentile_ci(ref.mean(axis=1), 0.05)
    same_ci = [p.ci for p in res.points] == [(float(a), float(b)) for a, b in zip(lo, hi)] \
        and res.cpm_ci == (float(c_lo), float(c_hi))
    max_diff = float(np.nanmax(np.abs(reps.sens - ref)))
    ok = same_reps and same_ci and same_lean

    print(f"  FROC: {res.n_tp} of {res.n_lesions} lesions detected, {res.n_fp} FPs, "
          f"CPM {res.cpm:.4f} (95% CI {res.cpm_ci[0]:.4f}-{res.cpm_ci[1]:.4f})")
    for p in res.points:
        print(f"    {p.fp_rate:6g} FPs/frame: sensitivity {p.sensitivity:.4f} "
              f"(95% CI {p.ci[0]:.4f}-{p.ci[1]:.4f})")
    ratio = t_ref / t_ours
    print(f"  ours (froc_analysis, vectorised): {t_ours:8.3f} s  (median of {len(times)}; "
          f"{t_ours / n_boot * 1e3:.2f} ms per resample)")
    print(f"  per-resample loop reference:      {t_ref:8.3f} s  "
          f"({t_ref / n_boot * 1e3:.2f} ms per resample)")
    print(f"  ratio {ratio:.1f}x (target >= {TARGET:g}x: {'met' if ratio >= TARGET else 'MISSED'})")
    print(f"  informative, a leaner loop (same curve code on arrays encoded once): "
          f"{t_lean:.3f} s ({t_lean / n_boot * 1e3:.2f} ms per resample), ratio "
          f"{t_lean / t_ours:.1f}x")
    print(f"correctness gate: {'PASS' if ok else 'FAIL'} (per-resample sensitivities "
          f"identical: {same_reps}, max |diff| {max_diff:.3g}; CIs identical: {same_ci}; "
          f"leaner loop identical: {same_lean})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
