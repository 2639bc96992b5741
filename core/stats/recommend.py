"""Which fine-tuning depth to use: the shallowest one not worse than the best.

After a depth sweep every depth has been evaluated on the same test cases. The best one
(highest AUC or sensitivity, lowest error) is the reference; each other depth is compared
with it on the same cases, and the recommendation is the *shallowest* depth that passes
(shallower = fewer layers tuned, faster training, less over-fitting of small data sets;
among equals the shallowest wins).

Rule (``rule="noninferiority"``, the default). A depth passes when it is shown to be
*non-inferior* to the best by a margin ``m`` set in advance: the lower end of the
two-sided ``1 - alpha`` CI of ``depth - best`` lies above ``-m`` — equivalently the
one-sided test of H0 "worse by ``m`` or more" rejects at level ``alpha / 2`` (Walker &
Nowacki [1]_; the FDA guidance [2]_ reads non-inferiority off the 95 % two-sided CI the
same way). Absence of a significant difference is *not* taken as evidence of equality
[1]_: with few test cases every depth would "pass" and the shallowest would always be
picked. Default margins (:data:`DEFAULT_MARGINS`): 0.02 AUC, 0.02 sensitivity; for
errors (lower is better) 10 % of the best depth's mean error. ``rule="difference"``
(not recommended, there for comparison): a depth passes unless it is significantly worse
(two-sided ``p < alpha``).

Tests, per kind of result:

* ROC (``scores`` + ``labels``): DeLong's paired test and CI of the AUC difference
  (:func:`core.stats.compare.paired_delong`);
* FROC (detector candidates): paired bootstrap over subjects at an FP rate
  (:func:`core.stats.froc_compare.compare_froc_at`);
* per-ROI errors (CIMT): Wilcoxon signed-rank [3]_ — two-sided for the difference, and
  one-sided on the differences shifted by the margin for non-inferiority (Wellek [4]_
  §5.4) — with a paired t interval of the mean difference shown alongside.

Each depth is compared with the best only (k - 1 tests, no multiplicity correction: the
question is "is this one as good as the best", asked of each).

References
----------
.. [1] E. Walker, A. S. Nowacki, "Understanding equivalence and noninferiority testing",
   Journal of General Internal Medicine 26(2):192-196, 2011.
.. [2] U.S. Food and Drug Administration, "Non-Inferiority Clinical Trials to Establish
   Effectiveness: Guidance for Industry", 2016.
.. [3] F. Wilcoxon, "Individual comparisons by ranking methods", Biometrics Bulletin
   1(6):80-83, 1945.
.. [4] S. Wellek, "Testing Statistical Hypotheses of Equivalence and Noninferiority",
   2nd ed., Chapman & Hall/CRC, 2010.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import t as student_t
from scipy.stats import wilcoxon

from core.stats._checks import check_alpha, check_scores
from core.stats.agreement import paired_wilcoxon
from core.stats.compare import paired_delong
from core.stats.delong import delong_ci
from core.stats.froc_compare import Detections, compare_froc_at, operating_point_text

__all__ = ["DEFAULT_MARGINS", "DEPTH_ORDER", "DepthRow", "Evidence", "Recommendation",
           "recommend_depth"]

#: Shallow to deep, then scratch: :data:`core.train.model.DEPTHS` (not imported here, so
#: that the statistics need no torch; a test keeps the two equal).
DEPTH_ORDER: tuple[str, ...] = ("fc8", "fc7", "fc6", "conv5", "conv4", "conv3", "conv2",
                                "conv1", "scratch")
#: Non-inferiority margins per metric; ``None``: 10 % of the best depth's mean error.
DEFAULT_MARGINS: dict[str, float | None] = {"auc": 0.02, "sensitivity": 0.02, "error": None}
ERROR_MARGIN_FRACTION = 0.10
RULES = ("noninferiority", "difference")


def _num(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


@dataclass(frozen=True)
class DepthRow:
    """One depth in the recommendation's table.

    ``value`` is the depth's AUC, sensitivity or mean error (``value_ci`` its CI: DeLong
    for the AUC, paired t for the mean error, NaNs for the sensitivity); ``diff`` is
    ``value - best value`` with its CI; ``p`` the two-sided test of "no difference" and
    ``p_noninferiority`` the one-sided test of "worse by the margin or more" (both NaN
    for the best depth itself); ``passes`` whether the rule accepts it.
    """

    depth: str
    value: float
    value_ci: tuple[float, float]
    diff: float
    diff_ci: tuple[float, float]
    p: float
    p_noninferiority: float
    significantly_worse: bool
    passes: bool
    best: bool

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("value", "diff", "p", "p_noninferiority"):
            d[k] = _num(d[k])
        for k in ("value_ci", "diff_ci"):
            d[k] = [_num(v) for v in d[k]]
        return d


@dataclass(frozen=True)
class Evidence:
    """Why the recommended depth: the test, the operating point, the p-value."""

    test: str
    operating_point: str
    p: float
    margin: float
    against: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "p": _num(self.p), "margin": _num(self.margin)}


@dataclass(frozen=True)
class Recommendation:
    """Result of :func:`recommend_depth`."""

    depth: str
    best_depth: str
    metric: str
    higher_is_better: bool
    rule: str
    margin: float
    alpha: float
    evidence: Evidence
    rows: tuple[DepthRow, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"depth": self.depth, "best_depth": self.best_depth, "metric": self.metric,
                "higher_is_better": self.higher_is_better, "rule": self.rule,
                "margin": _num(self.margin), "alpha": self.alpha,
                "evidence": self.evidence.to_dict(), "rows": [r.to_dict() for r in self.rows]}

    def text(self) -> str:
        """The recommendation, its evidence and the table, as plain text."""
        head = f"{'depth':<8} {self.metric:>11} {'diff':>8} {'p':>8} {'p (NI)':>8}  pass"
        lines = [f"recommended depth: {self.depth} (best: {self.best_depth})",
                 self.evidence.text, "", head]
        for r in self.rows:
            p = "-" if r.best else f"{r.p:.3g}"
            pn = "-" if r.best else f"{r.p_noninferiority:.3g}"
            lines.append(f"{r.depth:<8} {r.value:>11.4f} {r.diff:>+8.4f} {p:>8} {pn:>8}  "
                         f"{'best' if r.best else ('yes' if r.passes else 'no')}")
        return "\n".join(lines)


def _kind(v: Any) -> str:
    if isinstance(v, Detections):
        return "sensitivity"
    if not isinstance(v, Mapping):
        raise ValueError("each result must be a mapping with 'scores' and 'labels' (ROC), "
                         "'scores', 'lesion_ids', 'image_ids' and 'lesions' (FROC) or "
                         f"'errors' (per-ROI errors), got {type(v).__name__}")
    if "errors" in v:
        return "error"
    if "lesion_ids" in v:
        return "sensitivity"
    if "labels" in v:
        return "auc"
    raise ValueError(f"cannot tell the kind of result from its keys {sorted(v)}")


def _aligned(results: Mapping[str, Any], key: str) -> dict[str, np.ndarray]:
    """Each depth's ``key`` array, reordered by ``ids`` when given, checked paired."""
    out: dict[str, np.ndarray] = {}
    ref_ids = None
    for depth, v in results.items():
        x = check_scores(v[key], name=f"{depth} {key}")
        ids = v.get("ids")
        if ids is not None:
            ids = np.asarray(ids).astype(str)
            if ids.size != x.size or np.unique(ids).size != ids.size:
                raise ValueError(f"{depth}: ids must be distinct, one per value")
            order = np.argsort(ids, kind="stable")
            if ref_ids is None:
                ref_ids = ids[order]
            elif not np.array_equal(ids[order], ref_ids):
                raise ValueError(f"{depth}: not evaluated on the same cases as the others")
            x = x[order]
        out[depth] = x
    sizes = {d: a.size for d, a in out.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"the depths were not evaluated on the same cases: sizes {sizes}")
    return out


