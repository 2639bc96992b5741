"""The board's door into ``core``: experiments, statistics and the report, imported lazily.

The queue (:mod:`core.experiments`), the comparisons and the recommendation
(:mod:`core.stats.compare`, :mod:`core.stats.recommend`) and the report
(:mod:`core.report`) are optional to the rest of the app: each is imported when first
used, and a missing piece becomes a :class:`MissingPart` error that the board shows as a
plain sentence instead of a traceback. The board itself computes nothing: every number
it draws comes from these functions or from the runs stored in the project.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

#: The four experiments of SPEC §1.8 / issue 10: kind -> (button text, what it runs).
KINDS: dict[str, tuple[str, str]] = {
    "depth": ("Depth sweep",
              "The eight fine-tuning depths (fc8 … conv1) and scratch, one after another "
              "on the same split and seed"),
    "data": ("Reduced data",
             "Scratch and the deepest fine-tuning on 100/50/25 % of the training data "
             "(frame quality: 10/5/1 % too), validation and test sets held fixed"),
    "convergence": ("Convergence",
                    "Validation AUC against iterations: deep fine-tuning against scratch "
                    "with Gaussian, Xavier and MSRA initialisation"),
    "budget": ("Label budget",
               "The chosen depth at 10/25/50/100 % of the current labels; a learning curve "
               "extrapolated to the target you type"),
}


class MissingPart(RuntimeError):
    """A core piece the board needs is not installed (or not written yet)."""


def _module(name: str, what: str):
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if exc.name and not name.startswith(exc.name) and exc.name not in name:
            raise  # a real import error inside the module: show it
        raise MissingPart(f"{what} is not available in this installation ({name}).") from exc


def experiments_module():
    """:mod:`core.experiments` (plans, queue, leakage check)."""
    return _module("core.experiments", "The experiment queue")


def call_with(fn: Callable, *args: Any, **options: Any) -> Any:
    """Call ``fn`` with the keyword ``options`` it accepts (the rest are dropped), so the
    board's one-click defaults survive small changes of a core signature."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return fn(*args, **options)
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return fn(*args, **options)
    return fn(*args, **{k: v for k, v in options.items() if k in params})


# ---------------------------------------------------------------------- queue
def start(project, kind: str, task: str, **options: Any):
    """Plan an experiment and record it in the project; the stored Experiment."""
    if kind not in KINDS:
        raise ValueError(f"unknown experiment {kind!r}; choose one of {', '.join(KINDS)}")
    ex = experiments_module()
    plan = call_with(ex.make_plan, kind, task, **options)
    return ex.start_experiment(project, kind, task, plan)


def runner(project, experiment_id: int, **options: Any) -> Callable[[], Generator]:
    """A factory of the generator that runs (or resumes) the experiment's queue."""
    ex = experiments_module()
    return lambda: call_with(ex.run_experiment, project, experiment_id, **options)


def expected_runs(experiment) -> int:
    """How many runs the experiment's plan holds (0 when the plan cannot be expanded)."""
    try:
        return len(experiments_module().expand(experiment.plan))
    except Exception:  # noqa: BLE001 - a count for a progress bar, not worth failing over
        return len(experiment.plan.get("runs", ())) if isinstance(experiment.plan, dict) else 0


def leakage_warnings(project, task: str) -> list[str]:
    """The leakage check's warnings as sentences (empty: nothing found or no checker)."""
    try:
        ex = experiments_module()
    except MissingPart:
        return []
    check = getattr(ex, "leakage_check", None)
    if check is None:
        return []
    out = []
    for w in check(project, task):
        out.append(str(getattr(w, "message", None) or w))
    return out


