"""The experiment queue: the runs of a plan one after another, persisted and resumable.

:func:`start_experiment` checks the labels (enough for a split, every class kept at each
fraction) and stores the plan; :func:`run_experiment` trains its runs one after another
on the same split and seed, then evaluates each on the test studies. It is a generator
of events: :class:`QueueEvent` for the whole queue (run k of n: started, skipped,
finished, diverged, failed, evaluated) and, between a run's ``started`` and its end,
that run's own events (:func:`core.jobs.train_run`'s).

Persistence lives in the project database: the experiment row holds the plan and its
status; each run row carries ``experiment_id`` and, in its config, the plan key it was
trained for. Resuming (calling :func:`run_experiment` again, after a cancel, a restart
or a crash) skips every run already finished or diverged, detaches from the experiment
a run that was interrupted or cancelled (the row stays in the project, marked) and
trains it again, and evaluates the runs not yet evaluated. Cancelling is closing the
generator, between runs or within one (the run is marked cancelled).

A run whose loss diverges is stopped by the engine and marked (``metrics["diverged"]``);
the queue goes on. Between runs the model and optimizer are dropped and the GPU's cached
memory released; the weights, prepared data and frozen-layer features are shared by the
runs (:class:`core.experiments.cache.SharedCache`).
"""

from __future__ import annotations

import gc
import statistics
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass, field

from core.events import BatchEnd, Notice, Validated
from core.experiments.cache import SharedCache
from core.experiments.checks import check_files, check_labels
from core.experiments.plans import RunSpec, expand, make_plan

#: QueueEvent states
STATES = ("started", "skipped", "finished", "diverged", "failed", "cancelled", "evaluating",
          "evaluated", "not evaluated")


@dataclass(frozen=True)
class QueueEvent:
    """Where the queue is: run ``index`` (0-based) of ``total``, plan key ``key``."""

    experiment_id: int
    index: int
    total: int
    key: str
    state: str
    run_id: int | None = None
    message: str = ""

    def text(self) -> str:
        return (f"experiment {self.experiment_id}, run {self.index + 1} of {self.total} "
                f"({self.key}): {self.state}" + (f" - {self.message}" if self.message else ""))


@dataclass
class RunSummary:
    """One planned run's state and results (JSON-ready through :meth:`to_dict`)."""

    key: str
    label: str
    depth: str
    init: str
    fraction: float
    run_id: int | None = None
    status: str = "pending"  # pending | running | finished | diverged | failed | cancelled
    best_val_auc: float | None = None
    n_labels: int | None = None
    test: dict | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class ExperimentOutcome:
    experiment_id: int
    kind: str
    task: str
    status: str
    runs: list[RunSummary] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"experiment": self.experiment_id, "kind": self.kind, "task": self.task,
                "status": self.status, "runs": [r.to_dict() for r in self.runs]}


def start_experiment(project, kind: str, task: str, plan: dict | None = None, **options):
    """Check the project's labels against the plan and store it (status ``queued``).

    ``plan`` defaults to :func:`core.experiments.plans.make_plan` ``(kind, task,
    **options)``. Returns the :class:`core.store.runs.Experiment`.

    Raises
    ------
    ValueError
        Too few labels for a split, a fraction that leaves a class empty, a bad plan:
        nothing is stored.
    """
    plan = dict(plan) if plan is not None else make_plan(kind, task, **options)
    if plan["kind"] != kind:
        raise ValueError(f"the plan is a {plan['kind']} experiment, not {kind}")
    check_labels(project, plan)
    check_files(project, plan)
    plan["project"] = str(project.folder)
    return project.add_experiment(kind, plan["task"], plan)


def _is_diverged(run) -> bool:
    return bool(run.metrics.get("diverged"))


def _status(run) -> str:
    return "diverged" if _is_diverged(run) else run.status


def planned_runs(project, experiment_id: int) -> dict[str, object]:
    """``{plan key: run}``: the run attached to the experiment for each key (the newest
    when, unexpectedly, there are several)."""
    out = {}
    for rid in project.experiment(experiment_id).runs:
        run = project.run(rid)
        key = (run.config.get("experiment") or {}).get("key")
        if key is not None:
            out[key] = run
    return out


