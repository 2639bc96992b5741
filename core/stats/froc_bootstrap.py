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

All replicates of a chunk are one running sum over a (replicates, true-positive events)
matrix and one over a (replicates, false-positive events) matrix; the sensitivity at every
requested FP rate is then found by one vectorised binary search over all rows. The curve of a replicate equals, number for number, the curve
:func:`core.stats.froc.froc_curve` draws from the explicitly resampled lists (groups
copied with new image ids): scores no drawn group holds add points equal to the point
before them, which change no interpolated value (see ``tests/core/test_stats_froc_boot.py``).

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
    script [3]_), written once here so that the plain and the vectorised curves share
    its arithmetic.

    .. [3] A. A. A. Setio et al., "Validation, comparison, and combination of algorithms
       for automatic detection of pulmonary nodules in computed tomography images: the
       LUNA16 challenge", Medical Image Analysis 42:1-13, 2017 (noduleCADEvaluationLUNA16.py).
    """
    last = fps.shape[-1] - 1
    k1 = np.minimum(k + 1, last)
    f0 = np.take_along_axis(fps, k, -1)
    f1 = np.take_along_axis(fps, k1, -1)
    t0 = np.take_along_axis(sens, k, -1)
    t1 = np.take_along_axis(sens, k1, -1)
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


def _last_at_or_below(cum_fp: np.ndarray, denom: np.ndarray,
                      targets: np.ndarray) -> np.ndarray:
    """Per row and target, how many points of ``cum_fp`` (b, m) have
    ``cum_fp / denom <= target``: (b, t).

    The FP counts are integers and ``c / d`` rounds monotonically in ``c``, so the points
    at or below a rate are those with a count ``<= c*``, the largest integer whose
    quotient by ``d`` (in floating point, as the curve computes it) does not exceed the
    rate; one binary search over all rows (offset so the rows line up) counts them.
    """
    b, m = cum_fp.shape
    d = denom.astype(np.float64)[:, None]
    c = np.floor(targets * d)
    c = np.where((c + 1) / d <= targets, c + 1, c)  # floor of a rounded product: +-1 off
    c = np.where((c > 0) & (c / d > targets), c - 1, c)
    top = int(cum_fp[:, -1].max()) + 1 if m else 1
    c = np.clip(c, 0, top).astype(np.int64)
    rows = np.arange(b, dtype=np.int64)[:, None]
    flat = (cum_fp + rows * (top + 1)).ravel()
    return np.searchsorted(flat, c + rows * (top + 1), side="right") - rows * m


def _running(x: np.ndarray, dt: type) -> np.ndarray:
    """Row-wise running sums of (b, n) with a leading zero column: (b, n + 1)."""
    out = np.zeros((x.shape[0], x.shape[1] + 1), dtype=dt)
    np.cumsum(x, axis=1, dtype=dt, out=out[:, 1:])
    return out


def bootstrap_froc(
    data: FrocData,
    rates: Sequence[float],
    band_fps: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
    *,
    per: str = "image",
    unit: np.ndarray | None = None,
    chunk_cells: int = 4_000_000,
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
        Replicates are processed in chunks of about this many (replicate, event) cells.

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
    targets = np.asarray([*rates, *(float(f) for f in band_fps)], dtype=np.float64)
    sens_all = np.empty((n_boot, len(targets)))
    valid = np.empty(n_boot, dtype=bool)
    # Each kind of event gets its own running sum; a curve point reads the sum after the
    # last event of that kind at or above its score (column 0: none yet).
    tp_unit, fp_unit = ev_unit[is_tp], ev_unit[~is_tp]
    tp_upto = np.cumsum(is_tp)[ends]
    fp_upto = ends + 1 - tp_upto
    # a running sum is at most n_units * (events); int32 halves the memory traffic
    dt = np.int32 if n_units * max(is_tp.size, 1) < 2**31 else np.int64
    step = max(1, chunk_cells // max(is_tp.size, 1))
    for start in range(0, n_boot, step):
        b = min(step, n_boot - start)
        w = group_bootstrap_counts(np.arange(n_units), b, rng)  # (b, U) multiplicities
        wd = w.astype(dt)
        cum_tp = _running(wd[:, tp_unit], dt)[:, tp_upto]
        cum_fp = _running(wd[:, fp_unit], dt)[:, fp_upto]
        n_les = w @ lesions_per_unit
        denom = w @ images_per_unit if per == "image" else np.full(b, groups_drawn)
        zero = np.zeros((b, 1))
        fps = np.concatenate([zero, cum_fp / denom[:, None]], axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            sens = np.concatenate([zero, cum_tp / n_les[:, None]], axis=1)
        k = _last_at_or_below(cum_fp, denom, targets)
        sens_all[start:start + b] = interp_at(fps, sens, k, targets)
        sens_all[start:start + b][n_les == 0] = np.nan
        valid[start:start + b] = n_les > 0
    r = len(rates)
    sens_r = sens_all[:, :r]
    cpm = sens_r.mean(axis=1) if r else np.full(n_boot, np.nan)
    return FrocReplicates(sens_r.copy(), cpm, sens_all[:, r:].copy(), valid)
