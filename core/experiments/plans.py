"""Experiment plans: which runs an experiment is made of (SPEC §1.8, §2.3).

A plan is a JSON-ready dict stored with the experiment (``project.add_experiment``); it
holds everything the queue needs to run it again after a restart: the task and its
options, the shared training settings (one seed: every run sees the same split), the
weights file, and the list of runs, each with a unique ``key``.

Kinds:

* ``depth`` -- the eight fine-tuning depths of Table II and scratch (SPEC §1.2);
* ``data`` -- reduced training data (default 100/50/25 %, for frame quality 10/5/1 %
  too) for scratch and the deepest fine-tuning (``conv1``); the validation and test sets
  stay fixed (:func:`core.train.sampling.reduce_training`);
* ``convergence`` -- deep fine-tuning against scratch with Gaussian, Xavier and MSRA
  initialisation; the validation AUC is recorded against iterations (``val_curve``);
* ``budget`` -- a chosen depth (or two) at 10/25/50/100 % of the current labels, for a
  curve of performance against label count extrapolated to a ``target``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from core.train.engine import TrainConfig
from core.train.model import DEPTHS, INITS

KINDS: tuple[str, ...] = ("depth", "data", "convergence", "budget")
"""Experiment kinds, in the order the board offers them."""

DATA_FRACTIONS = (1.0, 0.5, 0.25)
FRAME_QUALITY_EXTRA = (0.1, 0.05, 0.01)  # the paper's frame-quality fractions (SPEC §1.8)
BUDGET_FRACTIONS = (0.1, 0.25, 0.5, 1.0)
CONVERGENCE_INITS = ("gaussian", "xavier", "msra")
TARGET_METRICS = ("auc", "sensitivity@0.1", "sensitivity@0.15", "sensitivity@0.2", "cpm")

# TrainConfig fields a plan may set for all its runs (depth, init, seed come from the plan)
_TRAIN_FIELDS = tuple(f.name for f in fields(TrainConfig)
                      if f.name not in ("depth", "init", "seed"))


@dataclass(frozen=True)
class RunSpec:
    """One run of a plan: its key (unique in the plan), depth, scratch init, fraction,
    and ``train``: settings of this run only (over the plan's shared ones)."""

    key: str
    depth: str
    init: str
    fraction: float
    label: str
    train: dict = field(default_factory=dict)

    def config(self, plan: dict) -> TrainConfig:
        """The run's :class:`TrainConfig`: the plan's shared settings, its depth/init."""
        return TrainConfig(depth=self.depth, init=self.init, seed=int(plan.get("seed", 0)),
                           **{**plan.get("train", {}), **self.train})

    def to_dict(self) -> dict:
        return asdict(self)


def _fractions(values, kind: str) -> list[float]:
    out = []
    for v in values:
        f = float(v)
        if f > 1.0 and f <= 100.0:  # "50" means 50 %
            f /= 100.0
        if not 0.0 < f <= 1.0:
            raise ValueError(f"a {kind} experiment's fractions must be in (0, 1] (or percent "
                             f"in (0, 100]); got {v!r}")
        if f not in out:
            out.append(f)
    return sorted(out, reverse=True)


def _depths(values, default) -> list[str]:
    depths = list(values) if values else list(default)
    for d in depths:
        if d not in DEPTHS:
            raise ValueError(f"unknown depth {d!r}; choose from {', '.join(DEPTHS)}")
    if len(set(depths)) != len(depths):
        raise ValueError(f"a depth is named twice in {depths}")
    return depths


def _pct(f: float) -> str:
    return f"{f * 100:g} %"


def make_plan(kind: str, task: str, *, depths=None, fractions=None, inits=None,
              init: str = "caffe", seed: int = 0, train: dict | None = None,
              task_options: dict | None = None, weights: str | None = None,
              target: dict | None = None) -> dict:
    """A JSON-ready plan of ``kind`` for ``task``.

    Parameters
    ----------
    kind : {"depth", "data", "convergence", "budget"}
    task : the task's name (``frame_quality``, ``polyps``, ``emboli``, ``cimt``)
    depths : depths to run (default: all nine for ``depth``; ``conv1`` and ``scratch``
        for ``data``; ``conv1`` for ``convergence`` and ``budget``)
    fractions : shares of the training labels (``data``, ``budget``), in (0, 1] or percent
    inits : scratch initialisations (``convergence``; default Gaussian, Xavier, MSRA)
    init : the scratch initialisation of the other kinds (default Caffe's fillers)
    seed : the one seed of every run: the same split, crops and batches
    train : shared :class:`TrainConfig` settings (epochs, batch_size, device, ...)
    task_options : the task's options (crops per frame, ...)
    weights : a pretrained weights file (default: the usual resolution)
    target : ``budget`` only: ``{"metric": "auc" | "sensitivity@0.1" | ..., "value": v}``
    """
    from core.tasks.base import canonical_name

    if kind not in KINDS:
        raise ValueError(f"unknown experiment {kind!r}; choose one of {', '.join(KINDS)}")
    task = canonical_name(task)
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    train = dict(train or {})
    unknown = set(train) - set(_TRAIN_FIELDS)
    if unknown:
        raise ValueError(f"unknown training settings {sorted(unknown)}; valid: "
                         f"{', '.join(_TRAIN_FIELDS)}")
    TrainConfig(seed=seed, **train)  # refuse bad values now, not at run 5
    runs: list[RunSpec] = []
    if kind == "depth":
        for d in _depths(depths, DEPTHS):
            runs.append(RunSpec(d, d, init, 1.0, d if d != "scratch" else f"scratch ({init})"))
    elif kind in ("data", "budget"):
        if kind == "data":
            default = DATA_FRACTIONS + (FRAME_QUALITY_EXTRA if task == "frame_quality" else ())
            ds = _depths(depths, ("conv1", "scratch"))
        else:
            default = BUDGET_FRACTIONS
            ds = _depths(depths, ("conv1",))
            if len(ds) > 2:
                raise ValueError("a label-budget experiment takes one depth or two")
        for d in ds:
            for f in _fractions(fractions or default, kind):
                runs.append(RunSpec(f"{d}@{f:g}", d, init, f, f"{d} at {_pct(f)}"))
    else:  # convergence
        for d in _depths(depths, ("conv1",)):
            if d != "scratch":
                runs.append(RunSpec(d, d, init, 1.0, f"fine-tuned from {d}"))
        for i in inits or CONVERGENCE_INITS:
            if i not in INITS:
                raise ValueError(f"unknown init {i!r}; choose one of {', '.join(INITS)}")
            runs.append(RunSpec(f"scratch-{i}", "scratch", i, 1.0, f"scratch ({i})"))
    if target is not None:
        if kind != "budget":
            raise ValueError("only a label-budget experiment takes a target")
        target = _target(target)
    if not runs:
        raise ValueError(f"the {kind} experiment has no runs")
    keys = [r.key for r in runs]
    assert len(set(keys)) == len(keys), keys
    return {"kind": kind, "task": task, "seed": int(seed), "train": train,
            "task_options": dict(task_options or {}), "weights": weights,
            "target": target, "runs": [r.to_dict() for r in runs]}


def _target(target: dict) -> dict:
    metric, value = target.get("metric", "auc"), target.get("value")
    if metric not in TARGET_METRICS:
        raise ValueError(f"unknown target metric {metric!r}; choose one of "
                         f"{', '.join(TARGET_METRICS)}")
    if value is None or not 0.0 < float(value) <= 1.0:
        raise ValueError(f"a target value must be in (0, 1], got {value!r}")
    return {"metric": metric, "value": float(value)}


def expand(plan: dict) -> list[RunSpec]:
    """The plan's runs, in queue order."""
    return [RunSpec(**r) for r in plan["runs"]]


def describe(plan: dict) -> str:
    """One line for people: the kind and its runs."""
    runs = expand(plan)
    return (f"{plan['kind']} experiment on {plan['task']}: {len(runs)} runs ("
            + ", ".join(r.label for r in runs) + f"), seed {plan.get('seed', 0)}")
