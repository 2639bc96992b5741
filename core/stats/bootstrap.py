"""Bootstrap resampling: item and whole-group (cluster) resamples, percentile intervals.

A bootstrap replicate here is described either by *multiplicities* (how many times each
item was drawn: an integer array of shape (n_boot, n), cheap to turn into weighted sums
and cumulative counts) or by *indices* (the drawn items, in draw order). Both come from
the same draws, so for one generator state they describe the same resamples.

Items of one group — the frames of one video, the videos of one patient — are not
independent: resampling items treats them as if they were and gives intervals that are
too narrow. The cluster bootstrap resamples whole groups with replacement and keeps every
item of each drawn group [3]_, [4]_.

References
----------
.. [1] B. Efron, "Bootstrap methods: another look at the jackknife", Annals of Statistics
   7(1):1-26, 1979.
.. [2] B. Efron, R. J. Tibshirani, "An Introduction to the Bootstrap", Chapman & Hall,
   1993, ch. 13 (the percentile interval).
.. [3] A. C. Davison, D. V. Hinkley, "Bootstrap Methods and their Application", Cambridge
   University Press, 1997, §3.8 (hierarchical data: resample the top level).
.. [4] C. A. Field, A. H. Welsh, "Bootstrapping clustered data", Journal of the Royal
   Statistical Society B 69(3):369-390, 2007.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from core.stats._checks import check_alpha, check_groups, check_n_boot

__all__ = [
    "bootstrap_counts",
    "group_bootstrap_counts",
    "group_bootstrap_indices",
    "percentile_ci",
]


def _row_bincount(draws: np.ndarray, k: int) -> np.ndarray:
    """Per-row counts of values in ``[0, k)``: (b, d) int draws -> (b, k) int64."""
    b = draws.shape[0]
    flat = (draws + k * np.arange(b)[:, None]).ravel()
    return np.bincount(flat, minlength=b * k).reshape(b, k)


def bootstrap_counts(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Multiplicities of ``n_boot`` ordinary bootstrap resamples of ``n`` items.

    Method: Efron's nonparametric bootstrap [1]_: each replicate draws ``n`` items
    uniformly with replacement. For a stratified bootstrap call it once per stratum.

    Parameters
    ----------
    n : int
        Number of items, >= 1.
    n_boot : int
        Number of replicates, >= 0.
    rng : numpy.random.Generator
        Source of the draws: ``rng.integers(0, n, size=(n_boot, n))``, one row per
        replicate.

    Returns
    -------
    ndarray, shape (n_boot, n), int64
        ``counts[b, i]`` = times item ``i`` was drawn in replicate ``b``; rows sum to ``n``.
    """
    n_boot = check_n_boot(n_boot)
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n}")
    n = int(n)
    return _row_bincount(rng.integers(0, n, size=(n_boot, n)), n)


def group_bootstrap_counts(groups: Any, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Item multiplicities of ``n_boot`` cluster-bootstrap resamples (whole groups).

    Method: cluster bootstrap [3]_, [4]_: each replicate draws ``G`` of the ``G`` groups
    uniformly with replacement; every item counts as many times as its group was drawn.

    Parameters
    ----------
    groups : array_like, shape (n,)
        Group key of each item (video or patient id; integers or strings).
    n_boot : int
        Number of replicates, >= 0.
    rng : numpy.random.Generator
        Source of the draws: ``rng.integers(0, G, size=(n_boot, G))`` into the sorted
        distinct keys, one row per replicate — the same draws, in the same order, as
        :func:`group_bootstrap_indices`.

    Returns
    -------
    ndarray, shape (n_boot, n), int64
        ``counts[b, i]`` = times the group of item ``i`` was drawn in replicate ``b``.
        A replicate's total varies with the sizes of the groups it drew.
    """
    n_boot = check_n_boot(n_boot)
    codes, g = check_groups(groups)
    picks = rng.integers(0, g, size=(n_boot, g))
    return _row_bincount(picks, g)[:, codes]


def group_bootstrap_indices(
    groups: Any, n_boot: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """Item indices of ``n_boot`` cluster-bootstrap resamples, one array per replicate.

    Method: cluster bootstrap [3]_, [4]_, as :func:`group_bootstrap_counts`, whose draws
    it shares: ``np.bincount(idx, minlength=n)`` of the replicate ``b`` yielded here equals
    row ``b`` of :func:`group_bootstrap_counts` for the same generator state. With one item
    per group it is the ordinary item bootstrap (replicate ``b`` equals
    ``rng.integers(0, n, size=n)``'s ``b``-th draw when the keys are ``0..n-1``).

    Parameters
    ----------
    groups : array_like, shape (n,)
        Group key of each item.
    n_boot : int
        Number of replicates, >= 0.
    rng : numpy.random.Generator
        Source of the draws, consumed lazily: one ``rng.integers(0, G, size=G)`` per
        replicate, when that replicate is taken from the iterator.

    Yields
    ------
    ndarray, shape (n_b,), int64
        Indices into the items: the items of each drawn group (in their original order),
        group after group in draw order. ``n_b`` varies with the sizes of the drawn groups.

    Raises
    ------
    ValueError
        At the call (not on first iteration) when ``groups`` or ``n_boot`` are invalid.
    """
    n_boot = check_n_boot(n_boot)
    codes, g = check_groups(groups)
    members = np.argsort(codes, kind="stable")  # items grouped, each group in item order
    sizes = np.bincount(codes, minlength=g)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]

    def _replicates() -> Iterator[np.ndarray]:
        for _ in range(n_boot):
            picks = rng.integers(0, g, size=g)
            lengths = sizes[picks]
            # Position of each output slot inside its drawn group, then into ``members``.
            offset = np.arange(int(lengths.sum())) - np.repeat(
                np.cumsum(lengths) - lengths, lengths
            )
            yield members[np.repeat(starts[picks], lengths) + offset]

    return _replicates()


def percentile_ci(
    samples: Any, alpha: float = 0.05, axis: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap percentile interval: the ``alpha/2`` and ``1 - alpha/2`` quantiles.

    Method: Efron's percentile interval [2]_ (ch. 13), with numpy's default (linear,
    "type 7") quantile interpolation. NaN replicates — resamples on which the statistic is
    undefined, e.g. a cluster resample that drew no positive case — are left out; a slice
    with nothing but NaNs gives NaN bounds.

    Parameters
    ----------
    samples : array_like
        Bootstrap replicates of a statistic along ``axis``.
    alpha : float
        1 - confidence level, in (0, 1); 0.05 gives a 95 % interval.
    axis : int
        The replicate axis.

    Returns
    -------
    lo, hi : ndarray
        ``samples``' shape without ``axis`` (0-d arrays for 1-D ``samples``).
    """
    check_alpha(alpha)
    x = np.asarray(samples, dtype=np.float64)
    q = [alpha / 2.0, 1.0 - alpha / 2.0]
    if np.isnan(x).any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slice -> NaN bounds
            lo, hi = np.nanquantile(x, q, axis=axis)
    else:
        lo, hi = np.quantile(x, q, axis=axis)
    return lo, hi
