"""Sampling rules of the paper's training protocol (SPEC §1.3).

* training patches are stratified: classes equally present, by randomly down-sampling
  the majority class(es) and keeping the minority class;
* the training set is split 80 % / 20 % train / validation, grouped by video (patient,
  subject): no group ever appears on both sides;
* reduced-data experiments drop whole groups, never frames.
"""

from __future__ import annotations

import numpy as np


def _as_int_array(a, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    return a


def stratify(labels, rng: np.random.Generator) -> np.ndarray:
    """Indices of a class-balanced subset: every class down-sampled to the rarest one.

    Parameters
    ----------
    labels : (N,) array of int
        Class of each sample.
    rng : numpy.random.Generator

    Returns
    -------
    (K * n_min,) int64 array of indices, sorted; K classes present.
    """
    labels = _as_int_array(labels, "labels")
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise ValueError(
            f"stratified sampling needs at least two classes, found only {classes.tolist()}"
        )
    n_min = int(counts.min())
    keep = [rng.choice(np.flatnonzero(labels == c), n_min, replace=False) for c in classes]
    return np.sort(np.concatenate(keep)).astype(np.int64)


def grouped_split(
    groups, labels, val_fraction: float, rng: np.random.Generator, *, tries: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Split samples into train / validation by whole groups.

    Groups are shuffled and taken for validation until about ``val_fraction`` of the
    samples are there; among ``tries`` shuffles the one closest to the target that has
    every class on both sides is kept (any closest one if none has).

    Returns
    -------
    train_idx, val_idx : int64 arrays of sample indices (disjoint; no shared group).
    """
    groups = _as_int_array(groups, "groups")
    labels = _as_int_array(labels, "labels")
    if groups.shape != labels.shape:
        raise ValueError("groups and labels must have the same length")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    uniq, counts = np.unique(groups, return_counts=True)
    if len(uniq) < 2:
        raise ValueError(
            "a validation split by video needs at least two videos (groups); found "
            f"{len(uniq)}"
        )
    classes = np.unique(labels)
    n = len(groups)
    target = val_fraction * n
    best, best_key = None, None
    for _ in range(tries):
        order = rng.permutation(len(uniq))
        cum = np.cumsum(counts[order])
        # smallest prefix reaching the target, but never all groups
        k = int(np.searchsorted(cum, target)) + 1
        k = min(max(k, 1), len(uniq) - 1)
        # the prefix of k or k-1 groups, whichever is closer to the target
        if k > 1 and abs(cum[k - 2] - target) < abs(cum[k - 1] - target):
            k -= 1
        val_groups = uniq[order[:k]]
        is_val = np.isin(groups, val_groups)
        both = all(
            np.any(labels[is_val] == c) and np.any(labels[~is_val] == c) for c in classes
        )
        key = (not both, abs(int(is_val.sum()) - target))
        if best_key is None or key < best_key:
            best, best_key = is_val, key
    assert best is not None
    return np.flatnonzero(~best).astype(np.int64), np.flatnonzero(best).astype(np.int64)


def group_fraction(groups, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Indices of samples in a random ``fraction`` of the groups (at least one group).

    Used for the reduced-training-data experiments: data are reduced at the video /
    patient level.
    """
    groups = _as_int_array(groups, "groups")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    uniq = np.unique(groups)
    if fraction >= 1.0:
        return np.arange(len(groups), dtype=np.int64)
    k = max(1, int(round(fraction * len(uniq))))
    chosen = rng.choice(uniq, k, replace=False)
    return np.flatnonzero(np.isin(groups, chosen)).astype(np.int64)


def segment_groups(frames, n_segments: int) -> np.ndarray:
    """Pseudo-groups for a single video: contiguous runs of frames.

    With one video there is no video-level split; contiguous segments are the next
    best unit (adjacent frames are near-duplicates, so a random frame split would leak).
    """
    frames = _as_int_array(frames, "frames")
    if len(frames) == 0:
        return frames.astype(np.int64)
    order = np.argsort(frames, kind="stable")
    seg = np.empty(len(frames), dtype=np.int64)
    seg[order] = np.arange(len(frames)) * n_segments // len(frames)
    return seg
