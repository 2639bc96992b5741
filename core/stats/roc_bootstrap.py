"""Bootstrap of whole ROC curves: operating points, the AUC and a pointwise band.

One pass over the bootstrap replicates gives, per replicate, the TPR at the requested
false-positive rates, the AUC, and the TPR on a fixed grid of false-positive rates. The
last is *vertical averaging* of ROC curves (Fawcett [1]_ §8): at each fixed FPR the
replicates' TPRs are collected and their percentile interval is a pointwise band around
the curve. Resampling whole videos (groups) keeps the frames of one video together, so
the intervals describe new videos rather than new frames of the same ones [2]_, [3]_.

References
----------
.. [1] T. Fawcett, "An introduction to ROC analysis", Pattern Recognition Letters
   27(8):861-874, 2006.
.. [2] C. A. Field, A. H. Welsh, "Bootstrapping clustered data", Journal of the Royal
   Statistical Society B 69(3):369-390, 2007.
.. [3] N. A. Obuchowski, "Nonparametric analysis of clustered ROC curve data",
   Biometrics 53(2):567-578, 1997.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.stats.bootstrap import bootstrap_counts, group_bootstrap_counts

#: FPR grid of the pointwise band: 0, 0.02, ..., 1.
BAND_FPR = np.linspace(0.0, 1.0, 51)


def _interp_tpr(fpr: np.ndarray, tpr: np.ndarray, target: float) -> np.ndarray:
    """TPR at ``target`` FPR on curve(s) ``fpr``/``tpr`` of shape (..., k), non-decreasing.

    At an FPR where the curve has a vertical step the highest TPR is taken (the best
    sensitivity reachable without exceeding the FPR); between two FPRs the curve is the
    straight segment from the top of one step to the foot of the next.
    """
    last = fpr.shape[-1] - 1
    k = np.count_nonzero(fpr <= target, axis=-1) - 1  # last point with FPR <= target
    k1 = np.minimum(k + 1, last)
    f0 = np.take_along_axis(fpr, k[..., None], -1)[..., 0]
    f1 = np.take_along_axis(fpr, k1[..., None], -1)[..., 0]
    t0 = np.take_along_axis(tpr, k[..., None], -1)[..., 0]
    t1 = np.take_along_axis(tpr, k1[..., None], -1)[..., 0]
    span = f1 - f0
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(span > 0, (target - f0) / np.where(span > 0, span, 1.0), 0.0)
    return t0 + w * (t1 - t0)


@dataclass(frozen=True)
class CurveReplicates:
    """Statistics of each bootstrap replicate (NaN rows: a replicate with one class).

    Attributes
    ----------
    tprs : ndarray, shape (n_boot, len(fprs))
        TPR at each requested FPR.
    aucs : ndarray, shape (n_boot,)
        Trapezoidal AUC of the replicate's curve (ties count one half).
    band : ndarray, shape (n_boot, len(band_fpr))
        TPR at each FPR of the band's grid.
    """

    tprs: np.ndarray
    aucs: np.ndarray
    band: np.ndarray


def bootstrap_curves(
    s: np.ndarray,
    pos: np.ndarray,
    fprs: Sequence[float],
    n_boot: int,
    rng: np.random.Generator,
    codes: np.ndarray | None = None,
    chunk_cells: int = 4_000_000,
    band_fpr: np.ndarray | None = None,
) -> CurveReplicates:
    """ROC statistics of ``n_boot`` bootstrap resamples of ``(s, pos)``.

    Without ``codes`` positives and negatives are resampled separately (their counts stay
    fixed, as the study design fixed them). With ``codes`` (group code per case) whole
    groups are resampled [2]_; a resample that drew no positive or no negative case has
    no curve and gives NaN. A resample is a vector of case multiplicities, so the sort and
    the grouping of tied scores are done once and every replicate is two cumulative sums.

    The draws are those of :func:`core.stats.bootstrap.bootstrap_counts` (once per class,
    positives first) or :func:`core.stats.bootstrap.group_bootstrap_counts`, chunk by
    chunk; the chunking does not change the result.
    """
    grid = BAND_FPR if band_fpr is None else np.asarray(band_fpr, np.float64)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, pos_sorted = s[order], pos[order]
    ends = np.r_[np.flatnonzero(np.diff(s_sorted)), s.size - 1]
    # Cases of each class at or above each distinct score: indices into the cumulative
    # multiplicities of that class (sorted by score, highest first).
    upto_pos = np.cumsum(pos_sorted)[ends]
    upto_neg = ends + 1 - upto_pos
    m, n = int(pos.sum()), int((~pos).sum())
    codes_sorted = None if codes is None else codes[order]
    tprs = np.empty((n_boot, len(fprs)))
    aucs = np.empty(n_boot)
    band = np.empty((n_boot, grid.size))
    step = max(1, chunk_cells // s.size)
    for start in range(0, n_boot, step):
        b = min(step, n_boot - start)
        rows = slice(start, start + b)
        zero = np.zeros((b, 1))
        if codes_sorted is None:
            cum = [
                np.concatenate([zero, np.cumsum(bootstrap_counts(k, b, rng), axis=1)], axis=1)
                for k in (m, n)
            ]
            tpr = np.concatenate([zero, cum[0][:, upto_pos] / m], axis=1)
            fpr = np.concatenate([zero, cum[1][:, upto_neg] / n], axis=1)
            bad = None
        else:
            w = group_bootstrap_counts(codes_sorted, b, rng)
            cp = np.cumsum(w * pos_sorted, axis=1)[:, ends]
            cn = np.cumsum(w * ~pos_sorted, axis=1)[:, ends]
            tot_p, tot_n = cp[:, -1:], cn[:, -1:]
            bad = ~((tot_p[:, 0] > 0) & (tot_n[:, 0] > 0))
            tpr = np.concatenate([zero, cp / np.maximum(tot_p, 1)], axis=1)
            fpr = np.concatenate([zero, cn / np.maximum(tot_n, 1)], axis=1)
        for j, f in enumerate(fprs):
            tprs[rows, j] = _interp_tpr(fpr, tpr, f)
        # The trapezoid under the step curve: a tie between classes is a diagonal step
        # and counts one half, as in the Mann-Whitney AUC.
        aucs[rows] = np.sum(np.diff(fpr, axis=1) * (tpr[:, 1:] + tpr[:, :-1]), axis=1) / 2.0
        for j, f in enumerate(grid):
            band[rows, j] = _interp_tpr(fpr, tpr, float(f))
        if bad is not None and bad.any():
            idx = np.flatnonzero(bad) + start
            tprs[idx] = np.nan
            aucs[idx] = np.nan
            band[idx] = np.nan
    return CurveReplicates(tprs, aucs, band)
