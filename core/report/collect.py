"""What the report says about an experiment, gathered from the project database.

Everything comes from stored records: the experiment row (kind, task, plan), its runs
(settings, split, seed, device, library versions, ``metrics["history"]``,
``metrics["layer_change"]``, the test result under ``metrics["test"]``) and the studies
and subjects of the task. Nothing is trained or evaluated here.
"""

from __future__ import annotations

import math
import platform
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from typing import Any

from core.report.results import FP_UNITS, as_result, headline, result_kind


@dataclass
class RunSummary:
    """One run of the experiment as the report shows it."""

    run: Any  # core.store.runs.Run
    label: str
    result: Any = None  # RocResult | FrocResult | CimtResult | None (not evaluated)
    kind: str | None = None
    metric: str = ""
    value: float = math.nan
    ci: tuple[float, float] = (math.nan, math.nan)
    points: list[tuple[str, float, tuple[float, float]]] = field(default_factory=list)
    train_s: float = math.nan
    images_per_s: float = math.nan
    n_items: int | None = None

    @property
    def depth(self) -> str:
        return self.run.depth


@dataclass
class ReportData:
    """The content of one report (see :func:`collect`)."""

    project: str
    experiment: Any  # core.store.runs.Experiment
    runs: list[RunSummary]
    data: dict[str, Any]
    settings: dict[str, Any]
    versions: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def kinds(self) -> set[str]:
        return {r.kind for r in self.runs if r.kind}


def run_label(run) -> str:
    """Short name of a run: its depth, then the init (scratch) and data fraction."""
    cfg = run.config or {}
    parts = [run.depth]
    init = cfg.get("init")
    if run.depth == "scratch" and init and init != "caffe":
        parts.append(init)
    frac = cfg.get("fraction")
    if isinstance(frac, (int, float)) and frac < 1:
        parts.append(f"{100 * frac:g} %")
    return " ".join(parts) + f" (#{run.id})"


def _seconds(run) -> float:
    if isinstance((run.metrics or {}).get("train_time_s"), (int, float)):
        return float(run.metrics["train_time_s"])  # the queue's wall time of the run
    hist = (run.metrics or {}).get("history") or []
    if hist and isinstance(hist[-1], dict) and hist[-1].get("elapsed_s") is not None:
        return float(hist[-1]["elapsed_s"])
    for key in ("train_s", "wall_s"):
        if isinstance((run.metrics or {}).get(key), (int, float)):
            return float(run.metrics[key])
    try:
        return (datetime.fromisoformat(run.finished) -
                datetime.fromisoformat(run.started)).total_seconds()
    except (TypeError, ValueError):
        return math.nan


def _images_per_s(run, seconds: float) -> float:
    m = run.metrics or {}
    for key in ("images_per_s", "train_images_per_s"):
        if isinstance(m.get(key), (int, float)):
            return float(m[key])
    hist = m.get("history") or []
    batch = (run.config or {}).get("batch_size")
    if hist and batch and seconds > 0 and isinstance(hist[-1], dict):
        return float(hist[-1].get("iteration", 0)) * float(batch) / seconds
    return math.nan


def _points(result, fp_unit: str = "image") -> list[tuple[str, float, tuple[float, float]]]:
    kind = result_kind(result)
    if kind == "roc":
        return [(f"TPR @ {100 * p.fpr:g} % FPR", p.tpr, p.tpr_ci)
                for p in result.operating_points]
    if kind == "froc":
        per = "group" if result.per == "group" else fp_unit
        return [(f"sens @ {p.fp_rate:g} FP/{per}", p.sensitivity, p.ci) for p in result.points]
    out = []
    for name, box in (("LI", result.li), ("MA", result.ma)):
        if box is not None:
            out.append((f"{name} median (IQR), {result.unit}", box.median, (box.q1, box.q3)))
    if result.roc is not None:
        out.append(("pixel AUC", result.roc.auc, tuple(result.roc.auc_ci)))
    return out


def summarise_run(run) -> tuple[RunSummary, str | None]:
    """(summary, a note when its stored result could not be read)."""
    s = RunSummary(run, run_label(run), n_items=(run.config or {}).get("n_items"))
    s.train_s = _seconds(run)
    s.images_per_s = _images_per_s(run, s.train_s)
    test = (run.metrics or {}).get("test")
    if test is None:
        return s, None
    try:
        s.result = as_result(test)
    except (ValueError, KeyError, TypeError) as exc:
        return s, f"run {run.id}: its stored test result could not be read ({exc})"
    s.kind = result_kind(s.result)
    s.metric, s.value, s.ci = headline(s.result)
    from core.tasks.base import canonical_name  # (core.tasks pulls in torch: on use only)

    s.points = _points(s.result, FP_UNITS.get(canonical_name(run.task), "image"))
    return s, None


