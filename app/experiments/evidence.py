"""Pairwise significance and the depth recommendation of an experiment, for the board.

Nothing is computed here: the pairwise tables are the report's
(:func:`core.report.evidence.gather`: DeLong's paired test for ROC tasks, DeLong et al.
1988; Wilcoxon signed-rank on paired ROIs for CIMT, Wilcoxon 1945), so the board and the
HTML report always show the same numbers; the recommendation is
:func:`core.stats.recommend.recommend_depth` (the shallowest depth non-inferior to the
best by a margin; Walker & Nowacki 2011) on the runs' test cases, gathered by the
experiment module when it offers a gatherer (every task), else from the stored ROC test
predictions (:func:`core.report.evidence.roc_test_scores`).
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .api import MissingPart, call_with

ALPHA = 0.05


@dataclass
class Pairwise:
    """One test between every two runs: ``p[i, j]`` (NaN: untested), ``diff[i, j]`` the
    metric of run i minus run j."""

    labels: list[str]
    p: np.ndarray
    test: str = ""
    operating_point: str = ""
    diff: np.ndarray | None = None
    ci: dict[tuple[int, int], tuple[float, float]] = field(default_factory=dict)

    def significant(self, i: int, j: int, alpha: float = ALPHA) -> bool:
        v = self.p[i, j]
        return bool(np.isfinite(v) and v < alpha)

    @classmethod
    def from_table(cls, table) -> Pairwise:
        """From a :class:`core.report.evidence.PairTable` (cells for i < j)."""
        n = len(table.labels)
        p = np.full((n, n), np.nan)
        diff = np.full((n, n), np.nan)
        ci = {}
        for (i, j), cell in table.cells.items():
            p[i, j] = p[j, i] = float(cell.get("p", math.nan))
            d = float(cell.get("diff", math.nan))
            diff[i, j], diff[j, i] = d, -d
            lo, hi = cell.get("ci", (math.nan, math.nan))
            ci[(i, j)], ci[(j, i)] = (lo, hi), (-hi, -lo)
        return cls(list(table.labels), p, table.test, table.point, diff, ci)


@dataclass
class Advice:
    """The recommendation as the board shows it."""

    depth: str | None
    best_depth: str | None
    sentence: str
    evidence: list[str] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    raw: Any = None  # the core Recommendation (for the report)


def pairwise(project, experiment_id: int, recommendation: Any = None
             ) -> tuple[list[Pairwise], list[str], Any]:
    """(tables, notes, budget) of an experiment, exactly as its report computes them."""
    try:
        collect = importlib.import_module("core.report.collect")
        evidence = importlib.import_module("core.report.evidence")
    except ImportError as exc:
        raise MissingPart("Pairwise tests come with the report module (core.report), which "
                          "is not in this installation.") from exc
    report = collect.collect(project, experiment_id)
    ev = evidence.gather(project, report, recommendation=recommendation)
    return [Pairwise.from_table(t) for t in ev.tables], list(ev.notes), ev.budget


# ---------------------------------------------------------------------- recommendation
def recommend(project, experiment_id: int, *, margin: float | None = None) -> Advice:
    """The depth to use, or an Advice whose sentence says why there is none."""
    ex = project.experiment(experiment_id)
    if ex.kind != "depth":
        return Advice(None, None, "The depth recommendation is made from a depth sweep.")
    try:
        rec = _core_recommend(project, experiment_id, margin)
    except MissingPart as exc:
        return Advice(None, None, str(exc))
    except ValueError as exc:  # too few evaluated depths, no common cases...
        return Advice(None, None, f"No recommendation: {exc}")
    return advice_from(rec)


def _core_recommend(project, experiment_id: int, margin: float | None):
    try:
        mod = importlib.import_module("core.stats.recommend")
    except ImportError as exc:
        raise MissingPart("The depth recommendation (core.stats.recommend) is not in this "
                          "installation.") from exc
    kw = {} if margin is None else {"margin": margin}
    try:  # the experiment module gathers what each task's test needs (as the CLI does)
        ex = importlib.import_module("core.experiments")
    except ImportError:
        ex = None
    gather = None if ex is None else (getattr(ex, "recommendation", None)
                                      or getattr(ex, "recommend_experiment", None))
    if gather is not None:
        return call_with(gather, project, experiment_id, alpha=ALPHA, **kw)
    from core.report.evidence import roc_test_scores

    runs = [project.run(r) for r in project.experiment(experiment_id).runs]
    runs = [r for r in runs if (r.metrics or {}).get("test")]
    if len(runs) < 2:
        raise ValueError("fewer than two depths were evaluated on the test set")
    test = runs[0].metrics["test"]
    if "auc" not in test:
        raise MissingPart("For this task the recommendation comes with the experiment "
                          "module's gatherer (core.experiments), not installed yet.")
    labels, scores = roc_test_scores(project, runs[0].task, runs)
    if labels.size == 0 or labels.min() == labels.max():
        raise ValueError("the depths share no test items of both classes")
    results = {r.depth: {"scores": scores[r.id], "labels": labels} for r in runs}
    return mod.recommend_depth(results, alpha=ALPHA, **kw)


def advice_from(rec: Any) -> Advice:
    """Sentences from a :class:`core.stats.recommend.Recommendation` (or its dict)."""
    d = rec.to_dict() if hasattr(rec, "to_dict") else dict(rec)
    depth, best = d.get("depth"), d.get("best_depth")
    margin = d.get("margin")
    metric = {"auc": "AUC", "cpm": "CPM"}.get(d.get("metric", ""), d.get("metric", ""))
    ev = d.get("evidence") or {}
    if isinstance(ev, (list, tuple)):
        ev = ev[0] if ev else {}
    lines = []
    if isinstance(ev, dict):
        if ev.get("text"):
            lines.append(str(ev["text"]))
        bits = [f"test: {ev['test']}" if ev.get("test") else "",
                f"operating point: {ev['operating_point']}" if ev.get("operating_point") else "",
                f"against: {ev['against']}" if ev.get("against") else "",
                f"p = {float(ev['p']):.3g}" if ev.get("p") is not None
                and math.isfinite(float(ev["p"])) else "",
                f"margin {float(ev['margin']):g}" if ev.get("margin") is not None else ""]
        lines.append("; ".join(b for b in bits if b))
    else:
        lines.append(str(ev))
    rule = d.get("rule", "noninferiority")
    m = "" if margin is None else f" by the margin {float(margin):g}"
    if depth is None:
        sentence = "No depth can be recommended from these runs."
    elif depth == best:
        sentence = (f"Use <b>{depth}</b>: the best {metric}, and no shallower depth was "
                    f"shown {'non-inferior' if rule == 'noninferiority' else 'as good'}{m}.")
    else:
        sentence = (f"Use <b>{depth}</b>: the shallowest depth not worse than the best "
                    f"({best}){m}; shallower means fewer layers tuned and faster training.")
    return Advice(depth, best, sentence, [ln for ln in lines if ln],
                  [dict(r) for r in d.get("rows") or []], rec)