def summarise(project, experiment_id: int) -> ExperimentOutcome:
    """The experiment's plan and each planned run's state and results."""
    exp = project.experiment(experiment_id)
    runs = planned_runs(project, experiment_id)
    out = ExperimentOutcome(exp.id, exp.kind, exp.task, exp.status)
    for spec in expand(exp.plan):
        s = RunSummary(spec.key, spec.label, spec.depth, spec.init, spec.fraction)
        run = runs.get(spec.key)
        if run is not None:
            s.run_id, s.status, s.best_val_auc = run.id, _status(run), run.best_auc
            s.n_labels = (run.split or {}).get("n_train_items")
            s.test = run.metrics.get("test")
        out.runs.append(s)
    return out


def _detach_unfinished(project, experiment_id: int) -> list[Notice]:
    """Mark dead runs failed; take interrupted/cancelled ones off the experiment (they
    stay in the project) so that their keys are trained again."""
    from core.jobs import recover_interrupted_runs

    recover_interrupted_runs(project)
    notices = []
    for key, run in planned_runs(project, experiment_id).items():
        if run.status == "running":
            raise ValueError(
                f"experiment {experiment_id} is already running (run {run.id}, process "
                f"{run.config.get('pid')} on {run.config.get('host')}); wait for it or "
                "cancel it there")
        if run.status in ("cancelled", "failed") and not _is_diverged(run):
            project.update_run(run.id, experiment_id=None)
            how = " (interrupted)" if "interrupted" in run.metrics.get("error", "") else ""
            notices.append(Notice(f"run {run.id} ({key}) was {run.status}{how}; training it "
                                  "again"))
    return notices


def release_memory() -> None:
    """Free what the last run left: Python garbage, then the GPU's cached blocks.

    The full collection runs on the main thread only: in a GUI worker thread it may
    finalise Qt wrappers whose destructors wait for the GUI thread (a deadlock seen
    with PySide6); there the run's tensors are freed by reference counting anyway.
    """
    if threading.current_thread() is threading.main_thread():
        gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def train_spec(project, plan: dict, spec: RunSpec, experiment_id: int, index: int,
               shared: SharedCache | None) -> Generator[object, None, object]:
    """Train one planned run (events forwarded); its row gets the validation curve,
    images/s and wall time. Returns the run row."""
    from core.jobs import train_run

    curve, speeds, t0, run_id = [], [], time.perf_counter(), None
    gen = train_run(project, spec.config(plan), task=plan["task"],
                    task_options=plan.get("task_options") or None,
                    weights_path=plan.get("weights"), fraction=spec.fraction, shared=shared,
                    experiment={"id": experiment_id, "key": spec.key, "index": index})
    try:
        while True:
            try:
                ev = next(gen)
            except StopIteration as stop:
                run_id = stop.value.run_id
                break
            if isinstance(ev, Validated):
                curve.append({"epoch": ev.epoch, "iteration": ev.iteration,
                              "auc": ev.auc, "loss": ev.loss})
            elif isinstance(ev, BatchEnd):
                speeds.append(ev.images_per_s)
            elif run_id is None and hasattr(ev, "run_id") and hasattr(ev, "weights"):
                run_id = ev.run_id  # RunStarted
            yield ev
    finally:
        gen.close()
        if run_id is not None:
            run = project.run(run_id)
            extra = {"val_curve": curve, "train_time_s": time.perf_counter() - t0,
                     "images_per_s": statistics.median(speeds[2:] or speeds) if speeds
                     else None}
            project.finish_run(run.id, run.status, best_auc=run.best_auc,
                               best_snapshot=None if not run.best_snapshot else
                               project.folder / run.best_snapshot,
                               metrics={**run.metrics, **extra})
    return project.run(run_id)


