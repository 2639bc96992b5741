"""The experiment queue on Ray (optional extra ``ray``: ``pip install layertune[ray]``).

Each planned run becomes a Ray task asking for one GPU (none where the cluster has no
GPU: then one CPU worker), retried up to ``max_retries`` times when its worker is lost
(``max_retries`` is Ray's own retry of a task whose process died; the retry finds the
lost attempt's run row still "running", marks it failed and detaches it, and trains the
key again). Runs go to the cluster ``max_parallel`` at a time (default: one per GPU;
one on a cluster without GPUs), then each run is evaluated as a task too. The workers
open the project by its path and write their run into its database, so on a
multi-machine cluster the project folder must be on a file system every node mounts at
the same path, and layertune installed on every node.

Without an address Ray starts on this machine (Ray's ``local_mode`` is gone since Ray
2.x; a one-machine cluster is what "local" means here). An address that does not answer
is refused with a clear message before anything is started or stored.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Generator
from pathlib import Path
from urllib.parse import urlparse

from core.events import Notice
from core.experiments.plans import expand
from core.experiments.queue import (
    QueueEvent,
    _detach_unfinished,
    _is_diverged,
    _status,
    planned_runs,
    summarise,
)

MAX_RETRIES = 2
_WORKER: dict = {"key": None, "cache": None}  # one experiment's shared cache per worker


class RayUnavailableError(RuntimeError):
    """Ray is not installed, or the cluster named does not answer."""


def _ray():
    try:
        import ray
    except ImportError:
        raise RayUnavailableError(
            "the Ray engine needs Ray, an optional extra: pip install 'layertune[ray]' "
            "(or run the experiment with --engine local)") from None
    return ray


def check_address(address: str | None, timeout: float = 5.0) -> None:
    """Refuse a ``host:port`` / ``ray://host:port`` address nothing listens on."""
    if address in (None, "", "auto", "local"):
        return
    url = urlparse(address if "://" in address else f"tcp://{address}")
    host, port = url.hostname, url.port or (10001 if url.scheme == "ray" else 6379)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise RayUnavailableError(
            f"the Ray cluster at {address} does not answer ({exc}); nothing was started. "
            "Check the address (ray status on the head node prints it), or run with "
            "--engine local") from None


def connect(address: str | None = None, *, num_cpus: int | None = None):
    """Connect to the cluster at ``address`` (None: start Ray on this machine)."""
    check_address(address)
    ray = _ray()
    if ray.is_initialized():
        return ray
    root = str(Path(__file__).resolve().parents[2])
    kw = {"ignore_reinit_error": True, "log_to_driver": False}
    if address in (None, "", "local"):
        kw.update(num_cpus=num_cpus, include_dashboard=False,
                  runtime_env={"env_vars": {"PYTHONPATH": root}})
    else:
        kw["address"] = address
    try:
        ray.init(**kw)
    except (ConnectionError, RuntimeError, TimeoutError) as exc:
        raise RayUnavailableError(f"could not connect to the Ray cluster at {address}: {exc}; "
                                  "nothing was started") from None
    return ray


def _ray_train(folder: str, experiment_id: int, key: str, index: int) -> dict:
    """One planned run on a Ray worker (shares the worker's cache with earlier ones)."""
    if str(Path(__file__).resolve().parents[2]) not in sys.path:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from core.events import drain
    from core.experiments.cache import SharedCache
    from core.experiments.queue import release_memory, train_spec
    from core.jobs import recover_interrupted_runs
    from core.store import Project

    with Project.open(folder) as project:
        recover_interrupted_runs(project)
        old = planned_runs(project, experiment_id).get(key)
        if old is not None and old.status == "running":  # this task's lost attempt
            project.finish_run(old.id, "failed", best_auc=old.best_auc, metrics={
                **old.metrics, "error": "interrupted: the Ray worker was lost; retried"})
            project.update_run(old.id, experiment_id=None)
        elif old is not None and old.status in ("failed", "cancelled") and not _is_diverged(old):
            project.update_run(old.id, experiment_id=None)
        plan = project.experiment(experiment_id).plan
        spec = next(s for s in expand(plan) if s.key == key)
        if _WORKER["key"] != (folder, experiment_id):
            _WORKER.update(key=(folder, experiment_id), cache=SharedCache(
                {s.depth for s in expand(plan)}, arch=plan.get("train", {}).get("arch",
                                                                                 "torchvision")))
        run = drain(train_spec(project, plan, spec, experiment_id, index, _WORKER["cache"]))
        release_memory()
        return {"run_id": run.id, "status": _status(run), "best_auc": run.best_auc,
                "error": run.metrics.get("error")}


