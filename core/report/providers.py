"""The statistics pieces the report borrows, read defensively.

:func:`recommend` asks :func:`core.stats.recommend.recommend_depth` for the shallowest
depth not significantly worse than the best; :func:`budget_curves` fits the learning
curve of a label-budget (or reduced-data) experiment with
:func:`core.stats.learning_curve.learning_curve_fit`. Either may be missing or fail on
the stored data: the report then says so in a note and shows the rest.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from core.report.plots_curves import budget_grid


def _latest_per_depth(runs: list) -> dict[str, Any]:
    """The newest evaluated run of each depth (a depth sweep has one; a re-run replaces)."""
    out: dict[str, Any] = {}
    for s in sorted(runs, key=lambda s: s.run.id):
        if s.result is not None:
            out[s.depth] = s
    return out


def recommendation_inputs(report, roc_in) -> tuple[dict[str, dict], dict[str, Any]] | None:
    """``(results, options)`` for :func:`core.stats.recommend.recommend_depth` from the
    stored runs: ROC scores and labels on the shared test items, or CIMT per-ROI errors
    (mean of the LI and MA distances); None for FROC (see :func:`recommend`) or mixed
    results."""
    per_depth = _latest_per_depth(report.runs)
    kinds = {s.kind for s in per_depth.values()}
    if len(per_depth) < 2 or len(kinds) != 1:
        return None
    if kinds == {"roc"} and roc_in is not None:
        labels, scores = roc_in
        return ({d: {"scores": scores[s.run.id], "labels": labels}
                 for d, s in per_depth.items()}, {})
    if kinds == {"cimt"}:
        res = {}
        for d, s in per_depth.items():
            r, u = s.result, s.result.unit
            res[d] = {"errors": np.asarray([(getattr(x, f"li_{u}") + getattr(x, f"ma_{u}")) / 2
                                            for x in r.rois], np.float64),
                      "ids": [f"{x.study_id}:{x.frame}:{x.roi_id}" for x in r.rois]}
        return res, {}
    return None


def recommend(report, roc_in, notes: list[str], project=None) -> Any:
    """The STATS recommendation for a depth sweep, or None (with a note saying why).
    FROC tasks need ``project`` (every candidate's score and lesion)."""
    if report.experiment.kind != "depth":
        return None
    try:
        from core.stats.recommend import recommend_depth
    except ImportError:
        notes.append("No depth recommendation: this LayerTune has no recommendation module.")
        return None
    if project is not None and {s.kind for s in report.runs if s.result is not None} == {
            "froc"}:
        from core.experiments.results import recommendation

        try:
            return recommendation(project, report.experiment.id)
        except (ValueError, KeyError) as exc:
            notes.append(f"No depth recommendation: {exc}")
            return None
    inputs = recommendation_inputs(report, roc_in)
    if inputs is None:
        notes.append("No depth recommendation in this report (it needs two or more evaluated "
                     "depths on the same test cases).")
        return None
    results, options = inputs
    try:
        return recommend_depth(results, **options)
    except (ValueError, KeyError, TypeError) as exc:
        notes.append(f"No depth recommendation: {exc}")
        return None


def _group_key(s) -> str:
    cfg = s.run.config or {}
    init = cfg.get("init")
    return s.depth if s.depth != "scratch" or init in (None, "caffe") else f"scratch {init}"


def _fit_curve(n: np.ndarray, perf: np.ndarray, ci: list, target: float | None,
               notes: list[str], name: str) -> tuple[dict | None, list | None]:
    """({"n", "perf", "lo", "hi"} on a grid and "model": the fit, [estimate, lo, hi] or
    None) from STATS."""
    try:
        from core.stats.learning_curve import learning_curve_fit
    except ImportError:
        notes.append("No learning-curve fit: this LayerTune has no learning-curve module.")
        return None, None
    try:
        finite = all(math.isfinite(v) for pair in ci for v in pair)
        fit = learning_curve_fit(n, perf, ci if finite else None)
        grid = budget_grid(n)
        mid, lo, hi = _predict(fit, grid)
        needed = None
        if target is not None:
            got = fit.labels_needed(float(target))
            if isinstance(got, (tuple, list)):
                needed = [float(v) if v is not None else math.nan for v in got]
            elif getattr(got, "reachable", False):
                needed = [got.estimate, got.lo, got.hi]
            if needed is not None and not math.isfinite(needed[0]):
                needed = None
        return {"n": grid, "perf": mid, "lo": lo, "hi": hi, "model": fit}, needed
    except Exception as exc:  # noqa: BLE001  (a fit that fails must not stop the report)
        notes.append(f"No learning-curve fit for {name}: {exc}")
        return None, None


def _predict(fit: Any, grid: np.ndarray) -> tuple[Any, Any, Any]:
    """The fitted curve and its band on ``grid`` from whichever method the fit offers."""
    for band in ("band", "predict_interval", "interval"):
        f = getattr(fit, band, None)
        if callable(f):
            out = f(grid)
            if isinstance(out, tuple) and len(out) == 3:
                return out
            if isinstance(out, tuple) and len(out) == 2:
                return fit.predict(grid), out[0], out[1]
    return fit.predict(grid), None, None


def target_metric(result: Any, metric: str) -> tuple[str, float, tuple[float, float]] | None:
    """(name, value, 95 % CI) of ``metric`` (a plan's target: ``"auc"``, ``"cpm"`` or
    ``"sensitivity@R"``: at false-positive rate R of a ROC, or R FPs per image of a
    FROC, when the result holds that operating point); None when it does not."""
    from core.report.results import as_result, result_kind

    r = as_result(result)
    kind = result_kind(r)
    if metric == "auc" and kind == "roc":
        return "AUC", float(r.auc), (float(r.auc_ci[0]), float(r.auc_ci[1]))
    if metric == "cpm" and kind == "froc":
        return "CPM", float(r.cpm), (float(r.cpm_ci[0]), float(r.cpm_ci[1]))
    if metric.startswith("sensitivity@") and kind in ("roc", "froc"):
        rate = float(metric.split("@", 1)[1])
        if kind == "roc":
            for op in r.operating_points:
                if math.isclose(op.fpr, rate, abs_tol=1e-9):
                    return (f"sensitivity at {rate:g} FPR", float(op.tpr),
                            (float(op.tpr_ci[0]), float(op.tpr_ci[1])))
        else:
            for pt in r.points:
                if math.isclose(pt.fp_rate, rate, abs_tol=1e-9):
                    return (f"sensitivity at {rate:g} FPs", float(pt.sensitivity),
                            (float(pt.ci[0]), float(pt.ci[1])))
    return None


def budget_curves(report, notes: list[str]) -> dict[str, Any] | None:
    """``{group: budget figure dict}`` for the runs' (labels, performance) per depth.

    Performance is the plan's target metric (:func:`target_metric`) when every run's
    result holds it, else the headline (AUC, CPM, mean distance) with a note; the
    target value is extrapolated to only when it is in the metric drawn.
    """
    target = (report.experiment.plan or {}).get("target")
    metric = target.get("metric") if isinstance(target, dict) else None
    value = target.get("value") if isinstance(target, dict) else target
    groups: dict[str, list] = {}
    for s in report.runs:
        if s.result is not None and s.n_items and math.isfinite(s.value):
            groups.setdefault(_group_key(s), []).append(s)
    measured = {id(s): target_metric(s.result, metric) if metric else None
                for ss in groups.values() for s in ss}
    use_target = bool(measured) and all(v is not None for v in measured.values())
    if metric and groups and not use_target:
        notes.append(f"The runs' results do not hold the target's metric ({metric}); the "
                     "label-budget curve shows their headline metric and no target.")
        value = None
    out = {}
    for name, ss in groups.items():
        ss.sort(key=lambda s: s.n_items)
        rows = [measured[id(s)] if use_target else (s.metric, s.value, tuple(s.ci))
                for s in ss]
        n = np.asarray([s.n_items for s in ss], np.float64)
        perf = np.asarray([r[1] for r in rows], np.float64)
        ci = [list(r[2]) for r in rows]
        d: dict[str, Any] = {"n": n, "perf": perf, "ci": ci, "metric": rows[0][0],
                             "target": None if value is None else float(value)}
        if len(ss) >= 3:
            d["fit"], d["needed"] = _fit_curve(n, perf, ci, d["target"], notes, name)
        out[name] = d
    return out or None
