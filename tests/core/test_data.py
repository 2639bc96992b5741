"""Stratification, grouped split, reduced data."""

from __future__ import annotations

import numpy as np
import pytest

from core.train.sampling import group_fraction, grouped_split, segment_groups, stratify


def test_stratify_balances_by_downsampling_majority():
    rng = np.random.default_rng(0)
    labels = np.array([0] * 70 + [1] * 30)
    idx = stratify(labels, rng)
    assert np.bincount(labels[idx]).tolist() == [30, 30]
    assert set(np.flatnonzero(labels == 1)) <= set(idx)  # minority kept whole
    assert len(np.unique(idx)) == len(idx)
    with pytest.raises(ValueError, match="two classes"):
        stratify(np.zeros(5, int), rng)


@pytest.mark.parametrize("seed", range(20))
def test_grouped_split_never_shares_a_video(seed):
    rng = np.random.default_rng(seed)
    n_groups = int(rng.integers(2, 12))
    groups = rng.integers(0, n_groups, 400)
    groups[:n_groups] = np.arange(n_groups)  # every group present
    labels = rng.integers(0, 2, 400)
    tr, va = grouped_split(groups, labels, 0.2, rng)
    assert len(tr) + len(va) == 400
    assert not set(groups[tr]) & set(groups[va])
    assert len(va) > 0 and len(tr) > 0


def test_grouped_split_close_to_fraction_with_both_classes():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(10), 50)
    labels = np.tile(np.r_[np.zeros(25, int), np.ones(25, int)], 10)
    tr, va = grouped_split(groups, labels, 0.2, rng)
    assert len(va) == 100
    assert set(labels[va]) == {0, 1}
    with pytest.raises(ValueError, match="two videos"):
        grouped_split(np.zeros(10, int), labels[:10], 0.2, rng)


def test_group_fraction_drops_whole_groups():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(8), 10)
    idx = group_fraction(groups, 0.25, rng)
    kept = np.unique(groups[idx])
    assert len(kept) == 2
    assert len(idx) == 20  # all frames of the kept videos
    assert len(group_fraction(groups, 1.0, rng)) == 80


def test_segment_groups_contiguous():
    frames = np.array([9, 0, 5, 3, 7, 1, 8, 2, 6, 4])
    seg = segment_groups(frames, 5)
    order = np.argsort(frames)
    assert seg[order].tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
