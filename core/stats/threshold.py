"""An operating threshold chosen on validation data: Youden's J.

The model's per-item output is a probability; calling an item positive needs a threshold.
0.5 is arbitrary (a model trained on balanced patches but scored on skewed frames, or one
stopped early, can sit entirely on one side of it), so the threshold is chosen where the
validation ROC curve is farthest above the chance diagonal: Youden's index
``J = sensitivity + specificity - 1 = TPR - FPR`` [1]_, [2]_.

References
----------
.. [1] W. J. Youden, "Index for rating diagnostic tests", Cancer 3(1):32-35, 1950.
.. [2] R. Fluss, D. Faraggi, B. Reiser, "Estimation of the Youden index and its associated
   cutoff point", Biometrical Journal 47(4):458-472, 2005.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.stats._checks import check_xy

__all__ = ["RULE", "youden_j", "youden_threshold"]

#: How a run's stored threshold was chosen (``run.metrics["threshold"]["rule"]``).
RULE = "youden_j_validation"


def _cuts(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct scores high to low, TPR, FPR) when calling ``score >= s_k`` positive."""
    s, pos = check_xy(scores, labels)
    order = np.argsort(-s, kind="mergesort")
    s_sorted = s[order]
    ends = np.r_[np.flatnonzero(np.diff(s_sorted)), s.size - 1]  # tied scores move together
    tps = np.cumsum(pos[order])[ends]
    fps = ends + 1 - tps
    return s_sorted[ends], tps / tps[-1], fps / fps[-1]


def youden_j(scores: Any, labels: Any) -> float:
    """The largest Youden index ``max(TPR - FPR)`` over all thresholds, in [0, 1].

    0 means no threshold separates the classes better than chance on these data.
    """
    _, tpr, fpr = _cuts(scores, labels)
    return float(max(0.0, np.max(tpr - fpr)))


def youden_threshold(scores: Any, labels: Any) -> float:
    """The score threshold that maximises Youden's J on ``scores``/``labels``.

    Method: sweep the threshold down through the distinct scores (a case is positive
    when ``score >= threshold``; tied scores cross together), compute
    ``J = TPR - FPR`` at each cut [1]_ and take the cut with the largest J. The value
    returned is the midpoint between the lowest score called positive at that cut and
    the next lower distinct score, so it classifies these data exactly as the cut does
    and sits in the gap rather than on a case (the convention of pROC and of Fluss et
    al. [2]_).

    Ties and degenerate cases:

    * several cuts with the same largest J: the one nearest the middle of them (the
      median of the tied cuts, the lower of the two middle ones for an even count), so
      a plateau of equally good thresholds is not resolved towards either end;
    * the best cut is the lowest distinct score (everything positive; only when J there
      is positive, i.e. never with both classes present) or no cut has ``J > 0`` (the
      scores do not separate the classes: a constant model, or one no better than
      chance): the median score is returned, which splits the cases in half, and
      :func:`youden_j` returns 0 to say that no threshold is informative;
    * perfectly separated classes: the midpoint between the lowest positive and the
      highest negative score.

    Parameters
    ----------
    scores : array_like, shape (n,)
        Finite real scores, larger = more likely positive (e.g. positive-class
        probabilities of validation items).
    labels : array_like, shape (n,)
        0/1 (or bool); both classes must be present (ValueError otherwise: there is no
        ROC curve to choose on).

    Returns
    -------
    float
        The threshold ``t``: call an item positive when ``score >= t``.
    """
    s_desc, tpr, fpr = _cuts(scores, labels)
    j = tpr - fpr
    best = float(np.max(j))
    if best <= 0.0:
        return float(np.median(np.asarray(scores, np.float64)))
    tied = np.flatnonzero(np.isclose(j, best, rtol=0.0, atol=1e-12))
    k = int(tied[(len(tied) - 1) // 2])
    if k + 1 >= s_desc.size:  # cannot happen with J > 0 (the last cut has J = 0)
        return float(s_desc[k])
    return float(0.5 * (s_desc[k] + s_desc[k + 1]))
