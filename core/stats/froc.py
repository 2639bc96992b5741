"""FROC analysis: sensitivity over lesions against false positives per image, with CIs.

The free-response ROC curve [1]_ of a detector that marks candidates with scores: as the
score threshold falls, the share of lesions detected (sensitivity) rises against the mean
number of false-positive marks per image (frame, CT volume). This is the evaluation of
SPEC §1.4 (polyps: FPs per frame) and §1.5 (emboli: FPs per volume).

Counting rules (those of the LUNA16 evaluation [2]_):

* a candidate hits the lesion its ``lesion_id`` names (the hit rule — inside the mask,
  within a radius — was applied by the caller); sensitivity is over *distinct* lesions,
  including lesions no candidate hits;
* a candidate on a lesion is never a false positive; several candidates on one lesion
  count it once, at the best score among them (the others are neither TP nor FP);
* ``ignore`` candidates (e.g. on findings that are not to be scored) are neither TP nor FP
  and detect nothing;
* every image counts in the FP rate, those with no candidate and no lesion included
  (``images``); with ``per="group"`` the FP rate is per group (video, patient) instead.

Interpolation at the requested FP rates: linear on the empirical curve, which starts at
(0, 0) and has one point per distinct score, taking the top of a vertical step at the
requested rate and holding the last point's sensitivity beyond the curve's largest FP
rate — exactly ``numpy.interp(rate, fps, sens)``, as LUNA16's script reads its curve. The
CPM (competition performance metric [2]_) is the mean sensitivity over the requested
rates (LUNA16: 1/8, 1/4, 1/2, 1, 2, 4, 8 FPs per scan).

Confidence intervals: bootstrap percentile intervals [3]_ from resampling whole groups
(videos, patients; each image its own group by default), vectorised across replicates in
:mod:`core.stats.froc_bootstrap`.

References
----------
.. [1] D. P. Chakraborty, "Maximum likelihood analysis of free-response receiver operating
   characteristic (FROC) data", Medical Physics 16(4):561-568, 1989.
.. [2] A. A. A. Setio et al., "Validation, comparison, and combination of algorithms for
   automatic detection of pulmonary nodules in computed tomography images: the LUNA16
   challenge", Medical Image Analysis 42:1-13, 2017.
.. [3] B. Efron, R. J. Tibshirani, "An Introduction to the Bootstrap", Chapman & Hall,
   1993, ch. 13.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.stats._checks import check_alpha, check_n_boot
from core.stats.bootstrap import percentile_ci
from core.stats.froc_bootstrap import bootstrap_froc, interp_at
from core.stats.froc_data import PER, FrocData, encode_froc, froc_events
from core.stats.froc_verdict import froc_verdict

__all__ = [
    "DEFAULT_FROC_FPS",
    "FrocPoint",
    "FrocResult",
    "band_grid",
    "froc_analysis",
    "froc_curve",
    "froc_sensitivity",
]

#: LUNA16's FP rates: 1/8 ... 8 false positives per image.
DEFAULT_FROC_FPS: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
BAND_STEPS_PER_OCTAVE = 8


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _unnum(v: Any, missing: float = math.nan) -> float:
    return missing if v is None else float(v)


def _frozen(a: Any) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    a.setflags(write=False)
    return a


def _check_rates(fps: Iterable[float]) -> tuple[float, ...]:
    rates = tuple(float(f) for f in fps)
    for f in rates:
        if not (math.isfinite(f) and f >= 0):
            raise ValueError(f"FP rates must be finite and >= 0, got {f}")
    return rates


def _check_per(per: str, data: FrocData) -> None:
    if per not in PER:
        raise ValueError(f"per must be one of {PER}, got {per!r}")
    if per == "group" and not data.grouped:
        raise ValueError("per='group' needs groups (which video or patient each image "
                         "belongs to)")


def _curve(data: FrocData, per: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    score, is_tp, _, ends = froc_events(data)
    cum_tp = np.cumsum(is_tp)[ends]
    cum_fp = ends + 1 - cum_tp
    denom = data.n_images if per == "image" else data.n_groups
    fps = np.r_[0.0, cum_fp / denom]
    sens = np.r_[0.0, cum_tp / data.n_lesions]
    return fps, sens, np.r_[np.inf, score[ends]]


def froc_curve(
    scores: Any,
    lesion_ids: Any,
    image_ids: Any,
    *,
    lesions: Iterable[tuple[Any, Any]],
    images: Iterable[Any] | None = None,
    ignore: Any = None,
    groups: Mapping[Any, Any] | None = None,
    per: str = "image",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Empirical FROC curve, one point per distinct score.

    Parameters are those of :func:`froc_analysis`.

    Returns
    -------
    fps : ndarray, shape (k + 1,), float64
        Mean false positives per image (per group with ``per="group"``), non-decreasing,
        from 0.
    sens : ndarray, shape (k + 1,), float64
        Share of all lesions detected, non-decreasing, from 0.
    thresholds : ndarray, shape (k + 1,), float64
        ``(fps[i], sens[i])`` when candidates with ``score >= thresholds[i]`` are kept;
        decreasing, ``thresholds[0] = inf`` for the (0, 0) point.
    """
    data = encode_froc(scores, lesion_ids, image_ids, lesions=lesions, images=images,
                       ignore=ignore, groups=groups)
    _check_per(per, data)
    return _curve(data, per)


