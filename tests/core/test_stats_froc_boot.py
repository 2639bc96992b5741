"""FROC bootstrap: whole videos resampled, vectorised == a per-resample loop, seeds, widths."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.stats import froc_analysis, froc_curve, froc_sensitivity, percentile_ci
from core.stats.froc import band_grid
from core.stats.froc_bootstrap import BLOCK, _Counts, bootstrap_froc
from core.stats.froc_data import encode_froc

RATES = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def videos(n_videos: int, frames: int, seed: int, spread: tuple[float, float] = (0.3, 0.95)):
    """Detector output on ``n_videos`` videos of ``frames`` frames.

    Each video has its own detection rate (drawn from ``spread``), so frames of a video
    are alike; frames hold 0-2 lesions, 0-4 false positives, duplicates on some lesions,
    a few ignored marks, ties (scores rounded to 0.01) and frames with nothing at all.
    """
    rng = np.random.default_rng(seed)
    s, les, img, ign, lesions, groups = [], [], [], [], [], {}
    for v in range(n_videos):
        q = rng.uniform(*spread)
        for f in range(frames):
            name = f"v{v}/f{f}"
            groups[name] = f"v{v}"
            for k in range(1, int(rng.integers(0, 3)) + 1):
                lesions.append((name, str(k)))
                if rng.random() < q:
                    for _ in range(int(rng.integers(1, 3))):  # 1 or 2 marks on the lesion
                        s.append(round(rng.normal(1.0, 0.6), 2))
                        les.append(str(k))
                        img.append(name)
                        ign.append(rng.random() < 0.05)
            for _ in range(int(rng.poisson(1.2))):
                s.append(round(rng.normal(0.0, 0.6), 2))
                les.append("")
                img.append(name)
                ign.append(rng.random() < 0.05)
    return (np.array(s), np.array(les), np.array(img),
            dict(lesions=lesions, images=list(groups), ignore=np.array(ign), groups=groups))


def loop_reference(s, les, img, kw, rates, n_boot, seed, per="image", grouped=True):
    """What a careful user writes: per resample, copy the drawn videos (new image ids),
    then the same curve and interpolation functions. Draws: ``rng.integers(0, G, G)`` per
    resample into the sorted group keys (each image its own group when not grouped)."""
    groups = kw["groups"] if grouped else {i: i for i in kw["images"]}
    keys = np.unique(np.array(list(groups.values()), dtype=str))
    members = {k: [] for k in keys}
    for i in kw["images"]:
        members[groups[i]].append(i)
    cand_at = {i: [] for i in kw["images"]}
    for j, i in enumerate(img):
        cand_at[i].append(j)
    les_at = {i: [] for i in kw["images"]}
    for i, k in kw["lesions"]:
        les_at[i].append(k)
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, len(rates)))
    for b in range(n_boot):
        picks = rng.integers(0, keys.size, size=keys.size)
        rs, rl, ri, rg, rles, rimg, rgrp = [], [], [], [], [], [], {}
        for copy, g in enumerate(picks):
            for i in members[keys[g]]:
                new = f"{copy}|{i}"
                rimg.append(new)
                rgrp[new] = f"{copy}|{keys[g]}"
                rles += [(new, k) for k in les_at[i]]
                for j in cand_at[i]:
                    rs.append(s[j])
                    rl.append(les[j])
                    ri.append(new)
                    rg.append(kw["ignore"][j])
        if not rles:
            out[b] = np.nan
            continue
        fps, sens, _ = froc_curve(np.array(rs), np.array(rl, dtype=str), np.array(ri),
                                  lesions=rles, images=rimg, ignore=np.array(rg, dtype=bool),
                                  groups=rgrp, per=per)
        out[b] = froc_sensitivity(fps, sens, rates)
    return out


@pytest.mark.parametrize("per, grouped", [("image", True), ("group", True), ("image", False)])
def test_vectorised_equals_loop_reference(per, grouped):
    s, les, img, kw = videos(6, 5, seed=4)
    n_boot, seed = 60, 11
    rates = (0.0, 0.1, 0.125, 0.25, 0.5, 0.75, 1.0, 2.0, 8.0)
    ref = loop_reference(s, les, img, kw, rates, n_boot, seed, per, grouped)
    data = encode_froc(s, les, img, **(kw if grouped else {**kw, "groups": None}))
    reps = bootstrap_froc(data, rates, np.zeros(0), n_boot, np.random.default_rng(seed),
                          per=per)
    np.testing.assert_array_equal(reps.sens, ref)  # identical numbers, not merely close
    small = bootstrap_froc(data, rates, np.zeros(0), n_boot, np.random.default_rng(seed),
                           per=per, chunk_cells=100)  # many chunks, same draws
    np.testing.assert_array_equal(small.sens, ref)
    res = froc_analysis(s, les, img, **(kw if grouped else {**kw, "groups": None}), fps=rates,
                        n_boot=n_boot, seed=seed, per=per)
    lo, hi = percentile_ci(ref, 0.05)
    assert [p.ci for p in res.points] == [(float(a), float(b)) for a, b in zip(lo, hi)]
    c_lo, c_hi = percentile_ci(ref.mean(axis=1), 0.05)
    assert res.cpm_ci == (float(c_lo), float(c_hi))
    assert res.resampled == ("group" if grouped else "image")


@pytest.mark.parametrize("n_events, top", [(0, 3), (1, 3), (BLOCK - 2, 3), (BLOCK, 3),
                                          (5 * BLOCK + 7, 3), (3 * BLOCK + 1, 40_000)])
def test_counts_equal_cumsum_and_search_finds_last_row(n_events, top):
    # running counts of events per replicate, two-level (int16 parts unless a
    # multiplicity as large as `top` forces int32), against a plain cumulative sum
    rng = np.random.default_rng(n_events)
    b, units = 7, 5
    w_t = rng.integers(0, top + 1, (units, b)).astype(np.int32)
    ev = rng.integers(0, units, n_events)
    counts = _Counts(w_t, ev, np.int32)
    assert counts.part.dtype == (np.int16 if top * BLOCK < 2**15 else np.int32)
    full = np.vstack([np.zeros((1, b), np.int64), np.cumsum(w_t[ev], axis=0)])
    rows = np.tile(np.arange(n_events + 1), (b, 1))
    np.testing.assert_array_equal(counts.at(rows), full.T)
    c = rng.integers(0, full[-1].max() + 2, (b, 9))
    c[:, 0] = 0
    want = np.array([[np.flatnonzero(full[:, r] <= q)[-1] for q in c[r]] for r in range(b)])
    got = counts.last_at_or_below(c)
    # rows past the last event (padding) repeat its count: same count, same answer
    np.testing.assert_array_equal(np.minimum(got, n_events), want)
    np.testing.assert_array_equal(counts.at(got), counts.at(want))


def test_band_matches_loop_reference():
    s, les, img, kw = videos(5, 4, seed=8)
    grid = band_grid(RATES)
    assert grid[0] == 0.125 and grid[-1] == pytest.approx(8) and grid.size == 49
    data = encode_froc(s, les, img, **kw)
    reps = bootstrap_froc(data, RATES, grid, 30, np.random.default_rng(2))
    ref = loop_reference(s, les, img, kw, tuple(grid), 30, 2)
    np.testing.assert_array_equal(reps.band, ref)


def test_reproducible_with_a_seed():
    s, les, img, kw = videos(12, 6, seed=1)
    a = froc_analysis(s, les, img, **kw, n_boot=300, seed=5)
    b = froc_analysis(s, les, img, **kw, n_boot=300, seed=5)
    c = froc_analysis(s, les, img, **kw, n_boot=300, seed=6)
    assert a.points == b.points and a.cpm_ci == b.cpm_ci
    np.testing.assert_array_equal(a.band_lo, b.band_lo)
    assert a.cpm_ci != c.cpm_ci
    assert a.cpm == c.cpm  # the estimate itself does not depend on the seed
    assert a.cpm_ci[0] <= a.cpm <= a.cpm_ci[1]


def test_ci_narrows_with_more_videos():
    widths = {}
    for n in (8, 80):
        s, les, img, kw = videos(n, 5, seed=n)
        r = froc_analysis(s, les, img, **kw, n_boot=400, seed=0)
        widths[n] = r.cpm_ci[1] - r.cpm_ci[0]
        assert r.n_groups == n and r.resampled == "group"
    # ten times the videos: about sqrt(10) ~ 3x narrower
    assert widths[80] < 0.55 * widths[8], widths


def test_whole_videos_resampled_give_wider_ci_than_frames():
    # videos are either good (90 % detected) or bad (10 %): frames of a video are alike,
    # so frame resampling understates the uncertainty about new videos
    s, les, img, kw = videos(10, 20, seed=3, spread=(0.05, 0.95))
    by_video = froc_analysis(s, les, img, **kw, n_boot=400)
    by_frame = froc_analysis(s, les, img, **{**kw, "groups": None}, n_boot=400)
    w_video = by_video.cpm_ci[1] - by_video.cpm_ci[0]
    w_frame = by_frame.cpm_ci[1] - by_frame.cpm_ci[0]
    assert by_frame.resampled == "image" and by_video.resampled == "group"
    assert w_video > 1.5 * w_frame, (w_video, w_frame)


def test_single_group_falls_back_to_images_and_says_so():
    s, les, img, kw = videos(1, 12, seed=2)
    r = froc_analysis(s, les, img, **kw, n_boot=100)
    assert r.n_groups == 1 and r.resampled == "image"
    assert all(math.isfinite(v) for v in r.cpm_ci)
    assert any("one group" in v for v in r.verdict())


def test_resamples_without_lesions_are_left_out():
    # one lesion in one of 4 videos: about (3/4)^4 = 32 % of resamples draw no lesion
    s = np.array([0.9, 0.1, 0.2, 0.3])
    img = np.array(["a", "b", "c", "d"])
    res = froc_analysis(s, ["1", "", "", ""], img, lesions=[("a", "1")], n_boot=400)
    assert 0.2 * 400 < res.n_boot - res.n_boot_valid < 0.45 * 400
    assert any("drew no lesion" in v for v in res.verdict())
    assert all(math.isfinite(v) for v in res.cpm_ci)