def _ray_evaluate(folder: str, run_id: int) -> str:
    from core.events import drain
    from core.jobs import evaluate_run
    from core.store import Project

    with Project.open(folder) as project:
        res = drain(evaluate_run(project, run_id))
    return type(res).__name__


def run_on_ray(project, experiment_id: int, *, address: str | None = None,
               evaluate: bool = True, max_parallel: int | None = None,
               num_cpus: int | None = None) -> Generator[object, None, object]:
    """:func:`core.experiments.queue.run_experiment` with each run a Ray task."""
    ray = connect(address, num_cpus=num_cpus)  # raises before anything is stored
    yield from _detach_unfinished(project, experiment_id)
    folder = str(Path(project.folder).resolve())
    gpus = int(ray.cluster_resources().get("GPU", 0))
    if not gpus:
        yield Notice("the Ray cluster has no GPU: each run takes one CPU worker", "warning")
    parallel = max_parallel or max(1, gpus)
    train_task = ray.remote(num_gpus=1 if gpus else 0, max_retries=MAX_RETRIES)(_ray_train)
    eval_task = ray.remote(num_gpus=1 if gpus else 0, max_retries=MAX_RETRIES)(_ray_evaluate)
    specs = expand(project.experiment(experiment_id).plan)
    total = len(specs)
    project.set_experiment_status(experiment_id, "running")
    todo, running = [], {}
    try:
        for k, spec in enumerate(specs):
            done = planned_runs(project, experiment_id).get(spec.key)
            if done is not None and (done.status == "finished" or _is_diverged(done)):
                yield QueueEvent(experiment_id, k, total, spec.key, "skipped", done.id,
                                 f"already {_status(done)}")
            else:
                todo.append((k, spec))
        while todo or running:
            while todo and len(running) < parallel:
                k, spec = todo.pop(0)
                ref = train_task.remote(folder, experiment_id, spec.key, k)
                running[ref] = (k, spec)
                yield QueueEvent(experiment_id, k, total, spec.key, "started", None,
                                 f"{spec.label} (Ray task)")
            ready, _ = ray.wait(list(running), num_returns=1)
            k, spec = running.pop(ready[0])
            try:
                res = ray.get(ready[0])
            except Exception as exc:  # the task failed after its retries
                yield QueueEvent(experiment_id, k, total, spec.key, "failed", None, str(exc))
                continue
            yield QueueEvent(experiment_id, k, total, spec.key, res["status"], res["run_id"],
                             res.get("error") or "")
        if evaluate:
            for k, spec in enumerate(specs):
                run = planned_runs(project, experiment_id).get(spec.key)
                if run is None or "test" in run.metrics or not run.best_snapshot:
                    continue
                yield QueueEvent(experiment_id, k, total, spec.key, "evaluating", run.id)
                try:
                    what = ray.get(eval_task.remote(folder, run.id))
                except Exception as exc:
                    yield QueueEvent(experiment_id, k, total, spec.key, "not evaluated",
                                     run.id, str(exc))
                    continue
                yield QueueEvent(experiment_id, k, total, spec.key, "evaluated", run.id, what)
    except GeneratorExit:
        for ref in running:
            ray.cancel(ref, force=True)
        project.set_experiment_status(experiment_id, "cancelled")
        raise
    except BaseException:
        project.set_experiment_status(experiment_id, "failed")
        raise
    project.set_experiment_status(experiment_id, "finished")
    return summarise(project, experiment_id)