def froc_sensitivity(fps: Any, sens: Any, rates: Iterable[float]) -> np.ndarray:
    """Sensitivity at each FP rate on a FROC curve: ``numpy.interp(rates, fps, sens)``.

    Linear between the curve's points; at a rate where the curve steps up vertically the
    top of the step; beyond the last point its sensitivity (LUNA16's rule).

    Parameters
    ----------
    fps, sens : array_like, shape (m,)
        A curve of :func:`froc_curve` (``fps`` non-decreasing, starting at 0).
    rates : iterable of float
        FP rates, each >= 0.

    Returns
    -------
    ndarray, shape (len(rates),), float64
    """
    f = np.asarray(fps, dtype=np.float64)
    s = np.asarray(sens, dtype=np.float64)
    r = np.asarray(_check_rates(rates), dtype=np.float64)
    k = np.asarray([np.count_nonzero(f <= v) - 1 for v in r], dtype=np.int64)
    return interp_at(f, s, k, r)


@dataclass(frozen=True)
class FrocPoint:
    """Sensitivity at one requested FP rate.

    Attributes
    ----------
    fp_rate : float
        False positives per image (per group when the result's ``per`` is "group").
    sensitivity : float
        Interpolated as in :func:`froc_sensitivity`.
    ci : (float, float)
        Bootstrap percentile CI; NaNs when no bootstrap was run.
    threshold : float
        The lowest score threshold (keep ``score >= threshold``) whose FP rate does not
        exceed ``fp_rate``; ``inf`` when only "keep nothing" does.
    """

    fp_rate: float
    sensitivity: float
    ci: tuple[float, float]
    threshold: float

    def to_dict(self) -> dict[str, Any]:
        return {"fp_rate": _num(self.fp_rate), "sensitivity": _num(self.sensitivity),
                "ci": [_num(self.ci[0]), _num(self.ci[1])], "threshold": _num(self.threshold)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FrocPoint:
        return cls(float(d["fp_rate"]), float(d["sensitivity"]),
                   (_unnum(d["ci"][0]), _unnum(d["ci"][1])), _unnum(d["threshold"], math.inf))


@dataclass(frozen=True, eq=False)  # eq=False: fields hold arrays
class FrocResult:
    """Result of :func:`froc_analysis`.

    Attributes
    ----------
    points : tuple of FrocPoint
        One per requested FP rate, in the order requested.
    cpm : float
        Mean sensitivity over the requested rates (LUNA16's CPM).
    cpm_ci : (float, float)
        Bootstrap percentile CI of the CPM; NaNs without bootstrap.
    curve_fps, curve_sens, curve_thresholds : ndarray, shape (k + 1,), read-only
        The empirical curve of :func:`froc_curve`.
    band_fps, band_lo, band_hi : ndarray, shape (m,), read-only
        Pointwise bootstrap band: at each FP rate of ``band_fps`` (log-spaced, 8 per
        doubling, over the requested rates) the percentile interval of the replicates'
        sensitivities; empty without bootstrap.
    n_lesions, n_images : int
        Lesions (detected or not) and images counted.
    n_groups : int
        Groups (videos, patients) the images belong to; ``n_images`` when none were given.
    n_tp : int
        Lesions detected at the lowest threshold (hit by at least one counted candidate).
    n_fp : int
        False-positive candidates (all thresholds).
    n_ignored : int
        Candidates marked ``ignore``.
    n_duplicates : int
        Counted candidates on an already-detected lesion (neither TP nor FP).
    per : {"image", "group"}
        What the FP rates count per.
    alpha : float
        1 - confidence level of the intervals.
    n_boot : int
        Bootstrap replicates (0: none).
    n_boot_valid : int
        Replicates that drew at least one lesion (the others are left out).
    resampled : {"group", "image", ""}
        What the bootstrap resampled: whole groups, images (no groups, or a single group),
        or nothing.
    seed : int
        Seed of the resampling.
    """

    points: tuple[FrocPoint, ...]
    cpm: float
    cpm_ci: tuple[float, float]
    curve_fps: np.ndarray
    curve_sens: np.ndarray
    curve_thresholds: np.ndarray
    n_lesions: int
    n_images: int
    n_groups: int
    n_tp: int
    n_fp: int
    n_ignored: int
    n_duplicates: int
    per: str = "image"
    alpha: float = 0.05
    n_boot: int = 0
    n_boot_valid: int = 0
    resampled: str = ""
    seed: int = 0
    band_fps: np.ndarray = field(default_factory=lambda: _frozen(np.zeros(0)))
    band_lo: np.ndarray = field(default_factory=lambda: _frozen(np.zeros(0)))
    band_hi: np.ndarray = field(default_factory=lambda: _frozen(np.zeros(0)))

    @property
    def fp_rates(self) -> tuple[float, ...]:
        return tuple(p.fp_rate for p in self.points)

    @property
    def max_fp_rate(self) -> float:
        """The curve's largest FP rate (every counted candidate kept)."""
        return float(self.curve_fps[-1])

    def verdict(self) -> list[str]:
        """Plain sentences on what the result shows (:func:`froc_verdict`)."""
        return froc_verdict(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (non-finite values become None), with the verdict sentences."""
        arr = {k: [_num(v) for v in getattr(self, k)] for k in
               ("curve_fps", "curve_sens", "curve_thresholds", "band_fps", "band_lo",
                "band_hi")}
        return {"points": [p.to_dict() for p in self.points], "cpm": _num(self.cpm),
                "cpm_ci": [_num(self.cpm_ci[0]), _num(self.cpm_ci[1])], **arr,
                **{k: int(getattr(self, k)) for k in
                   ("n_lesions", "n_images", "n_groups", "n_tp", "n_fp", "n_ignored",
                    "n_duplicates", "n_boot", "n_boot_valid", "seed")},
                "per": self.per, "alpha": float(self.alpha), "resampled": self.resampled,
                "verdict": self.verdict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FrocResult:
        """Inverse of :meth:`to_dict` (the verdict is recomputed)."""
        arrays = {k: _frozen([_unnum(v) for v in d.get(k) or ()]) for k in
                  ("curve_fps", "curve_sens", "band_fps", "band_lo", "band_hi")}
        thr = [_unnum(v, math.inf) for v in d["curve_thresholds"]]
        return cls(points=tuple(FrocPoint.from_dict(p) for p in d["points"]),
                   cpm=_unnum(d["cpm"]), cpm_ci=(_unnum(d["cpm_ci"][0]), _unnum(d["cpm_ci"][1])),
                   curve_thresholds=_frozen(thr), **arrays,
                   **{k: int(d[k]) for k in ("n_lesions", "n_images", "n_groups", "n_tp",
                                             "n_fp", "n_ignored", "n_duplicates", "n_boot",
                                             "n_boot_valid", "seed")},
                   per=str(d["per"]), alpha=float(d["alpha"]), resampled=str(d["resampled"]))


def band_grid(rates: Sequence[float]) -> np.ndarray:
    """FP rates of the band: log-spaced, 8 per doubling, from the smallest positive
    requested rate to the largest (the requested rates themselves when too few)."""
    pos = [r for r in rates if r > 0]
    if not pos or min(pos) == max(pos):
        return np.asarray(sorted(set(rates)), dtype=np.float64)
    lo, hi = math.log2(min(pos)), math.log2(max(pos))
    n = max(2, int(math.ceil((hi - lo) * BAND_STEPS_PER_OCTAVE)) + 1)
    return np.exp2(np.linspace(lo, hi, n))


def froc_analysis(
    scores: Any,
    lesion_ids: Any,
    image_ids: Any,
    *,
    lesions: Iterable[tuple[Any, Any]],
    images: Iterable[Any] | None = None,
    ignore: Any = None,
    groups: Mapping[Any, Any] | None = None,
    fps: Iterable[float] = DEFAULT_FROC_FPS,
    n_boot: int = 1000,
    seed: int = 0,
    per: str = "image",
    alpha: float = 0.05,
) -> FrocResult:
    """FROC curve, sensitivity at chosen FP rates and the CPM, with bootstrap CIs.

    Parameters
    ----------
    scores : array_like, shape (n,)
        Candidate scores, larger = more likely a lesion; finite.
    lesion_ids : array_like, shape (n,)
        The lesion of its image each candidate hits, or none: None, ``""`` or NaN (for
        integer arrays ``<= 0``) — a false positive unless ignored.
    image_ids : array_like, shape (n,)
        The image (frame, volume) of each candidate; strings or integers.
    lesions : iterable of (image_id, lesion_id), or array_like of shape (L, 2)
        Every lesion, detected or missed; each pair once.
    images : iterable of image_id, optional
        Every image counted in the FP rate, those with no candidate and no lesion too;
        default: the images of the candidates and the lesions.
    ignore : array_like of bool or 0/1, shape (n,), optional
        Candidates that are neither true nor false positives.
    groups : mapping image_id -> group key, optional
        The video or patient of every image: the bootstrap resamples whole groups, and
        ``per="group"`` counts FPs per group. Default: each image its own group.
    fps : iterable of float
        FP rates (per image, or per group) at which to report the sensitivity, each >= 0;
        the CPM is the mean sensitivity over them.
    n_boot : int
        Bootstrap replicates for the CIs and the band; 0 skips them (NaN CIs).
    seed : int
        Seed of ``numpy.random.default_rng`` for the resampling: equal seeds, equal CIs.
    per : {"image", "group"}
        FP rate per image (frame) or per group (video); "group" needs ``groups``.
    alpha : float
        1 - confidence level (0.05: 95 % CIs).

    Returns
    -------
    FrocResult

    Raises
    ------
    ValueError
        Bad input (see :func:`core.stats.froc_data.encode_froc`), a negative FP rate, an
        unknown ``per``.
    """
    data = encode_froc(scores, lesion_ids, image_ids, lesions=lesions, images=images,
                       ignore=ignore, groups=groups)
    _check_per(per, data)
    rates = _check_rates(fps)
    n_boot = check_n_boot(n_boot)
    check_alpha(alpha)
    c_fps, c_sens, c_thr = _curve(data, per)
    sens = froc_sensitivity(c_fps, c_sens, rates)
    cpm = float(sens.mean()) if rates else math.nan
    n_ci = (np.full(len(rates), np.nan), np.full(len(rates), np.nan))
    cpm_ci, band, n_valid, resampled = (math.nan, math.nan), None, 0, ""
    if n_boot and data.n_images >= 2:
        # Resample whole groups; with a single group there is nothing between groups to
        # resample, so the images are (the verdict says what that CI describes).
        unit = data.image_group if data.n_groups >= 2 else np.arange(data.n_images)
        resampled = "group" if data.grouped and data.n_groups >= 2 else "image"
        grid = band_grid(rates)
        reps = bootstrap_froc(data, rates, grid, n_boot, np.random.default_rng(seed),
                              per=per, unit=unit)
        n_valid = int(reps.valid.sum())
        if rates:
            n_ci = percentile_ci(reps.sens, alpha)
            lo, hi = percentile_ci(reps.cpm, alpha)
            cpm_ci = (float(lo), float(hi))
        band = (grid, *percentile_ci(reps.band, alpha)) if grid.size else None
    points = tuple(
        FrocPoint(r, float(sens[j]), (float(n_ci[0][j]), float(n_ci[1][j])),
                  float(c_thr[int(np.count_nonzero(c_fps <= r)) - 1]))
        for j, r in enumerate(rates))
    counted = ~data.ignore
    on_lesion = counted & (data.lesion >= 0)
    n_tp = int(np.unique(data.lesion[on_lesion]).size)
    extra = {} if band is None else {"band_fps": _frozen(band[0]), "band_lo": _frozen(band[1]),
                                     "band_hi": _frozen(band[2])}
    return FrocResult(
        points=points, cpm=cpm, cpm_ci=cpm_ci,
        curve_fps=_frozen(c_fps), curve_sens=_frozen(c_sens), curve_thresholds=_frozen(c_thr),
        n_lesions=data.n_lesions, n_images=data.n_images, n_groups=data.n_groups,
        n_tp=n_tp, n_fp=int(np.count_nonzero(counted & (data.lesion < 0))),
        n_ignored=int(data.ignore.sum()), n_duplicates=int(on_lesion.sum()) - n_tp,
        per=per, alpha=float(alpha), n_boot=n_boot if resampled else 0, n_boot_valid=n_valid,
        resampled=resampled, seed=int(seed), **extra)
