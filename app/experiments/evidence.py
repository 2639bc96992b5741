"""Pairwise significance and the depth recommendation of an experiment, for the board.

Nothing is computed here: the pairwise tables are the report's
(:func:`core.report.evidence.gather`: DeLong's paired test for ROC tasks, DeLong et al.
1988; Wilcoxon signed-rank on paired ROIs for CIMT, Wilcoxon 1945), so the board and the
HTML report always show the same numbers; the recommendation is
:func:`core.stats.recommend.recommend_depth` (the shallowest depth non-inferior to the
best by a margin; Walker & Nowacki 2011) on the runs' test cases, gathered for every
task by :func:`core.experiments.results.recommendation` (as the CLI and the report do).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.events import Progress

from .api import MissingPart

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


# ---------------------------------------------------------------------- in the background
def statistics(project, experiment_id: int, margin: float | None, *,
               tables: bool = True) -> Generator[object, None, tuple]:
    """The board's statistics as a job (DeLong, subject bootstraps and the learning-curve
    fit take seconds on large test sets; they run off the GUI thread).

    Returns ``(advice, tables, notes, budget)``; with ``tables=False`` only the
    recommendation is computed (``None`` for the rest), e.g. when the margin changes.
    """
    yield Progress("statistics", 0, 2, "depth recommendation")
    advice = recommend(project, experiment_id, margin=margin)
    if not tables:
        yield Progress("statistics", 2, 2, "depth recommendation")
        return advice, None, None, None
    yield Progress("statistics", 1, 2, "pairwise tests and the label-budget curve")
    try:
        got, notes, budget = pairwise(project, experiment_id, advice.raw)
    except MissingPart as exc:
        got, notes, budget = [], [str(exc)], None
    yield Progress("statistics", 2, 2, "pairwise tests and the label-budget curve")
    return advice, got, notes, budget


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
    from core.experiments.results import recommendation

    return recommendation(project, experiment_id, margin=margin, alpha=ALPHA)


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