def _mean_ci(x: np.ndarray, alpha: float) -> tuple[float, float]:
    if x.size < 2:
        return (math.nan, math.nan)
    half = float(student_t.ppf(1 - alpha / 2, x.size - 1)) * float(x.std(ddof=1)) / math.sqrt(
        x.size)
    return (float(x.mean()) - half, float(x.mean()) + half)


def _error_ni_p(d: np.ndarray, margin: float) -> float:
    """One-sided Wilcoxon of H0 median(err_depth - err_best) >= margin."""
    x = d - margin
    if not np.any(x != 0):
        return 1.0
    return float(wilcoxon(x, alternative="less").pvalue)


def _compare(kind: str, results: Mapping[str, Any], order: list[str], alpha: float,
             margin: float | None, fp_rate: Any, n_boot: int, seed: int
             ) -> tuple[str, float, list[dict[str, Any]], str, str]:
    """Values, best depth, and each depth against the best."""
    rows: list[dict[str, Any]] = []
    if kind == "auc":
        scores = _aligned(results, "scores")
        labels = _aligned({d: {"scores": v["labels"], "ids": v.get("ids")}
                           for d, v in results.items()}, "scores")
        ref = labels[order[0]]
        for d in order:
            if not np.array_equal(labels[d], ref):
                raise ValueError(f"{d}: labels differ from {order[0]}'s: not the same cases")
        vals = {d: delong_ci(scores[d], ref, alpha) for d in order}
        values = {d: v[0] for d, v in vals.items()}
        best = max(order, key=lambda d: (values[d], -order.index(d)))
        margin = DEFAULT_MARGINS["auc"] if margin is None else margin
        for d in order:
            row = {"value": values[d], "value_ci": vals[d][1:]}
            if d != best:
                c = paired_delong(scores[d], scores[best], ref, alpha)
                row.update(diff=c.diff, diff_ci=c.diff_ci, p=c.p,
                           p_ni=c.noninferiority_p(margin))
            rows.append(row)
        return best, margin, rows, "DeLong paired test (DeLong et al. 1988)", "AUC"
    if kind == "sensitivity":
        if fp_rate is None:
            raise ValueError("FROC results need fp_rate: the operating point (FPs per image)")
        dets = {d: Detections.coerce(results[d], d) for d in order}
        common = results[order[0]]
        kw = {k: common.get(k) for k in ("lesions", "images", "groups")} if isinstance(
            common, Mapping) else {}
        if kw.get("lesions") is None:
            raise ValueError("FROC results need 'lesions' (every lesion of the test cases)")
        kw["per"] = common.get("per", "image") if isinstance(common, Mapping) else "image"
        plain = {d: compare_froc_at(dets[d], dets[order[0]], fp_rate, n_boot=0, **kw)
                 for d in order}
        values = {d: c.sens_a for d, c in plain.items()}
        best = max(order, key=lambda d: (values[d], -order.index(d)))
        margin = DEFAULT_MARGINS["sensitivity"] if margin is None else margin
        for d in order:
            row = {"value": values[d], "value_ci": _froc_value_ci(dets[d], kw, fp_rate,
                                                                  n_boot, seed, alpha)}
            if d != best:
                c = compare_froc_at(dets[d], dets[best], fp_rate, n_boot=n_boot, seed=seed,
                                    alpha=alpha, **kw)
                row.update(diff=c.diff, diff_ci=c.diff_ci, p=c.p,
                           p_ni=c.noninferiority_p(margin))
            rows.append(row)
        rates = plain[order[0]].fp_rates
        unit = (common.get("fp_unit") if isinstance(common, Mapping) else None) or kw["per"]
        point = operating_point_text(rates, unit)
        return best, margin, rows, "paired bootstrap over subjects", point
    errors = _aligned(results, "errors")
    values = {d: float(errors[d].mean()) for d in order}
    best = min(order, key=lambda d: (values[d], order.index(d)))
    if margin is None:
        margin = ERROR_MARGIN_FRACTION * abs(values[best])
    for d in order:
        row = {"value": values[d], "value_ci": _mean_ci(errors[d], alpha)}
        if d != best:
            diff = errors[d] - errors[best]
            row.update(diff=float(diff.mean()), diff_ci=_mean_ci(diff, alpha),
                       p=paired_wilcoxon(errors[d], errors[best])[1],
                       p_ni=_error_ni_p(diff, margin))
        rows.append(row)
    return best, margin, rows, "Wilcoxon signed-rank (paired)", "mean error per ROI"