def run_experiment(project, experiment_id: int, *, engine: str = "local",
                   address: str | None = None, evaluate: bool = True
                   ) -> Generator[object, None, ExperimentOutcome]:
    """Run (or resume) the experiment's queue, then evaluate its runs on the test studies.

    Parameters
    ----------
    engine : ``"local"`` (this process, one run after another) or ``"ray"`` (each run a
        Ray task: :mod:`core.experiments.ray_engine`)
    address : the Ray cluster's address (``"auto"``, ``"ray://host:10001"``); None starts
        Ray on this machine
    evaluate : evaluate each run's best model on the test studies at the end

    Returns
    -------
    ExperimentOutcome
    """
    if engine not in ("local", "ray"):
        raise ValueError(f"unknown engine {engine!r}; choose local or ray")
    exp = project.experiment(experiment_id)
    plan, specs = exp.plan, expand(exp.plan)
    for n in check_files(project, plan):
        yield n
    if engine == "ray":
        from core.experiments.ray_engine import run_on_ray

        return (yield from run_on_ray(project, experiment_id, address=address,
                                      evaluate=evaluate))
    for n in _detach_unfinished(project, experiment_id):
        yield n
    project.set_experiment_status(experiment_id, "running")
    shared = SharedCache({s.depth for s in specs},
                         arch=plan.get("train", {}).get("arch", "torchvision"))
    total = len(specs)
    try:
        for k, spec in enumerate(specs):
            done = planned_runs(project, experiment_id).get(spec.key)
            if done is not None and (done.status == "finished" or _is_diverged(done)):
                yield QueueEvent(experiment_id, k, total, spec.key, "skipped", done.id,
                                 f"already {_status(done)}")
                continue
            yield QueueEvent(experiment_id, k, total, spec.key, "started", None, spec.label)
            try:
                run = yield from train_spec(project, plan, spec, experiment_id, k, shared)
            except (ValueError, OSError, LookupError, ImportError):
                raise  # bad input: the same for every run; the queue stops with its message
            except Exception as exc:  # e.g. out of memory: marked, and the queue goes on
                yield Notice(f"run {spec.key} failed: {type(exc).__name__}: {exc}", "warning")
                failed = planned_runs(project, experiment_id).get(spec.key)
                yield QueueEvent(experiment_id, k, total, spec.key, "failed",
                                 None if failed is None else failed.id, str(exc))
                continue
            finally:
                release_memory()
            state = _status(run)
            state = state if state in STATES else "failed"
            msg = (f"best validation AUC {run.best_auc:.4f}" if run.best_auc is not None
                   else run.metrics.get("error", ""))
            yield QueueEvent(experiment_id, k, total, spec.key, state, run.id, msg)
        if evaluate:
            yield from evaluate_experiment(project, experiment_id, shared=shared)
        shared.clear()
        release_memory()
    except GeneratorExit:
        project.set_experiment_status(experiment_id, "cancelled")
        raise
    except BaseException:
        project.set_experiment_status(experiment_id, "failed")
        raise
    finally:
        shared.clear()
    project.set_experiment_status(experiment_id, "finished")
    return summarise(project, experiment_id)


def evaluate_experiment(project, experiment_id: int, *, shared: SharedCache | None = None
                        ) -> Generator[object, None, None]:
    """Evaluate on the test studies every planned run with a model and no test result
    (``shared``: the test patches and frozen-layer features made once for all)."""
    from core.jobs import evaluate_run
    from core.tasks.base import get_task

    plan = project.experiment(experiment_id).plan
    specs, runs = expand(plan), planned_runs(project, experiment_id)
    try:
        get_task(plan["task"], **plan.get("task_options", {})).labelled_items(project, "test")
        has_test = True
    except ValueError:
        has_test = False
    for k, spec in enumerate(specs):
        run = runs.get(spec.key)
        if run is None or "test" in run.metrics:
            continue
        if not has_test or not run.best_snapshot:
            why = "no labelled test studies" if not has_test else "the run saved no model"
            yield QueueEvent(experiment_id, k, len(specs), spec.key, "not evaluated", run.id,
                             why)
            continue
        yield QueueEvent(experiment_id, k, len(specs), spec.key, "evaluating", run.id)
        res = yield from evaluate_run(project, run.id, shared=shared)
        yield QueueEvent(experiment_id, k, len(specs), spec.key, "evaluated", run.id,
                         headline_text(res))
        release_memory()


def headline_text(result) -> str:
    """"test AUC 0.912 (95 % CI 0.871–0.948)", CPM or mean distance likewise."""
    from core.report.results import fmt_ci, headline

    try:
        metric, value, ci = headline(result)
    except (ValueError, TypeError, AttributeError):
        return ""
    ci_text = fmt_ci(ci)
    return f"test {metric} {value:.3f}" + ("" if ci_text == "–" else f" (95 % CI {ci_text})")
