"""Two detectors' FROC curves on the same cases, compared at an operating point.

Two detectors — two fine-tuning depths, say — run on the same images (frames, CT volumes)
with the same lesions give two FROC curves whose sensitivities at a chosen FP rate are
correlated: the same videos and patients are hard for both. The comparison resamples
whole subjects (videos, patients) with replacement and, in each replicate, reads *both*
curves on the *same* resampled subjects [1]_, [2]_ — a paired cluster bootstrap
(:mod:`core.stats.froc_bootstrap` computes each curve's replicates; both get identical
draws). The replicates of the difference ``sens_a - sens_b`` give

* a percentile confidence interval of the difference [3]_ (ch. 13);
* a two-sided p-value by inverting that interval: the smallest ``alpha`` at which the
  ``1 - alpha`` percentile interval excludes 0,
  ``p = min(1, 2 min(1 + #{d* <= 0}, 1 + #{d* >= 0}) / (B + 1))`` ([3]_ ch. 16; the
  ``+1`` as Davison & Hinkley [1]_ eq. 4.11), so that ``p < alpha`` exactly when the
  reported interval excludes 0 (up to the quantile interpolation);
* a one-sided non-inferiority p-value for a margin, ``(1 + #{d* <= -margin}) / (B + 1)``
  (:meth:`FrocComparison.noninferiority_p`).

Several FP rates at once compare the mean sensitivity over them (the CPM of LUNA16 over
its seven rates).

References
----------
.. [1] A. C. Davison, D. V. Hinkley, "Bootstrap Methods and their Application", Cambridge
   University Press, 1997, §3.8 (resample the top level of hierarchical data), §4.4.
.. [2] F. W. Samuelson, N. Petrick, "Comparing image detection algorithms using
   resampling", Proc. IEEE ISBI 2006, 1312-1315 (paired bootstrap of FROC curves over
   cases).
.. [3] B. Efron, R. J. Tibshirani, "An Introduction to the Bootstrap", Chapman & Hall,
   1993.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.stats._checks import check_alpha, check_n_boot
from core.stats.bootstrap import percentile_ci
from core.stats.froc import _check_per, _check_rates, _curve, froc_sensitivity
from core.stats.froc_bootstrap import bootstrap_froc
from core.stats.froc_data import FrocData, encode_froc, froc_events

__all__ = ["Detections", "FrocComparison", "compare_froc_at"]

CHUNK_CELLS = 10_000_000


@dataclass(frozen=True)
class Detections:
    """One detector's candidates (see :func:`core.stats.froc.froc_analysis`).

    Attributes
    ----------
    scores : array_like, shape (n,)
    lesion_ids : array_like, shape (n,)
        The lesion each candidate hits (None, "" or NaN, or ``<= 0`` for integers: none).
    image_ids : array_like, shape (n,)
    ignore : array_like of bool, shape (n,), optional
    """

    scores: Any
    lesion_ids: Any
    image_ids: Any
    ignore: Any = None

    @classmethod
    def coerce(cls, d: Any, what: str = "detections") -> Detections:
        """A :class:`Detections` from itself, a mapping with those keys, or a tuple
        ``(scores, lesion_ids, image_ids[, ignore])``."""
        if isinstance(d, Detections):
            return d
        if isinstance(d, Mapping):
            missing = [k for k in ("scores", "lesion_ids", "image_ids") if k not in d]
            if missing:
                raise ValueError(f"{what}: missing {', '.join(missing)}")
            return cls(d["scores"], d["lesion_ids"], d["image_ids"], d.get("ignore"))
        if isinstance(d, (tuple, list)) and len(d) in (3, 4):
            return cls(*d)
        raise ValueError(f"{what}: expected Detections, a mapping or a tuple (scores, "
                         f"lesion_ids, image_ids[, ignore]), got {type(d).__name__}")


def operating_point_text(rates: Sequence[float], unit: str = "image") -> str:
    """"sensitivity at 3 FPs per volume", or "mean sensitivity at 0.125, …, 8 FPs per
    frame" for several rates (what :func:`compare_froc_at` compares)."""
    if len(rates) == 1:
        return f"sensitivity at {rates[0]:g} FPs per {unit}"
    return f"mean sensitivity at {', '.join(f'{r:g}' for r in rates)} FPs per {unit}"


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