def _froc_value_ci(d: Detections, kw: dict, fp_rate: Any, n_boot: int, seed: int,
                   alpha: float) -> tuple[float, float]:
    """Bootstrap CI of one depth's (mean) sensitivity at ``fp_rate``, resampling the same
    units as the comparison (:func:`core.stats.froc.froc_analysis`: its CPM over those
    rates); NaNs without replicates."""
    from core.stats.froc import froc_analysis

    if not n_boot:
        return math.nan, math.nan
    rates = [fp_rate] if np.isscalar(fp_rate) else list(fp_rate)
    res = froc_analysis(d.scores, d.lesion_ids, d.image_ids, lesions=kw["lesions"],
                        images=kw.get("images"), ignore=d.ignore, groups=kw.get("groups"),
                        fps=rates, n_boot=n_boot, seed=seed, per=kw.get("per", "image"),
                        alpha=alpha)
    return tuple(float(v) for v in res.cpm_ci)


def recommend_depth(
    results: Mapping[str, Any],
    *,
    margin: float | None = None,
    alpha: float = 0.05,
    metric: str = "auto",
    rule: str = "noninferiority",
    order: Sequence[str] | None = None,
    fp_rate: float | Sequence[float] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> Recommendation:
    """The shallowest depth whose performance is not worse than the best depth's.

    Method: each depth against the best on the same cases with the test of its kind of
    result, and the non-inferiority rule with margin ``margin`` (module docstring; Walker
    & Nowacki [1]_).

    Parameters
    ----------
    results : mapping depth -> result
        Every depth's evaluation on the same test cases, one kind for all:

        * ROC: ``{"scores": (n,), "labels": (n,)[, "ids": (n,)]}``;
        * FROC: ``{"scores", "lesion_ids", "image_ids"[, "ignore"], "lesions"[, "images",
          "groups", "per", "fp_unit"]}`` (lesions, images, groups and per are read from
          the first depth and must hold for all; give ``images`` so that every pair
          counts the same images; ``fp_unit`` names the image in the text, e.g.
          "frame");
        * per-ROI errors (lower is better): ``{"errors": (n,)[, "ids": (n,)]}``.

        ``ids`` (case or ROI ids) align the depths when their orders differ.
    margin : float, optional
        Non-inferiority margin in the metric's units (AUC, sensitivity, error); default
        :data:`DEFAULT_MARGINS`.
    alpha : float
        Two-sided level: CIs are ``1 - alpha``; the one-sided non-inferiority test is at
        ``alpha / 2``.
    metric : {"auto", "auc", "sensitivity", "error"}
        The kind of result; "auto" reads it from the keys.
    rule : {"noninferiority", "difference"}
    order : sequence of str, optional
        Depths from shallowest to deepest; default :data:`DEPTH_ORDER`, other names after
        them in the order given.
    fp_rate : float or sequence of float
        FROC only: the operating point (several: their mean sensitivity).
    n_boot, seed : int
        FROC only: bootstrap replicates and seed.

    Returns
    -------
    Recommendation
    """
    check_alpha(alpha)
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    if margin is not None and not (math.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be finite and >= 0, got {margin}")
    if len(results) < 1:
        raise ValueError("no results to recommend from")
    kinds = {d: _kind(v) for d, v in results.items()}
    kind = next(iter(kinds.values())) if metric == "auto" else metric
    if kind not in DEFAULT_MARGINS:
        raise ValueError(f"metric must be auto, auc, sensitivity or error, got {metric!r}")
    mixed = [d for d, k in kinds.items() if k != kind]
    if mixed:
        raise ValueError(f"results of different kinds: {', '.join(mixed)} are not {kind}")
    ref = list(DEPTH_ORDER if order is None else order)
    names = list(results)
    unknown = [d for d in names if d not in ref]
    if order is not None and unknown:
        raise ValueError(f"order does not place {', '.join(unknown)}")
    seq = [d for d in ref if d in results] + unknown
    best, margin, raw, test, point = _compare(kind, results, seq, alpha, margin, fp_rate,
                                              n_boot, seed)
    higher = kind != "error"
    rows = []
    for d, r in zip(seq, raw):
        is_best = d == best
        diff = 0.0 if is_best else r["diff"]
        p = math.nan if is_best else r["p"]
        p_ni = math.nan if is_best else r["p_ni"]
        worse = (diff < 0) if higher else (diff > 0)
        sig_worse = (not is_best) and worse and p < alpha
        passes = is_best or (p_ni < alpha / 2 if rule == "noninferiority" else not sig_worse)
        rows.append(DepthRow(depth=d, value=float(r["value"]),
                             value_ci=tuple(float(v) for v in r["value_ci"]), diff=float(diff),
                             diff_ci=(0.0, 0.0) if is_best else tuple(float(v) for v in
                                                                     r["diff_ci"]),
                             p=float(p), p_noninferiority=float(p_ni),
                             significantly_worse=bool(sig_worse), passes=bool(passes),
                             best=is_best))
    pick = next(r for r in rows if r.passes)
    if pick.best:
        txt = (f"{pick.depth} has the best {point}; no shallower depth was shown "
               f"{'non-inferior' if rule == 'noninferiority' else 'not significantly worse'}"
               f" ({test}, margin {margin:.3g})")
        p_ev = math.nan
    elif rule == "noninferiority":
        p_ev = pick.p_noninferiority
        txt = (f"{pick.depth} is non-inferior to {best} in {point}: difference "
               f"{pick.diff:+.4f} ({round(100 * (1 - alpha))} % CI {pick.diff_ci[0]:+.4f} to "
               f"{pick.diff_ci[1]:+.4f}), margin {margin:.3g}; {test}, one-sided p = "
               f"{p_ev:.3g} < {alpha / 2:g}")
    else:
        p_ev = pick.p
        txt = (f"{pick.depth} is not significantly worse than {best} in {point}: "
               f"difference {pick.diff:+.4f}; {test}, p = {p_ev:.3g} (>= {alpha:g} or better)")
    ev = Evidence(test=test, operating_point=point, p=float(p_ev), margin=float(margin),
                  against=best, text=txt)
    return Recommendation(depth=pick.depth, best_depth=best, metric=kind,
                          higher_is_better=higher, rule=rule, margin=float(margin),
                          alpha=float(alpha), evidence=ev, rows=tuple(rows))
