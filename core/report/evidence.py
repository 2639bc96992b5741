"""Pairwise significance between the runs of an experiment, the depth recommendation and
the label-budget curve, from the statistics package.

* ROC tasks: DeLong's paired test of two runs' AUCs on the same test items
  (:func:`core.stats.compare.paired_delong`, DeLong et al., Biometrics 1988), from the
  runs' stored ``test`` predictions and the test items' current labels.
* CIMT: Wilcoxon signed-rank test of two runs' per-ROI errors on the same ROIs
  (:func:`core.tasks.cimt.results.compare_runs`, Wilcoxon 1945).
* FROC tasks: the paired bootstrap over subjects
  (:func:`core.stats.froc_compare.compare_froc_at`, Efron & Tibshirani 1993; paired as
  Chakraborty's JAFROC analyses) at the task's operating point, from every candidate
  both runs scored (:func:`core.experiments.results.froc_inputs`).
* The recommendation (:func:`core.stats.recommend.recommend_depth`) and the learning
  curve (:func:`core.stats.learning_curve.learning_curve_fit`) are read duck-typed, so
  the report degrades to a note when one is missing or cannot be computed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.report.results import fmt


@dataclass
class PairTable:
    """One test at one operating point between every pair of runs.

    ``cells[(i, j)]`` (``i < j``, indices into ``labels``) holds
    ``{"diff", "ci", "p"}``: run i minus run j, its CI (NaNs when the test gives none), p.
    """

    test: str
    point: str
    labels: list[str]
    cells: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    unit: str = ""


@dataclass
class Evidence:
    tables: list[PairTable] = field(default_factory=list)
    recommendation: dict[str, Any] | None = None
    budget: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def plain(obj: Any) -> Any:
    """Dataclasses, mappings and sequences as plain dicts and lists (for display)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        if hasattr(obj, "to_dict"):
            return plain(obj.to_dict())
        return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist() if obj.size <= 20 else f"array {obj.shape}"
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


# --------------------------------------------------------------------------- ROC
def roc_test_scores(project, task_name: str, runs: list) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """(labels (n,), {run id: scores (n,)}) on the test items every run scored.

    Labels are the test items' current labels (positive: the task's positive classes);
    scores the positive-class probability of each run's stored ``test`` predictions.
    """
    from core.tasks.base import get_task

    task = get_task(task_name, **(runs[0].task_options or {}))
    items = task.labelled_items(project, "test")
    pos = set(int(c) for c in task.positive)
    truth = {(int(s), int(i)): int(y in pos) for s, i, y in
             zip(items.study_ids, items.indices, items.labels.tolist())}
    per_run: dict[int, dict[tuple[int, int], float]] = {}
    for run in runs:
        got: dict[tuple[int, int], float] = {}
        for p in project.predictions(run.id, split="test"):
            sc = p.probs[:, sorted(c for c in pos if c < p.probs.shape[1])].sum(axis=1)
            got.update({(p.study_id, int(i)): float(v) for i, v in zip(p.items, sc)})
        per_run[run.id] = got
    keys = set(truth)
    for got in per_run.values():
        keys &= set(got)
    keys_sorted = sorted(keys)
    labels = np.asarray([truth[k] for k in keys_sorted], np.int64)
    return labels, {rid: np.asarray([got[k] for k in keys_sorted], np.float64)
                    for rid, got in per_run.items()}


def roc_pairs(labels: np.ndarray, scores: dict[int, np.ndarray], names: dict[int, str],
              alpha: float = 0.05) -> PairTable:
    """DeLong's paired test between every two runs (diff = AUC i − AUC j)."""
    ids = list(scores)
    table = PairTable("DeLong paired test (DeLong et al. 1988)", "AUC",
                      [names[i] for i in ids])
    try:
        from core.stats.compare import paired_delong
    except ImportError:  # older statistics package: the test without the CI
        paired_delong = None
    for a in range(len(ids)):
        for b in range(a + 1, len(ids)):
            sa, sb = scores[ids[a]], scores[ids[b]]
            if paired_delong is not None:
                r = paired_delong(sa, sb, labels, alpha=alpha)
                table.cells[(a, b)] = {"diff": r.diff, "ci": tuple(r.diff_ci), "p": r.p}
            else:
                from core.stats.delong import delong_test
                from core.stats.roc import auc

                _, p = delong_test(sa, sb, labels)
                table.cells[(a, b)] = {"diff": auc(sa, labels) - auc(sb, labels),
                                       "ci": (math.nan, math.nan), "p": p}
    return table