@dataclass(frozen=True, eq=False)  # eq=False: holds an array
class FrocComparison:
    """Result of :func:`compare_froc_at`: detector ``a`` against ``b`` at FP rate(s).

    Attributes
    ----------
    fp_rates : tuple of float
        The operating point(s); with several, the sensitivities are means over them.
    sens_a, sens_b : float
        Sensitivity of each detector there (interpolated as in
        :func:`core.stats.froc.froc_sensitivity`).
    diff : float
        ``sens_a - sens_b``.
    diff_ci : (float, float)
        Percentile CI of ``diff`` from the paired bootstrap (NaNs without one).
    p : float
        Two-sided p-value of "equal sensitivity" (CI inversion; NaN without bootstrap).
    n_boot, n_boot_valid : int
        Replicates drawn, and those that drew at least one lesion (the others are left
        out).
    n_lesions, n_images, n_groups : int
    resampled : {"group", "image", ""}
        What the bootstrap resampled.
    per : {"image", "group"}
        What the FP rate counts per.
    alpha : float
    seed : int
    replicates : ndarray, shape (n_boot_valid,), read-only
        The replicates of ``diff``.
    """

    fp_rates: tuple[float, ...]
    sens_a: float
    sens_b: float
    diff: float
    diff_ci: tuple[float, float]
    p: float
    n_boot: int
    n_boot_valid: int
    n_lesions: int
    n_images: int
    n_groups: int
    resampled: str
    per: str = "image"
    alpha: float = 0.05
    seed: int = 0
    replicates: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def significant(self) -> bool:
        """``p < alpha``."""
        return bool(self.p < self.alpha)

    def noninferiority_p(self, margin: float) -> float:
        """One-sided bootstrap p-value of "``a`` is worse than ``b`` by ``margin`` or more":
        ``(1 + #{d* <= -margin}) / (B + 1)``; below ``alpha / 2`` exactly when the lower
        end of :attr:`diff_ci` lies above ``-margin`` (up to quantile interpolation).
        NaN without bootstrap."""
        m = float(margin)
        if not (math.isfinite(m) and m >= 0):
            raise ValueError(f"margin must be finite and >= 0, got {margin}")
        d = self.replicates
        if d.size == 0:
            return math.nan
        return float((1 + np.count_nonzero(d <= -m + 1e-12)) / (d.size + 1))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (without the replicates)."""
        return {"fp_rates": list(self.fp_rates), "sens_a": _num(self.sens_a),
                "sens_b": _num(self.sens_b), "diff": _num(self.diff),
                "diff_ci": [_num(self.diff_ci[0]), _num(self.diff_ci[1])],
                "p": _num(self.p), "n_boot": self.n_boot, "n_boot_valid": self.n_boot_valid,
                "n_lesions": self.n_lesions, "n_images": self.n_images,
                "n_groups": self.n_groups, "resampled": self.resampled, "per": self.per,
                "alpha": self.alpha, "seed": self.seed,
                "test": "paired bootstrap over subjects (percentile CI inversion)"}


def _image_keys(d: Detections, lesions: Any) -> np.ndarray:
    return encode_froc(d.scores, d.lesion_ids, d.image_ids, lesions=lesions,
                       ignore=d.ignore, groups=None).image_keys


def _encode_pair(a: Detections, b: Detections, lesions: Any, images: Any,
                 groups: Any) -> tuple[FrocData, FrocData]:
    if not isinstance(lesions, np.ndarray):
        lesions = list(lesions)
    if images is None:  # both detectors counted over the same images: the union
        images = np.union1d(_image_keys(a, lesions), _image_keys(b, lesions))
    else:
        images = list(images)
    da, db = (encode_froc(d.scores, d.lesion_ids, d.image_ids, lesions=lesions,
                          images=images, ignore=d.ignore, groups=groups) for d in (a, b))
    if not (np.array_equal(da.image_group, db.image_group)
            and np.array_equal(da.lesion_image, db.lesion_image)):
        raise ValueError("the two detectors must be scored on the same images and lesions")
    return da, db


def _n_events(data: FrocData) -> int:
    return max(int(froc_events(data)[1].size), 1)


def compare_froc_at(
    a: Any,
    b: Any,
    fp_rate: float | Sequence[float],
    *,
    lesions: Iterable[tuple[Any, Any]],
    images: Iterable[Any] | None = None,
    groups: Mapping[Any, Any] | None = None,
    per: str = "image",
    n_boot: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
) -> FrocComparison:
    """Compare two detectors' sensitivity at an FP rate by a paired bootstrap over subjects.

    Method: cluster (subject) bootstrap [1]_ applied to both FROC curves with the same
    draws (paired, as [2]_); percentile CI of the difference [3]_ and its inversion into a
    two-sided p-value (module docstring).

    Parameters
    ----------
    a, b : Detections, mapping or tuple
        Each detector's candidates (:class:`Detections`), on the same images and lesions.
    fp_rate : float or sequence of float
        The operating point: FPs per image (per group with ``per="group"``). Several
        rates compare the mean sensitivity over them (e.g. LUNA16's seven: the CPM).
    lesions : iterable of (image_id, lesion_id)
        Every lesion, detected or missed — shared by both detectors.
    images : iterable of image_id, optional
        Every image counted; default: the images either detector or a lesion names.
    groups : mapping image_id -> subject key, optional
        The video or patient of every image: whole subjects are resampled (images are,
        when none are given or there is only one).
    per : {"image", "group"}
    n_boot : int
        Replicates (0: no CI, NaN p).
    seed : int
        Seed of ``numpy.random.default_rng``; both detectors get the same draws.
    alpha : float
        1 - confidence level of the CI, and the level of :attr:`FrocComparison.significant`.

    Returns
    -------
    FrocComparison
    """
    rates = _check_rates([fp_rate] if np.isscalar(fp_rate) else fp_rate)
    if not rates:
        raise ValueError("fp_rate: give at least one FP rate")
    n_boot = check_n_boot(n_boot)
    check_alpha(alpha)
    da, db = _encode_pair(Detections.coerce(a, "a"), Detections.coerce(b, "b"), lesions,
                          images, groups)
    _check_per(per, da)
    sens = [float(froc_sensitivity(*_curve(d, per)[:2], rates).mean()) for d in (da, db)]
    diff = sens[0] - sens[1]
    lo = hi = p = math.nan
    reps = np.zeros(0)
    resampled = ""
    if n_boot and da.n_images >= 2:
        resampled = "group" if da.grouped and da.n_groups >= 2 else "image"
        # Equal chunks for both, so the draws are the same whatever numpy's streams do.
        step = max(1, CHUNK_CELLS // max(_n_events(da), _n_events(db)))
        rep = [bootstrap_froc(d, rates, np.zeros(0), n_boot, np.random.default_rng(seed),
                              per=per, chunk_cells=step * _n_events(d),
                              unit=d.image_group if d.n_groups >= 2 else np.arange(d.n_images))
               for d in (da, db)]
        valid = rep[0].valid & rep[1].valid
        reps = (rep[0].sens.mean(axis=1) - rep[1].sens.mean(axis=1))[valid]
        if reps.size:
            lo, hi = (float(v) for v in percentile_ci(reps, alpha))
            below = 1 + np.count_nonzero(reps <= 0)
            above = 1 + np.count_nonzero(reps >= 0)
            p = float(min(1.0, 2.0 * min(below, above) / (reps.size + 1)))
    reps.setflags(write=False)
    return FrocComparison(
        fp_rates=rates, sens_a=sens[0], sens_b=sens[1], diff=diff, diff_ci=(lo, hi), p=p,
        n_boot=n_boot if resampled else 0, n_boot_valid=int(reps.size),
        n_lesions=da.n_lesions, n_images=da.n_images, n_groups=da.n_groups,
        resampled=resampled, per=per, alpha=float(alpha), seed=int(seed), replicates=reps)