def _data(project, task: str, runs: list) -> dict[str, Any]:
    from core.tasks.base import canonical_name

    studies = [st for st in project.studies() if canonical_name(st.task) == task]
    out: dict[str, Any] = {"task": task, "splits": {}}
    for split in ("train", "test"):
        ss = [st for st in studies if st.split == split]
        out["splits"][split] = {"studies": len(ss), "subjects": len({st.subject_id for st in ss}),
                                "frames": sum(max(st.n_frames, 0) for st in ss),
                                "kinds": sorted({st.kind for st in ss})}
    try:  # labelled items per class on each side (the queue's own count)
        from core.experiments.checks import experiment_data

        out["labelled"] = experiment_data(project, {"task": task, "task_options": next(
            (r.task_options for r in runs if r.task_options), {})})
    except Exception:  # noqa: BLE001  (older LayerTune, or a task that cannot list them)
        pass
    first = next((r for r in runs if r.split), None)
    if first is not None:
        sp = first.split
        out["split_unit"] = sp.get("unit")
        out["n_train"] = len(sp.get("train") or [])
        out["n_val"] = len(sp.get("val") or [])
        out["test_studies"] = [project.study(i).name for i in sp.get("test") or []
                               if _has_study(project, i)]
        out["same_split"] = all(
            (r.split or {}).get("val") == sp.get("val") and
            (r.split or {}).get("test") == sp.get("test") for r in runs if r.split)
    return out


def _has_study(project, study_id: int) -> bool:
    try:
        project.study(study_id)
    except Exception:  # noqa: BLE001  (a study deleted since: leave it out)
        return False
    return True


def _settings(experiment, runs: list) -> dict[str, Any]:
    keys = ("epochs", "batch_size", "patience", "base_lr", "fc8_lr", "momentum", "gamma",
            "val_fraction", "arch", "precision")
    common = {}
    for k in keys:
        vals = {repr((r.config or {}).get(k)) for r in runs}
        if len(vals) == 1 and runs:
            common[k] = (runs[0].config or {}).get(k)
    return {"plan": experiment.plan, "schedule": common,
            "seeds": sorted({r.seed for r in runs if r.seed is not None}),
            "devices": sorted({str((r.metrics or {}).get("device") or r.device)
                               for r in runs if (r.metrics or {}).get("device") or r.device}),
            "weights": sorted({r.weights_source for r in runs if r.weights_source}),
            "weights_sha256": sorted({r.weights_sha256 for r in runs if r.weights_sha256}),
            "task_options": next((r.task_options for r in runs if r.task_options), {})}


def _versions(runs: list) -> dict[str, Any]:
    recorded: dict[str, set] = {}
    for r in runs:
        for k, v in (r.versions or {}).items():
            recorded.setdefault(k, set()).add(str(v))
    here = {"python": platform.python_version(), "os": platform.platform(),
            "machine": platform.machine()}
    for name in ("numpy", "scipy", "torch", "torchvision", "matplotlib"):
        try:
            here[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            here[name] = "not installed"
    from core import __version__

    here["layertune"] = __version__
    return {"runs": {k: sorted(v) for k, v in sorted(recorded.items())}, "report": here}


def collect(project, experiment_id: int) -> ReportData:
    """Everything the report of ``experiment_id`` shows, read from ``project``.

    Raises
    ------
    core.store.db.ProjectError
        No such experiment.
    """
    exp = project.experiment(experiment_id)
    runs = [project.run(i) for i in exp.runs]
    notes: list[str] = []
    summaries = []
    for run in runs:
        s, note = summarise_run(run)
        summaries.append(s)
        if note:
            notes.append(note)
    if not runs:
        notes.append("This experiment has no runs yet.")
    missing = [s.run.id for s in summaries if s.result is None and s.run.status == "finished"]
    if missing:
        notes.append("Not evaluated on the test studies yet: run " +
                     ", ".join(map(str, missing)) + ".")
    return ReportData(str(project.folder), exp, summaries, _data(project, exp.task, runs),
                      _settings(exp, runs), _versions(runs), notes)