# --------------------------------------------------------------------------- CIMT
def cimt_pairs(summaries: list) -> list[PairTable]:
    """Wilcoxon signed-rank tests of per-ROI errors (LI, MA, |IMT error|) between runs."""
    from core.tasks.cimt.results import compare_runs

    tables = {k: PairTable("Wilcoxon signed-rank (paired ROIs)", k,
                           [s.label for s in summaries], unit=summaries[0].result.unit)
              for k in ("LI", "MA", "IMT")}
    for a in range(len(summaries)):
        for b in range(a + 1, len(summaries)):
            try:
                res = compare_runs(summaries[a].result, summaries[b].result)
            except ValueError:
                continue
            for k, v in res.items():
                tables[k].cells[(a, b)] = {"diff": v["median_a"] - v["median_b"],
                                           "ci": (math.nan, math.nan), "p": v["p"]}
    for k, t in tables.items():
        t.point = {"LI": "LI error", "MA": "MA error", "IMT": "|IMT error|"}[k]
    return [t for t in tables.values() if t.cells]


# --------------------------------------------------------------------------- FROC
def froc_pairs(project, experiment_id: int, alpha: float = 0.05, n_boot: int = 2000,
               seed: int = 0) -> PairTable | None:
    """Paired subject-bootstrap comparisons of every two evaluated runs' sensitivity at
    the task's operating point (diff = run i − run j); None with fewer than two runs."""
    from core.experiments.results import froc_inputs
    from core.stats.froc_compare import compare_froc_at, operating_point_text

    results, options = froc_inputs(project, experiment_id)
    if len(results) < 2:
        return None
    names = list(results)
    first = results[names[0]]
    kw = {k: first[k] for k in ("lesions", "images", "groups")}
    rates = options["fp_rate"]
    point = operating_point_text(rates, first.get("fp_unit", "image"))
    table = PairTable("paired bootstrap over subjects", point, names)
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            c = compare_froc_at(results[names[a]], results[names[b]], rates, n_boot=n_boot,
                                seed=seed, alpha=alpha, **kw)
            table.cells[(a, b)] = {"diff": c.diff, "ci": tuple(c.diff_ci), "p": c.p}
    return table


# --------------------------------------------------------------------------- gather
def _roc_inputs(project, report, notes: list[str]):
    """(labels, {run id: scores}) on the shared test items, or None (with a note)."""
    done = [s for s in report.runs if s.result is not None]
    try:
        labels, scores = roc_test_scores(project, report.experiment.task, [s.run for s in done])
    except Exception as exc:  # noqa: BLE001  (the report still says everything else)
        notes.append(f"Pairwise DeLong tests not computed: {exc}")
        return None
    if labels.size == 0 or labels.min() == labels.max():
        notes.append("Pairwise DeLong tests not computed: the runs share no test items "
                     "with both classes.")
        return None
    return labels, scores


def _significance(project, report, roc_in, notes: list[str]) -> list[PairTable]:
    done = [s for s in report.runs if s.result is not None]
    if len(done) < 2:
        return []
    kinds = {s.kind for s in done}
    if kinds == {"roc"}:
        if roc_in is None:
            return []
        return [roc_pairs(*roc_in, {s.run.id: s.label for s in done})]
    if kinds == {"cimt"}:
        return cimt_pairs(done)
    if kinds == {"froc"}:
        try:
            table = froc_pairs(project, report.experiment.id)
        except (ValueError, KeyError) as exc:
            notes.append(f"Pairwise FROC comparisons not computed: {exc}")
            return []
        return [] if table is None else [table]
    notes.append("The runs have results of different kinds; no pairwise test.")
    return []


def _recommendation(rec: Any) -> dict[str, Any] | None:
    if rec is None:
        return None
    d = plain(rec)
    if not isinstance(d, Mapping):
        return {"text": str(rec)}
    return dict(d)


def gather(project, report, *, pairwise=None, recommendation=None, budget=None) -> Evidence:
    """Pairwise tests, the recommendation and the budget curve of a report's experiment.

    Given arguments are used as they are (``pairwise``: PairTables; ``recommendation``:
    a STATS Recommendation or dict; ``budget``: a figure dict, see
    :func:`core.report.plots_curves.draw_budget`); missing ones are computed where the
    statistics package allows, else a note says why not.
    """
    ev = Evidence()
    done = [s for s in report.runs if s.result is not None]
    roc_in = None
    if len(done) >= 2 and {s.kind for s in done} == {"roc"} and (
            pairwise is None or recommendation is None):
        roc_in = _roc_inputs(project, report, ev.notes)
    ev.tables = (list(pairwise) if pairwise is not None
                 else _significance(project, report, roc_in, ev.notes))
    if recommendation is None:
        from core.report.providers import recommend

        recommendation = recommend(report, roc_in, ev.notes, project=project)
    ev.recommendation = _recommendation(recommendation)
    if budget is None and report.experiment.kind in ("budget", "data"):
        from core.report.providers import budget_curves

        budget = budget_curves(report, ev.notes)
    ev.budget = budget
    return ev


def p_text(p: Any) -> str:
    try:
        p = float(p)
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(p):
        return "–"
    return "< 0.001" if p < 0.001 else fmt(p, 3)
