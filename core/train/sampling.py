"""Sampling rules of the paper's training protocol (SPEC §1.3).

* training patches are stratified: classes equally present, by randomly down-sampling
  the majority class(es) and keeping the minority class;
* the training set is split 80 % / 20 % train / validation, grouped by video (patient,
  subject): no group ever appears on both sides;
* reduced-data experiments reduce the training side of a split only (the validation set
  stays fixed across fractions): by whole groups where there are enough of them, else by
  frames spread through every group (:func:`reduce_training`);
* the paper's sampling of one labelled frame every 5 s (:func:`interval_sample`).
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


def interval_sample(frames, step: float, n_frames: int | None = None) -> np.ndarray:
    """Positions of the frames nearest a regular grid: one per ``step`` frames at most.

    The paper labels one frame every 5 s (SPEC §1.6); with ``step = interval_s * fps``
    the grid is the sample times ``0, step, 2 step, ...``. Each frame belongs to its
    nearest grid point (``round(frame / step)``) and, of the frames of one grid point,
    the one nearest it is kept (the earlier on a tie). Frames labelled exactly on the
    grid are therefore all kept, whatever the rounding of ``k * step``.

    Parameters
    ----------
    frames : (N,) int
        Frame numbers of one study (any order, distinct).
    step : float
        Grid spacing in frames, > 0.
    n_frames : int, optional
        The study's length: sample times past its last frame do not exist, so frames
        nearest one of them (the last few of the video) are not kept.

    Returns
    -------
    (K,) int64 positions into ``frames``, sorted by frame.
    """
    frames = _as_int_array(frames, "frames").astype(np.int64)
    if not step > 0:
        raise ValueError(f"step must be > 0 frames, got {step}")
    if len(frames) == 0:
        return np.zeros(0, np.int64)
    q = frames / float(step)
    point = np.floor(q + 0.5).astype(np.int64)  # nearest grid point (halves go up)
    if n_frames is not None:
        inside = point * float(step) <= n_frames - 1 + 1e-9
        frames, q, point = frames[inside], q[inside], point[inside]
        where = np.flatnonzero(inside)
    else:
        where = np.arange(len(frames))
    dist = np.abs(q - point)
    order = np.lexsort((frames, dist, point))  # by grid point, then distance, then frame
    first = np.r_[True, point[order][1:] != point[order][:-1]]
    keep = order[first]
    return where[keep[np.argsort(frames[keep], kind="stable")]].astype(np.int64)


def _spread(m: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` of ``range(m)`` spread evenly (a random phase), sorted."""
    if k <= 0:
        return np.zeros(0, np.int64)
    return np.floor((np.arange(k) + rng.random()) * m / k).astype(np.int64)


def _quotas(sizes: np.ndarray, total: int, rng: np.random.Generator) -> np.ndarray:
    """``total`` split over groups in proportion to ``sizes`` (largest remainder)."""
    exact = total * sizes / sizes.sum()
    q = np.floor(exact).astype(np.int64)
    rest = exact - q + rng.random(len(sizes)) * 1e-9  # random order among equal remainders
    q[np.argsort(-rest, kind="stable")[: total - int(q.sum())]] += 1
    return np.minimum(q, sizes)


def reduce_training(groups, labels, fraction: float, rng: np.random.Generator, *,
                    tolerance: float = 0.25, tries: int = 64) -> tuple[np.ndarray, dict]:
    """The training items kept for a reduced-data experiment (SPEC §1.8).

    Call it on the *training side* of a split (never before the split): the validation
    set then stays the same for every fraction, and only the training data shrink.

    Rule: by whole groups (videos, patients) when there are enough of them, i.e. when
    ``k = round(fraction * G)`` groups is at least one and within ``tolerance`` of the
    ``fraction * G`` asked for (4 videos at 50 %: 2 videos; 20 videos at 10 %: 2); among
    ``tries`` random choices of ``k`` groups, one with every class and the kept share of
    items nearest ``fraction`` is taken. Otherwise within groups: ``round(fraction * N)``
    items (at least one per class) are shared among the groups in proportion to their
    sizes and spread evenly through each group's items (in the order given: by study and
    frame), so a group keeps frames from its whole length, not one contiguous stretch of
    near-duplicates. A class that the spread missed takes the place of one item of the
    class kept most, so the count stays ``round(fraction * N)``.

    Parameters
    ----------
    groups : (N,) int
        Group of each training item.
    labels : (N,) int
        Class of each training item.
    fraction : float
        Share of the training data to keep, in (0, 1].
    rng : numpy.random.Generator

    Returns
    -------
    keep : (K,) int64 positions into ``groups``, sorted.
    kept : dict
        What was kept, JSON-ready: ``fraction``, ``level`` (``"all"``, ``"group"`` or
        ``"item"``), ``kept_items``/``of_items``, ``kept_groups``/``of_groups``.
    """
    groups = _as_int_array(groups, "groups")
    labels = _as_int_array(labels, "labels")
    if groups.shape != labels.shape:
        raise ValueError("groups and labels must have the same length")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    n = len(groups)
    uniq = np.unique(groups)
    classes = np.unique(labels)
    keep = np.arange(n, dtype=np.int64)
    level = "all"
    want = fraction * len(uniq)
    k = int(round(want))
    if fraction >= 1.0 or n == 0:
        pass
    elif k >= 1 and abs(k - want) <= tolerance * want:
        level = "group"
        best, best_key = None, None
        for _ in range(tries):
            chosen = rng.choice(uniq, k, replace=False)
            mask = np.isin(groups, chosen)
            key = (len(np.unique(labels[mask])) < len(classes),
                   abs(int(mask.sum()) - fraction * n))
            if best_key is None or key < best_key:
                best, best_key = mask, key
        keep = np.flatnonzero(best).astype(np.int64)
    else:
        level = "item"
        total = min(n, max(len(classes), int(round(fraction * n))))
        members = [np.flatnonzero(groups == g) for g in uniq]
        quota = _quotas(np.array([len(m) for m in members]), total, rng)
        keep = np.concatenate([m[_spread(len(m), q, rng)] for m, q in zip(members, quota)])
        for c in classes:  # a missed class takes the place of the most kept one
            if not np.any(labels[keep] == c):
                vals, counts = np.unique(labels[keep], return_counts=True)
                drop = rng.choice(np.flatnonzero(labels[keep] == vals[np.argmax(counts)]))
                keep = np.r_[np.delete(keep, drop), rng.choice(np.flatnonzero(labels == c))]
        keep = np.sort(keep).astype(np.int64)
    return keep, {"fraction": float(fraction), "level": level, "kept_items": int(len(keep)),
                  "of_items": int(n), "kept_groups": int(len(np.unique(groups[keep]))),
                  "of_groups": int(len(uniq))}
