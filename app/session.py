"""Remember the session: the training panel's choices (QSettings, per task) and the last
run's curves and result (from the run's record in the project).

Preferences are the user's, across projects; curves and results belong to the project
and come back from the run's stored per-epoch history and test metrics.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QSettings

_KEYS = ("depth", "epochs", "patience", "crops", "device")


def save_preferences(panel, task: str) -> None:
    """Store the panel's choices under ``session/<task>/``."""
    s = QSettings()
    for key, value in panel.preferences().items():
        s.setValue(f"session/{task}/{key}", value)


def restore_preferences(panel, task: str) -> dict:
    """Apply the stored choices to the panel; what was found (may be empty)."""
    s = QSettings()
    prefs = {k: s.value(f"session/{task}/{k}") for k in _KEYS}
    prefs = {k: v for k, v in prefs.items() if v is not None}
    if prefs:
        panel.apply_preferences(prefs)
    return prefs


def runs_of(project, owns) -> list:
    """The project's runs of a workspace's task (``owns(task) -> bool``), oldest first."""
    return [r for r in project.runs() if owns(r.task)]


def test_result(run):
    """The run's stored test result (a ROC, FROC or CIMT result) or None."""
    d = (run.metrics or {}).get("test")
    if not isinstance(d, dict):
        return None
    from core.stats import RocResult
    from core.stats.froc import FrocResult

    if d.get("kind") == "cimt":
        from core.tasks.cimt.results import CimtResult

        kind = CimtResult
    elif "cpm" in d and "points" in d:
        kind = FrocResult
    elif "auc" in d and "fpr" in d:
        kind = RocResult
    else:
        return None
    try:
        return kind.from_dict(d)
    except (KeyError, TypeError, ValueError):
        return None


def _stopped_text(run) -> str:
    stopped = (run.metrics or {}).get("stopped")
    return {"patience": "stopped early (no improvement)", "epochs": "all epochs run",
            "max_iterations": "iteration limit reached"}.get(stopped, run.status)


def duration_s(run) -> float | None:
    try:
        a = datetime.fromisoformat(run.started)
        b = datetime.fromisoformat(run.finished)
    except (TypeError, ValueError):
        return None
    return max((b - a).total_seconds(), 0.0)


def fmt_duration(s: float | None) -> str:
    if s is None:
        return "–"
    s = int(round(s))
    return f"{s // 60}:{s % 60:02d}" if s < 3600 else f"{s // 3600} h {s // 60 % 60:02d} min"


def run_row(run) -> dict:
    """One run of the history table: plain strings (and the run id)."""
    cfg, opts = run.config or {}, run.task_options or {}
    history = (run.metrics or {}).get("history") or []
    res = test_result(run)
    test = "–"
    if res is not None and res.auc == res.auc:  # not NaN
        test = f"{res.auc:.3f} ({res.auc_ci[0]:.3f}–{res.auc_ci[1]:.3f})"
    weights = run.weights_source or cfg.get("weights") or ""
    init = "scratch" if run.depth == "scratch" else (
        "custom weights" if "custom" in weights.lower() else "ImageNet")
    return {
        "id": run.id,
        "run": str(run.id),
        "started": (run.started or "")[:16].replace("T", " "),
        "depth": run.depth,
        "init": init,
        "epochs": f"{len(history)} / {cfg.get('epochs', '?')}",
        "crops": str(opts.get("crops_per_frame", "–")),
        "status": run.status if run.status != "finished" else _stopped_text(run),
        "val_auc": "–" if run.best_auc is None else f"{run.best_auc:.3f}",
        "test_auc": test,
        "time": fmt_duration(duration_s(run)),
        "device": " ".join(x for x in (run.device, run.precision) if x) or "–",
    }


def finish_text(run_id: int, result) -> str:
    """The panel's line when a run ends: best validation AUC, its epoch (from 1), why it
    stopped, in words."""
    why = {"patience": "stopped early: the validation AUC stopped improving",
           "epochs": f"all {result.epochs_run} epochs run",
           "max_iterations": "iteration limit reached"}.get(result.stopped, result.stopped)
    return (f"finished run {run_id}: best validation AUC {result.best_auc:.3f} at epoch "
            f"{result.best_epoch + 1} of {result.epochs_run} ({why})")


def show_run(workspace, run) -> bool:
    """Draw a finished run's curves (and its test result, when evaluated) in the
    workspace's training panel; False when it has nothing stored to draw."""
    panel = workspace.training
    history = (run.metrics or {}).get("history") or []
    if panel is None or not history:
        return False
    best = max(range(len(history)), key=lambda i: history[i].get("val_auc") or -1.0)
    panel.curves.set_history(history, best_epoch=int(history[best].get("epoch", best)))
    panel.curves.set_title(f"run {run.id} · depth {run.depth}")
    panel.plots.setCurrentWidget(panel.curves)
    auc = "–" if run.best_auc is None else f"{run.best_auc:.3f}"
    panel.status.setText(f"run {run.id} ({run.depth}, {(run.started or '')[:10]}): best "
                         f"validation AUC {auc}; {_stopped_text(run)}. Per-batch losses "
                         "are not kept: the curves show the epoch means.")
    res = test_result(run)
    if res is not None:
        workspace.show_result(res)
        panel.plots.setCurrentWidget(panel.curves)
    else:
        panel.roc.clear_result()
        panel.result.setText("")
    return True
