"""Bootstrap of FROC curves by whole groups, vectorised across the replicates.

A cluster-bootstrap replicate [1]_, [2]_ draws ``G`` of the ``G`` groups (videos,
patients) with replacement; a group drawn ``m`` times contributes each of its images,
lesions and candidates ``m`` times, as distinct copies. Replicate ``b`` is therefore a
vector of group multiplicities ``w[b]``, and its FROC curve needs no new matching and no
new sort: the events (first detections of lesions, false positives) are sorted once, and
per replicate

* true positives above each threshold  = cumulative sum of ``w[b, group(event)]`` over the
  true-positive events, likewise for false positives;
* lesions = ``w[b] @ lesions per group``; images = ``w[b] @ images per group``.

All replicates of a chunk share one running count of true-positive and one of
false-positive events, a (events + 1, replicates) table built with whole-row additions
(:class:`_Counts`); the interpolation needs, per replicate and requested FP rate, only the
last curve point at or below the rate — found by one binary search over every (replicate,
rate) pair at once — and the counts there and at the next point. No (replicates, points)
table of FP rates or sensitivities is formed; the arithmetic on the counts read is that of
the plain curve (:func:`interp_at`). The curve of a replicate equals, number for number,
the curve :func:`core.stats.froc.froc_curve` draws from the explicitly resampled lists
(groups copied with new image ids): scores no drawn group holds add points equal to the
point before them, which change no interpolated value (see
``tests/core/test_stats_froc_boot.py``).

References
----------
.. [1] A. C. Davison, D. V. Hinkley, "Bootstrap Methods and their Application", Cambridge
   University Press, 1997, §3.8 (hierarchical data: resample the top level).
.. [2] C. A. Field, A. H. Welsh, "Bootstrapping clustered data", Journal of the Royal
   Statistical Society B 69(3):369-390, 2007.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.stats.bootstrap import group_bootstrap_counts
from core.stats.froc_data import FrocData, froc_events

__all__ = ["FrocReplicates", "bootstrap_froc", "interp_at"]


def interp_at(fps: np.ndarray, sens: np.ndarray, k: np.ndarray,
              target: np.ndarray) -> np.ndarray:
    """Sensitivity at FP rates ``target`` (t,) on curves ``fps``/``sens`` (..., m), given ``k``.

    ``k`` (..., t) is, for each rate, the index of the last point with ``fps <= rate``.
    The value is that point's sensitivity — the top of a vertical step at the rate — when
    the rate is at or beyond the last point, else the straight line from it to the next
    point: the rule of ``numpy.interp`` on a non-decreasing ``fps`` (LUNA16's evaluation
    script [3]_), written once here (:func:`_interp`) so that the plain and the vectorised
    curves share its arithmetic.

    .. [3] A. A. A. Setio et al., "Validation, comparison, and combination of algorithms
       for automatic detection of pulmonary nodules in computed tomography images: the
       LUNA16 challenge", Medical Image Analysis 42:1-13, 2017 (noduleCADEvaluationLUNA16.py).
    """
    k1 = np.minimum(k + 1, fps.shape[-1] - 1)
    return _interp(np.take_along_axis(fps, k, -1), np.take_along_axis(fps, k1, -1),
                   np.take_along_axis(sens, k, -1), np.take_along_axis(sens, k1, -1), target)


def _interp(f0: np.ndarray, f1: np.ndarray, t0: np.ndarray, t1: np.ndarray,
            target: np.ndarray) -> np.ndarray:
    """The line from (f0, t0) to (f1, t1) read at ``target``; ``t0`` where ``f1 == f0``."""
    span = f1 - f0
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(span > 0, (target - f0) / np.where(span > 0, span, 1.0), 0.0)
    return t0 + w * (t1 - t0)


@dataclass(frozen=True)
class FrocReplicates:
    """Statistics of each bootstrap replicate (NaN rows: a replicate that drew no lesion).

    Attributes
    ----------
    sens : ndarray, shape (n_boot, len(rates))
        Sensitivity at each requested FP rate.
    cpm : ndarray, shape (n_boot,)
        Mean of ``sens`` over the rates.
    band : ndarray, shape (n_boot, len(band_fps))
        Sensitivity at each FP rate of the band's grid.
    valid : ndarray, shape (n_boot,), bool
        Replicates that drew at least one lesion.
    """

    sens: np.ndarray
    cpm: np.ndarray
    band: np.ndarray
    valid: np.ndarray


def _max_count(targets: np.ndarray, denom: np.ndarray, top: int) -> np.ndarray:
    """Per replicate and target, the largest integer count ``c`` (clipped to ``[0, top]``)
    with ``c / denom <= target`` in floating point, as the curve computes its FP rates:
    (b, t) int64.

    ``c / d`` rounds monotonically in ``c``, so the points at or below a rate are those
    whose FP count is ``<= c``; ``floor(target * d)`` is a rounded product, at most one
    off, which the two corrections put right.
    """
    d = denom.astype(np.float64)[:, None]
    c = np.floor(targets * d)
    c = np.where((c + 1) / d <= targets, c + 1, c)
    c = np.where((c > 0) & (c / d > targets), c - 1, c)
    return np.clip(c, 0, top).astype(np.int64)


BLOCK = 64  # rows of a block of the running counts


class _Counts:
    """Running counts of one kind of event in each replicate, in two levels.

    Row ``j`` (``0..e``) holds, per replicate (column), the summed multiplicities of the
    units of events ``0..j-1``: how many of those events the replicate holds. With row
    ``j`` of ``part`` holding the multiplicity of event ``j - 1`` (0 for ``j = 0``), the
    count at row ``j`` is ``part[j]`` after a running sum within each block of
    :data:`BLOCK` rows, plus ``off[j // BLOCK]``, the sum over the blocks before. Building
    it is one gather and ``BLOCK - 1`` additions of whole (blocks, b) slices, vectorised
    across the replicates (``numpy.cumsum`` along either axis runs a scalar loop per row or
    column), and ``part`` fits int16 when ``BLOCK`` times the largest multiplicity does,
    halving the memory traffic again. Rows past ``e`` (padding to whole blocks) repeat
    row ``e``'s count.
    """

    def __init__(self, w_t: np.ndarray, units: np.ndarray, dt: type) -> None:
        rows, b = units.size + 1, w_t.shape[1]
        nq = -(-rows // BLOCK)
        small = np.int16 if BLOCK * int(w_t.max(initial=0)) < 2**15 else dt
        part = np.empty((nq * BLOCK, b), dtype=small)
        part[0] = 0
        part[rows:] = 0
        np.take(w_t.astype(small, copy=False), units, axis=0, out=part[1:rows],
                mode="clip")  # mode "raise" would buffer `out`
        v = part.reshape(nq, BLOCK, b)
        for i in range(1, BLOCK):
            np.add(v[:, i - 1], v[:, i], out=v[:, i])
        self.off = np.zeros((nq, b), dtype=dt)
        np.cumsum(v[:-1, -1], axis=0, dtype=dt, out=self.off[1:])
        self.part, self.b = part, b
        self.it = np.int32 if part.size < 2**31 else np.int64  # index arithmetic
        self.col = np.arange(b, dtype=self.it)[:, None]

    def at(self, rows: np.ndarray) -> np.ndarray:
        """Counts at ``rows`` (b, t), one row per (replicate, query)."""
        rows = rows.astype(self.it)
        return (self.off.ravel()[(rows // BLOCK) * self.b + self.col]
                + self.part.ravel()[rows * self.b + self.col])

    def last_at_or_below(self, c: np.ndarray) -> np.ndarray:
        """Per (replicate, query) of ``c`` (b, t), each in ``[0, max count + 1]``: the
        last row whose count is ``<= c`` (row 0, a count of 0, always is).

        Binary search over all pairs at once: first among the blocks' first rows, then
        within the block found; both in the branch-free form (the range holding the
        answer halves its length ``n`` each round, the same ``n`` for every pair), one
        gather and one compare a round.
        """
        b, col = self.b, self.col
        starts = self.off + self.part[::BLOCK]  # count at each block's first row
        q = _descend(starts.ravel(), np.repeat(col, c.shape[1], axis=1), starts.shape[0],
                     b, c.astype(self.off.dtype)) // b
        # what is left for the block; clipped to the part's type, above every value of it
        rest = np.minimum(c - self.off.ravel()[q * b + col], np.iinfo(self.part.dtype).max)
        j = _descend(self.part.ravel(), (q * BLOCK) * b + col, BLOCK, b,
                     rest.astype(self.part.dtype))
        return j // b


def _descend(flat: np.ndarray, at: np.ndarray, n: int, stride: int,
             c: np.ndarray) -> np.ndarray:
    """Branch-free binary search: ``at`` holds flat indices of rows where ``flat <= c``;
    each steps down by multiples of ``stride`` over ``n`` rows, non-decreasing, to the
    last row still ``<= c``. ``at`` is updated in place and returned."""
    while n > 1:
        half = n // 2
        step = at + at.dtype.type(half * stride)
        np.copyto(at, step, where=np.take(flat, step) <= c)
        n -= half
    return at


def bootstrap_froc(
    data: FrocData,
    rates: Sequence[float],
    band_fps: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
    *,
    per: str = "image",
    unit: np.ndarray | None = None,
    chunk_cells: int = 10_000_000,
) -> FrocReplicates:
    """FROC statistics of ``n_boot`` whole-group bootstrap replicates of ``data``.

    Parameters
    ----------
    data : FrocData
        The encoded input (:func:`core.stats.froc_data.encode_froc`).
    rates : sequence of float
        FP rates (per image, or per group with ``per="group"``) at which to read the
        sensitivity; the CPM is their mean.
    band_fps : ndarray, shape (m,)
        FP rates of the pointwise band.
    n_boot : int
        Replicates.
    rng : numpy.random.Generator
        Source of the draws: ``rng.integers(0, U, size=(n_boot, U))``, one row per
        replicate, each value a unit code (chunk by chunk, which does not change them) —
        the draws of :func:`core.stats.bootstrap.group_bootstrap_counts`. Unit codes are
        positions in ``data.group_keys`` (numeric order for integer keys, else string
        order), so replicate ``b`` draws the groups ``group_keys[row b]``.
    per : {"image", "group"}
        FP rate per image, or per group (the ``G`` drawn groups).
    unit : ndarray, shape (n_images,), optional
        Resampling unit code of each image, ``0..U-1`` (default ``data.image_group``).
    chunk_cells : int
        Replicates are processed in chunks of about this many (replicate, event) cells
        (2 to 8 bytes each; larger chunks spend less time in Python per replicate).

    Returns
    -------
    FrocReplicates
    """
    unit = data.image_group if unit is None else unit
    n_units = int(unit.max()) + 1
    _, is_tp, ev_image, ends = froc_events(data)
    ev_unit = unit[ev_image]
    lesions_per_unit = np.bincount(unit[data.lesion_image], minlength=n_units)
    images_per_unit = np.bincount(unit, minlength=n_units)
    groups_drawn = data.n_groups if unit is data.image_group else 1
    rates = [float(r) for r in rates]
    wanted = np.asarray([*rates, *(float(f) for f in band_fps)], dtype=np.float64)
    targets, back = np.unique(wanted, return_inverse=True)  # rates repeat on the band grid
    sens_all = np.empty((n_boot, wanted.size))
    valid = np.empty(n_boot, dtype=bool)
    # Each kind of event gets its own running count; point p of the curve (0: the origin)
    # reads it after the first tp_at[p] true / fp_at[p] false positives.
    tp_unit, fp_unit = ev_unit[is_tp], ev_unit[~is_tp]
    tp_at = np.r_[0, np.cumsum(is_tp)[ends]]
    fp_at = np.r_[0, ends + 1] - tp_at
    last = ends.size  # the last point
    fp_per_unit = np.bincount(fp_unit, minlength=n_units)
    # for each row j of the FP counts (j false positives; padding included) the last point
    # whose FP count is within them
    rows = -(-(fp_unit.size + 1) // BLOCK) * BLOCK
    point_of = np.searchsorted(fp_at, np.arange(rows), side="right") - 1
    # a running count is at most n_units * (events); int32 halves the memory traffic
    dt = np.int32 if n_units * max(is_tp.size, 1) < 2**31 - 1 else np.int64
    step = max(1, chunk_cells // max(is_tp.size, 1))
    step = -(-n_boot // -(-n_boot // step)) if n_boot else 1  # chunks of even sizes
    for start in range(0, n_boot, step):
        b = min(step, n_boot - start)
        w = group_bootstrap_counts(np.arange(n_units), b, rng)  # (b, U) multiplicities
        w_t = np.ascontiguousarray(w.T, dtype=dt)
        tp, fp = _Counts(w_t, tp_unit, dt), _Counts(w_t, fp_unit, dt)
        n_les = w @ lesions_per_unit
        denom = w @ images_per_unit if per == "image" else np.full(b, groups_drawn)
        c = _max_count(targets, denom, int((w @ fp_per_unit).max()) + 1)
        k = point_of[fp.last_at_or_below(c)]  # the last point at or below each rate
        k1 = np.minimum(k + 1, last)
        d, n = denom[:, None], n_les[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            sens = _interp(fp.at(fp_at[k]) / d, fp.at(fp_at[k1]) / d,
                           tp.at(tp_at[k]) / n, tp.at(tp_at[k1]) / n, targets)
        sens[n_les == 0] = np.nan
        sens_all[start:start + b] = sens[:, back.reshape(-1)]
        valid[start:start + b] = n_les > 0
    r = len(rates)
    sens_r = sens_all[:, :r]
    cpm = sens_r.mean(axis=1) if r else np.full(n_boot, np.nan)
    return FrocReplicates(sens_r.copy(), cpm, sens_all[:, r:].copy(), valid)
