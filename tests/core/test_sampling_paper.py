"""The paper's data protocol: reduced training data (item 25) and 1-frame-in-5-s sampling
(item 26), at the level of the sampling functions."""

from __future__ import annotations

import numpy as np
import pytest

from core.train.sampling import grouped_split, interval_sample, reduce_training


def _videos(n_videos: int, per_video: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_videos), per_video)
    # runs of one class, as in a video (segments of 4..12 frames)
    labels = np.concatenate([rng.integers(0, 2, per_video)[np.arange(per_video) // 8]
                             for _ in range(n_videos)])
    return groups, labels


@pytest.mark.parametrize("fraction", [0.25, 0.1, 0.01])
def test_few_videos_are_reduced_within_videos_keeping_both_classes(fraction):
    groups, labels = _videos(3, 27)  # the training side of 4 videos after validation
    keep, kept = reduce_training(groups, labels, fraction, np.random.default_rng(1))
    assert kept["level"] == "item" and kept["of_items"] == 81
    assert len(keep) == kept["kept_items"] == max(2, round(fraction * 81))
    assert set(labels[keep]) == {0, 1}  # stratified training stays possible
    assert len(np.unique(keep)) == len(keep) and np.all(np.diff(keep) > 0)
    if fraction == 0.25:  # spread through every video, not one contiguous stretch
        assert kept["kept_groups"] == 3
        for g in range(3):
            pos = keep[groups[keep] == g] - 27 * g
            assert pos.max() - pos.min() >= 15


def test_enough_videos_are_reduced_by_whole_videos():
    groups, labels = _videos(20, 10, seed=2)
    keep, kept = reduce_training(groups, labels, 0.1, np.random.default_rng(3))
    assert kept["level"] == "group" and kept["kept_groups"] == 2
    kept_groups = np.unique(groups[keep])
    assert np.array_equal(keep, np.flatnonzero(np.isin(groups, kept_groups)))  # whole videos
    # 4 videos at 50 %: two whole videos; 3 videos at 50 %: 1.5 videos, so frames instead
    g4, l4 = _videos(4, 10)
    assert reduce_training(g4, l4, 0.5, np.random.default_rng(0))[1]["kept_groups"] == 2
    g3, l3 = _videos(3, 10)
    assert reduce_training(g3, l3, 0.5, np.random.default_rng(0))[1]["level"] == "item"
    keep, kept = reduce_training(g3, l3, 1.0, np.random.default_rng(0))
    assert kept["level"] == "all" and len(keep) == 30


def test_validation_is_the_same_at_every_fraction():
    """Split first, then reduce the training side: the validation videos never change."""
    groups, labels = _videos(5, 30, seed=4)
    vals = set()
    for fraction in (1.0, 0.5, 0.25, 0.1, 0.01):
        train, val = grouped_split(groups, labels, 0.2, np.random.default_rng([7, 0]))
        keep, _ = reduce_training(groups[train], labels[train], fraction,
                                  np.random.default_rng([7, 4]))
        assert not set(groups[train[keep]]) & set(groups[val])
        vals.add(tuple(val))
    assert len(vals) == 1


def test_interval_sample_keeps_the_frame_nearest_each_sample_time():
    # 25 fps, one frame every 5 s: step 125 frames
    frames = np.array([0, 3, 124, 125, 130, 250, 260, 500, 620])
    pos = interval_sample(frames, 125.0)
    assert frames[pos].tolist() == [0, 125, 250, 500, 620]
    # frames labelled on a grid whose step is not a whole number are all kept
    step = 5 * 29.97
    grid = np.round(np.arange(40) * step).astype(int)
    assert len(interval_sample(np.r_[grid, grid + 7], step)) == 40
    assert np.array_equal(np.sort(interval_sample(grid, step)), np.arange(40))
    # frames nearest a sample time past the video's end are not samples
    assert frames[interval_sample(frames, 125.0, n_frames=600)].tolist() == [0, 125, 250, 500]
    assert interval_sample(np.arange(15), 5.0, n_frames=15).tolist() == [0, 5, 10]
    with pytest.raises(ValueError):
        interval_sample(frames, 0.0)
