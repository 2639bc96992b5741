"""Benchmark: FROC bootstrap CIs by whole videos, vectorised vs per-resample loops.

Synthetic detector output: 200 videos of 10 frames (2,000 frames), 10,000 candidates
(duplicates on lesions, 2 % ignored, scores rounded to 0.001 so that ties occur), about
0.6 lesions per frame, missed lesions and empty frames included; each video has its own
detection rate, so frames of a video are alike.

Ours: :func:`core.stats.froc_analysis` with ``n_boot`` resamples of whole videos (the
curve, 7 operating points, the CPM, the 49-point band and every CI), timed end to end,
input checking and encoding included.

Reference (the headline ratio): the loop a competent user who knows the library writes —
encode the input to integer codes once, then per resample draw the videos
(``rng.integers(0, G, G)``, the draws ours makes), gather the drawn videos' candidates
and lesions with numpy (no per-mark Python loop) and run the library's own curve code
(``core.stats.froc._curve``) and interpolation (:func:`core.stats.froc_sensitivity`);
the curve and interpolation times only, no percentiles.

Also timed, for information: the loop on the public API — per resample build the
resampled candidate and lesion arrays (each drawn video copied under new image ids) and
call :func:`core.stats.froc_curve`, which checks and encodes its input every time.

Timing: ours and the lean loop alternate, ``--repeats`` runs each (medians), so that
load from other processes falls on both; the public-API loop runs once.

Correctness gate (exit status 1 when it fails): for one seed, every resample's
sensitivity at every FP rate from ours (:func:`core.stats.froc_bootstrap.bootstrap_froc`)
equals both loops' exactly, and so do the CIs and CPM CI that ``froc_analysis`` reports.
The speed target (>= 10x over the lean loop) is reported, not gated.

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
    """The public-API loop (informative): per resample copy the drawn videos under new
    image ids, then :func:`core.stats.froc_curve` and :func:`core.stats.froc_sensitivity`."""
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
    """The lean loop (headline reference): the same per-resample curve code, on arrays
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


def _timed(f):
    t0 = time.perf_counter()
    out = f()
    return time.perf_counter() - t0, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="200 resamples instead of 1,000")
    ap.add_argument("--boot", type=int, default=None, help="resamples (default 1000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3,
                    help="timed runs of ours and of the lean loop, alternating (medians)")
    args = ap.parse_args(argv)
    n_boot = args.boot or (200 if args.quick else 1000)
    rates = DEFAULT_FROC_FPS
    score, les, img, ignore, lesions, images, video = synthetic(seed=args.seed)
    groups = dict(zip(images.tolist(), video.tolist()))
    kw = dict(lesions=lesions, images=images, ignore=ignore, groups=groups)
    print(f"{video.max() + 1} videos, {images.size} frames, {score.size} candidates, "
          f"{len(lesions)} lesions; {n_boot} resamples of whole videos, seed {args.seed}")

    data = encode_froc(score, les, img, **kw)
    froc_analysis(score, les, img, **kw, fps=rates, n_boot=10, seed=args.seed)  # warm-up
    t_ours, t_lean = [], []
    for _ in range(max(1, args.repeats)):  # alternate, so that load falls on both
        t, res = _timed(lambda: froc_analysis(score, les, img, **kw, fps=rates,
                                              n_boot=n_boot, seed=args.seed))
        t_ours.append(t)
        t, lean = _timed(lambda: lean_reference(data, rates, n_boot, args.seed))
        t_lean.append(t)
    t_pub, ref = _timed(lambda: reference(score, les, img, ignore, lesions, images, video,
                                          rates, n_boot, args.seed))
    m_ours, m_lean = statistics.median(t_ours), statistics.median(t_lean)

    reps = bootstrap_froc(data, rates, np.zeros(0), n_boot, np.random.default_rng(args.seed))
    same_reps = np.array_equal(reps.sens, lean, equal_nan=True)
    same_pub = np.array_equal(ref, lean, equal_nan=True)
    lo, hi = percentile_ci(lean, 0.05)
    c_lo, c_hi = percentile_ci(lean.mean(axis=1), 0.05)
    same_ci = [p.ci for p in res.points] == [(float(a), float(b)) for a, b in zip(lo, hi)] \
        and res.cpm_ci == (float(c_lo), float(c_hi))
    max_diff = float(np.nanmax(np.abs(reps.sens - lean)))
    ok = same_reps and same_ci and same_pub

    print(f"  FROC: {res.n_tp} of {res.n_lesions} lesions detected, {res.n_fp} FPs, "
          f"CPM {res.cpm:.4f} (95% CI {res.cpm_ci[0]:.4f}-{res.cpm_ci[1]:.4f})")
    for p in res.points:
        print(f"    {p.fp_rate:6g} FPs/frame: sensitivity {p.sensitivity:.4f} "
              f"(95% CI {p.ci[0]:.4f}-{p.ci[1]:.4f})")
    runs = ", ".join(f"{t:.3f}" for t in t_ours)
    print(f"  ours (froc_analysis, vectorised): {m_ours:8.3f} s  (median of {len(t_ours)}: "
          f"{runs}; {m_ours / n_boot * 1e3:.3f} ms per resample)")
    runs = ", ".join(f"{t:.3f}" for t in t_lean)
    print(f"  lean loop (encoded once):         {m_lean:8.3f} s  (median of {len(t_lean)}: "
          f"{runs}; {m_lean / n_boot * 1e3:.2f} ms per resample)")
    print(f"  public-API loop (froc_curve):     {t_pub:8.3f} s  (one run; "
          f"{t_pub / n_boot * 1e3:.2f} ms per resample)")
    ratio = m_lean / m_ours
    print(f"  ratio vs the lean loop {ratio:.1f}x (target >= {TARGET:g}x: "
          f"{'met' if ratio >= TARGET else 'MISSED'}); vs the public-API loop "
          f"{t_pub / m_ours:.1f}x")
    print(f"correctness gate: {'PASS' if ok else 'FAIL'} (per-resample sensitivities "
          f"identical to the lean loop: {same_reps}, max |diff| {max_diff:.3g}; CIs "
          f"identical: {same_ci}; public-API loop identical: {same_pub})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