# ---------------------------------------------------------------------- results
@dataclass
class RunResult:
    """One run of an experiment as the board shows it (plain values only)."""

    run_id: int
    label: str  # "fc6", "scratch · msra", "fc8 · 25 %"
    depth: str
    status: str
    result: Any = None  # the task's test result (RocResult, FrocResult, CimtResult)
    metric_name: str = "AUC"
    metric: float = math.nan
    metric_ci: tuple[float, float] = (math.nan, math.nan)
    points: list[tuple[float, float, float, float]] = field(default_factory=list)
    seconds: float | None = None
    images_per_s: float | None = None
    device: str = ""
    history: list[dict] = field(default_factory=list)
    layer_change: list[dict] = field(default_factory=list)
    fraction: float | None = None
    n_labels: int | None = None


def run_label(run) -> str:
    """A short name for a run on the board: its depth, init when not the default, and
    its data fraction when reduced."""
    cfg = run.config or {}
    parts = [run.depth]
    init = cfg.get("init")
    if init and init not in ("caffe",):
        parts.append(init)
    frac = (run.split or {}).get("fraction") if isinstance(run.split, dict) else None
    frac = frac if frac is not None else cfg.get("fraction")
    if frac is not None and float(frac) < 1:
        parts.append(f"{float(frac) * 100:g} %")
    return " · ".join(parts)


def run_result(run) -> RunResult:
    """Read a stored run (its metrics, test result, timing) for the board."""
    from app.session import duration_s, test_result

    m = run.metrics or {}
    res = test_result(run)
    rr = RunResult(run.id, run_label(run), run.depth, run.status, res,
                   seconds=duration_s(run), device=" ".join(
                       x for x in (run.device, run.precision) if x),
                   history=list(m.get("history") or []),
                   layer_change=list(m.get("layer_change") or []))
    if m.get("train_time_s") is not None:
        rr.seconds = float(m["train_time_s"])
    ips = m.get("images_per_s")
    if ips is None and rr.history:
        ips = rr.history[-1].get("images_per_s")
    rr.images_per_s = None if ips is None else float(ips)
    split = run.split if isinstance(run.split, dict) else {}
    frac = split.get("fraction", (run.config or {}).get("fraction"))
    rr.fraction = None if frac is None else float(frac)
    n = split.get("n_train_items") or split.get("n_labels")
    rr.n_labels = None if n is None else int(n)
    if res is None:
        return rr
    if hasattr(res, "cpm"):
        rr.metric_name, rr.metric = "CPM", float(res.cpm)
        rr.metric_ci = tuple(res.cpm_ci)
        rr.points = [(p.fp_rate, p.sensitivity, *p.ci) for p in res.points]
    elif hasattr(res, "auc") and hasattr(res, "fpr"):
        rr.metric_name, rr.metric = "AUC", float(res.auc)
        rr.metric_ci = tuple(res.auc_ci)
        rr.points = [(op.fpr, op.tpr, *op.tpr_ci) for op in res.operating_points]
    else:  # CIMT: mean distance (smaller is better)
        d = res.to_dict() if hasattr(res, "to_dict") else {}
        mean = d.get("mean_distance_mm", d.get("mean_distance"))
        if mean is not None:
            rr.metric_name, rr.metric = "mean distance", float(mean)
            ci = d.get("mean_distance_ci") or (math.nan, math.nan)
            rr.metric_ci = (float(ci[0]), float(ci[1]))
    return rr


def experiment_runs(project, experiment_id: int) -> list[RunResult]:
    """The experiment's runs, in queue order, as :class:`RunResult`; named by the plan's
    labels ("conv1 at 25 %", "scratch (msra)") where the queue module is present."""
    ex = project.experiment(experiment_id)
    out = [run_result(project.run(r)) for r in ex.runs]
    try:
        planned = experiments_module().summarise(project, experiment_id).runs
    except Exception:  # noqa: BLE001 - the plan's names are a nicety; ids stay
        return out
    order = {s.run_id: i for i, s in enumerate(planned) if s.run_id is not None}
    for s in planned:
        for r in out:
            if r.run_id == s.run_id:
                r.label = s.label or r.label
                r.fraction = s.fraction
                r.n_labels = s.n_labels if s.n_labels is not None else r.n_labels
    out.sort(key=lambda r: order.get(r.run_id, len(order) + r.run_id))
    return [r for r in out if r.run_id in order] or out
