"""An experiment's results in the shapes the statistics take (recommendation, budget).

ROC tasks: each evaluated run's stored test predictions (positive-class probability)
aligned by (study, item) with the test labels; CIMT: per-ROI errors through the
report's reader (:mod:`core.report.providers`). FROC tasks need the candidates with
their lesion assignment, which the run rows do not hold: not supported here yet.
"""

from __future__ import annotations

import numpy as np

from core.experiments.plans import expand
from core.experiments.queue import planned_runs
from core.tasks.base import get_task


def run_name(spec, kind: str) -> str:
    """A run's name in the comparison: its depth in a depth sweep, else its plan key."""
    return spec.depth if kind == "depth" else spec.key


def roc_inputs(project, experiment_id: int) -> dict[str, dict]:
    """``{name: {"scores", "labels", "ids"}}`` of the evaluated runs, on the test items
    every one of them scored (same cases for the paired tests)."""
    exp = project.experiment(experiment_id)
    plan = exp.plan
    t = get_task(plan["task"], **plan.get("task_options", {}))
    items = t.labelled_items(project, "test")
    label = {(int(s), int(i)): int(y) for s, i, y in zip(items.study_ids, items.indices,
                                                         items.labels)}
    runs = planned_runs(project, experiment_id)
    per: dict[str, dict] = {}
    for spec in expand(plan):
        run = runs.get(spec.key)
        if run is None or "test" not in run.metrics:
            continue
        got = {}
        for pred in project.predictions(run.id, split="test"):
            pos = np.asarray(pred.probs, np.float64)[:, list(t.positive)].sum(axis=1)
            for i, p in zip(pred.items.tolist(), pos.tolist()):
                if (pred.study_id, i) in label:
                    got[(pred.study_id, i)] = p
        per[run_name(spec, exp.kind)] = got
    if not per:
        return {}
    common = sorted(set.intersection(*(set(g) for g in per.values())))
    labels = np.asarray([label[k] for k in common])
    labels = np.isin(labels, t.positive).astype(np.int64)
    ids = [f"{s}:{i}" for s, i in common]
    return {name: {"scores": np.asarray([g[k] for k in common]), "labels": labels, "ids": ids}
            for name, g in per.items()}


def recommendation_inputs(project, experiment_id: int) -> dict[str, dict]:
    """What :func:`core.stats.recommend.recommend_depth` takes for this experiment.

    Raises
    ------
    ValueError
        Fewer than two evaluated runs, or a task whose results are not supported.
    """
    exp = project.experiment(experiment_id)
    t = get_task(exp.task)
    if getattr(t, "result_name", None) == "CIMT" or exp.task == "cimt":
        from core.report.collect import collect
        from core.report.providers import recommendation_inputs as from_report

        got = from_report(collect(project, experiment_id), None)
        if got is None:
            raise ValueError("fewer than two evaluated depths to compare")
        return got[0]
    if t.item_kind == "candidate":
        raise ValueError(f"recommend does not yet compare FROC results ({exp.task}); the "
                         "report shows each run's FROC with its CIs")
    res = roc_inputs(project, experiment_id)
    if len(res) < 2:
        raise ValueError(f"experiment {experiment_id} has {len(res)} evaluated runs; a "
                         "recommendation needs two or more (run or resume the experiment)")
    return res


def budget_points(project, experiment_id: int) -> dict[str, dict]:
    """``{depth: {"n_labels": [...], "auc": [...], "ci": [[lo, hi], ...]}}`` of a
    label-budget or reduced-data experiment's evaluated runs (fewest labels first)."""
    exp = project.experiment(experiment_id)
    runs = planned_runs(project, experiment_id)
    out: dict[str, dict] = {}
    for spec in expand(exp.plan):
        run = runs.get(spec.key)
        test = None if run is None else run.metrics.get("test")
        if not test or test.get("auc") is None:
            continue
        name = spec.depth if spec.depth != "scratch" else f"scratch ({spec.init})"
        d = out.setdefault(name, {"n_labels": [], "auc": [], "ci": []})
        d["n_labels"].append(int((run.split or {}).get("n_train_items", 0)))
        d["auc"].append(float(test["auc"]))
        d["ci"].append(list(test.get("auc_ci") or [np.nan, np.nan]))
    for d in out.values():
        order = np.argsort(d["n_labels"], kind="stable")
        for k in d:
            d[k] = [d[k][i] for i in order]
    return out
