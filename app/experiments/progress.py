"""Reading the queue's events for the board: which run of how many, and what it is doing.

The experiment queue (:func:`core.experiments.run_experiment`) yields its own queue
events (run k of n starting, finished, diverged, skipped...) between the run events of
the training job (``RunStarted``, ``BatchEnd``, ``Validated``, ``EpochEnd``,
``Progress``, ``Notice``). :func:`queue_state` reads a queue event whatever its exact
field names, so the board keeps working while that module evolves.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QueueState:
    """Where the queue is: run ``index`` (from 0) of ``total``, what it is, a message."""

    index: int | None
    total: int | None
    label: str
    status: str
    message: str
    run_id: int | None


def _first(ev, *names, default=None):
    for n in names:
        v = getattr(ev, n, None)
        if v is not None:
            return v
    return default


def is_queue_event(ev) -> bool:
    """Whether ``ev`` is one of the queue's own events (not a run's)."""
    name = type(ev).__name__
    return name.startswith(("Queue", "Experiment")) or (
        hasattr(ev, "total") and any(hasattr(ev, n) for n in ("index", "run_index", "k"))
        and not hasattr(ev, "stage"))


def spec_label(spec) -> str:
    """A short name of a planned run (a RunSpec or its dict): depth, init, fraction."""
    if spec is None:
        return ""
    get = spec.get if isinstance(spec, dict) else (lambda k, d=None: getattr(spec, k, d))
    parts = [str(get("depth", "") or "")]
    init = get("init")
    if init and init != "caffe":
        parts.append(str(init))
    frac = get("fraction")
    if frac is not None and float(frac) < 1:
        parts.append(f"{float(frac) * 100:g} %")
    label = get("label") or get("name")
    return str(label) if label else " · ".join(p for p in parts if p)


def queue_state(ev) -> QueueState:
    index = _first(ev, "index", "run_index", "k", "position")
    total = _first(ev, "total", "n", "n_runs")
    status = str(_first(ev, "status", "state", "kind", default="") or "")
    label = spec_label(_first(ev, "spec", "run_spec", "plan"))
    message = str(_first(ev, "message", "text", default="") or "")
    if not label and status == "started" and message:
        label, message = message, ""  # the queue names the run it starts
    if not label:
        label = str(_first(ev, "label", "depth", "key", default="") or "")
    return QueueState(None if index is None else int(index),
                      None if total is None else int(total), label, status,
                      message, _first(ev, "run_id"))
