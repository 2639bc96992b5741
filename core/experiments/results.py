"""An experiment's results in the shapes the statistics take (recommendation, budget).

ROC tasks: each evaluated run's stored test predictions (positive-class probability)
aligned by (study, item) with the test labels; FROC tasks (polyps, emboli): each run's
stored test scores of the candidates every run scored, with the lesions and images of
the test studies from the task (``froc_data``), compared at the task's operating point
(``operating_fps``); CIMT: per-ROI errors through the report's reader
(:mod:`core.report.providers`). :func:`recommendation` is the one entry point the CLI,
the board and the report share.
"""

from __future__ import annotations

import numpy as np

from core.experiments.plans import expand
from core.experiments.queue import planned_runs
from core.tasks.base import get_task

ALPHA = 0.05


def run_name(spec, kind: str) -> str:
    """A run's name in the comparison: its depth in a depth sweep, else its plan key."""
    return spec.depth if kind == "depth" else spec.key


def evaluated_runs(project, experiment_id: int) -> list[tuple[str, object]]:
    """``[(name, run)]`` of the experiment's runs evaluated on the test set, in plan
    order; an experiment recorded without a plan of runs names its runs by depth (the
    newest of each)."""
    exp = project.experiment(experiment_id)
    specs = expand(exp.plan) if (exp.plan or {}).get("runs") else []
    if specs:
        runs = planned_runs(project, experiment_id)
        got = [(run_name(spec, exp.kind), runs.get(spec.key)) for spec in specs]
    else:
        got = list({run.depth: run for run in map(project.run, sorted(exp.runs))}.items())
    return [(name, run) for name, run in got
            if run is not None and "test" in (run.metrics or {})]


def _task(project, experiment_id: int):
    exp = project.experiment(experiment_id)
    return get_task(exp.task, **(exp.plan or {}).get("task_options", {}))


def roc_inputs(project, experiment_id: int) -> dict[str, dict]:
    """``{name: {"scores", "labels", "ids"}}`` of the evaluated runs, on the test items
    every one of them scored (same cases for the paired tests)."""
    t = _task(project, experiment_id)
    items = t.labelled_items(project, "test")
    label = {(int(s), int(i)): int(y) for s, i, y in zip(items.study_ids, items.indices,
                                                         items.labels)}
    per: dict[str, dict] = {}
    for name, run in evaluated_runs(project, experiment_id):
        got = {}
        for pred in project.predictions(run.id, split="test"):
            pos = np.asarray(pred.probs, np.float64)[:, list(t.positive)].sum(axis=1)
            for i, p in zip(pred.items.tolist(), pos.tolist()):
                if (pred.study_id, i) in label:
                    got[(pred.study_id, i)] = p
        per[name] = got
    if not per:
        return {}
    common = sorted(set.intersection(*(set(g) for g in per.values())))
    labels = np.asarray([label[k] for k in common])
    labels = np.isin(labels, t.positive).astype(np.int64)
    ids = [f"{s}:{i}" for s, i in common]
    return {name: {"scores": np.asarray([g[k] for k in common]), "labels": labels, "ids": ids}
            for name, g in per.items()}


def froc_inputs(project, experiment_id: int) -> tuple[dict[str, dict], dict]:
    """``({name: FROC result}, options)`` for :func:`core.stats.recommend.recommend_depth`
    and :func:`core.stats.froc_compare.compare_froc_at`: the evaluated runs' stored test
    scores on the candidates every one of them scored, the test studies' lesions, images
    and subjects (the same for every run); options: ``fp_rate`` (the task's operating
    point)."""
    t = _task(project, experiment_id)
    per: dict[str, dict[int, float]] = {}
    studies: set[int] = set()
    for name, run in evaluated_runs(project, experiment_id):
        got: dict[int, float] = {}
        for pred in project.predictions(run.id, split="test"):
            studies.add(int(pred.study_id))
            got.update(zip(pred.items.tolist(), t.scores(pred.probs).tolist()))
        per[name] = got
    if not per:
        return {}, {}
    common = set.intersection(*(set(g) for g in per.values()))
    out = {}
    for name, got in per.items():
        d = t.froc_data(project, sorted(studies), {c: got[c] for c in common})
        out[name] = {**d, "per": "image", "fp_unit": getattr(t, "fp_unit", "image")}
    return out, {"fp_rate": tuple(getattr(t, "operating_fps", (1.0,)))}


def recommendation_inputs(project, experiment_id: int) -> tuple[dict[str, dict], dict]:
    """``(results, options)`` :func:`core.stats.recommend.recommend_depth` takes for this
    experiment: ROC scores and labels, FROC candidates, or CIMT per-ROI errors.

    Raises
    ------
    ValueError
        Fewer than two evaluated runs.
    """
    exp = project.experiment(experiment_id)
    t = get_task(exp.task)
    if getattr(t, "result_name", None) == "CIMT" or exp.task == "cimt":
        from core.report.collect import collect
        from core.report.providers import recommendation_inputs as from_report

        got = from_report(collect(project, experiment_id), None)
        if got is None:
            raise ValueError("fewer than two evaluated depths to compare")
        return got
    res, options = (froc_inputs(project, experiment_id) if t.item_kind == "candidate"
                    else (roc_inputs(project, experiment_id), {}))
    if len(res) < 2:
        raise ValueError(f"experiment {experiment_id} has {len(res)} evaluated runs; a "
                         "recommendation needs two or more (run or resume the experiment)")
    return res, options


def recommendation(project, experiment_id: int, *, margin: float | None = None,
                   alpha: float = ALPHA, **options):
    """The shallowest depth not worse than the best one
    (:func:`core.stats.recommend.recommend_depth`) from this experiment's evaluated runs,
    whatever its task; runs of other experiments than depth sweeps in plan order."""
    from core.stats.recommend import recommend_depth

    exp = project.experiment(experiment_id)
    results, found = recommendation_inputs(project, experiment_id)
    order = None if exp.kind == "depth" else list(results)  # plan order
    kw = {**found, **options}
    if margin is not None:
        kw["margin"] = margin
    return recommend_depth(results, order=order, alpha=alpha, **kw)


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
