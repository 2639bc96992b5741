"""Checks before an experiment starts or resumes: enough labels, fractions that keep every
class, the project's files where they were. Each failure is a ValueError whose message
says what is missing and how much is needed; nothing is stored or started."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.events import Notice
from core.jobs.records import data_rng
from core.tasks.base import get_task, validation_groups
from core.train.sampling import grouped_split, reduce_training

MIN_PER_CLASS = 2
"""Labelled training items each class needs: one for training, one for validation."""


def _names(task, classes) -> str:
    names = getattr(task, "class_names", None)
    return ", ".join(repr(names[c]) if names and 0 <= c < len(names) else str(c)
                     for c in sorted(classes))


def _class_names(task, labels) -> str:
    names = getattr(task, "class_names", None)
    return ", ".join(f"{names[c] if names and 0 <= c < len(names) else c}: {n}"
                     for c, n in zip(*np.unique(labels, return_counts=True)))


def check_labels(project, plan: dict) -> list[Notice]:
    """Refuse a plan the project's labels cannot carry; notices for what is only odd.

    Raises
    ------
    ValueError
        Too few labelled training items for a split (the message says how many are
        needed), a class missing, or a fraction whose reduced training data hold no item
        of a class.
    """
    from core.experiments.plans import expand

    t = get_task(plan["task"], **plan.get("task_options", {}))
    unit = t.item_kind
    try:
        items = t.labelled_items(project, "train")
    except ValueError as exc:
        raise ValueError(f"cannot start the {plan['kind']} experiment: {exc} (it needs at "
                         f"least {MIN_PER_CLASS} labelled {unit}s of each class)") from None
    n_classes = len(getattr(t, "class_names", (0, 1)))
    classes, counts = np.unique(items.labels, return_counts=True)
    if len(classes) < min(2, n_classes) or counts.min() < MIN_PER_CLASS:
        raise ValueError(
            f"too few labels for a training/validation split: the {plan['kind']} experiment "
            f"needs at least {MIN_PER_CLASS} labelled {unit}s of each class in the training "
            f"studies (one for training, one for validation); found "
            f"{_class_names(t, items.labels) or 'none'}")
    groups, _ = validation_groups(items)
    seed = int(plan.get("seed", 0))
    val_fraction = float(plan.get("train", {}).get("val_fraction", 0.2))
    train_pos, val_pos = grouped_split(groups, items.labels, val_fraction,
                                       data_rng(seed, "split"))
    for side, pos in (("training", train_pos), ("validation", val_pos)):
        missing = set(classes.tolist()) - set(np.unique(items.labels[pos]).tolist())
        if missing:
            raise ValueError(
                f"too few labels for a split by subject: no {unit} of class "
                f"{_names(t, missing)} falls on the {side} side; label {unit}s of every class in "
                f"at least 2 training studies (found {_class_names(t, items.labels)} over "
                f"{len(np.unique(groups))} groups)")
    for frac in sorted({s.fraction for s in expand(plan) if s.fraction < 1.0}):
        keep, _ = reduce_training(groups[train_pos], items.labels[train_pos], frac,
                                  data_rng(seed, "reduce"))
        kept = items.labels[train_pos][keep]
        missing = set(classes.tolist()) - set(np.unique(kept).tolist())
        if missing:
            raise ValueError(
                f"the fraction {frac:g} leaves the class {_names(t, missing)} with no training "
                f"{unit} ({len(kept)} of {len(train_pos)} kept); choose a larger fraction")
    notices = []
    try:
        t.labelled_items(project, "test")
    except ValueError:
        notices.append(Notice("no labelled test studies: the runs will be trained and "
                              "compared on validation only, not evaluated", "warning"))
    return notices


def check_files(project, plan: dict) -> list[Notice]:
    """Refuse to run when the project's studies are not where they were (a moved project
    whose study files stayed behind, or a deleted file); a Notice when the project folder
    itself moved since the experiment was made."""
    t = get_task(plan["task"], **plan.get("task_options", {}))
    missing = [s for s in t.studies(project) if s.path and not Path(s.path).exists()]
    if missing:
        names = ", ".join(s.name for s in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise ValueError(
            f"{len(missing)} studies of the experiment are not where they were imported from "
            f"({names}; first expected at {missing[0].path}). Was the project or its data "
            "moved? Import the studies again from where they are now (labels are kept), then "
            "resume the experiment: its finished runs are kept.")
    was = plan.get("project")
    if was and Path(was).resolve() != Path(project.folder).resolve():
        return [Notice(f"the project moved from {was} to {project.folder}; continuing there")]
    return []


def experiment_data(project, plan: dict) -> dict:
    """Labelled items per class on each side (for the report's data section)."""
    t = get_task(plan["task"], **plan.get("task_options", {}))
    out = {}
    for split in ("train", "test"):
        try:
            items = t.labelled_items(project, split)
        except ValueError:
            out[split] = {"items": 0, "studies": 0, "subjects": 0, "classes": {}}
            continue
        names = getattr(t, "class_names", None)
        cls, n = np.unique(items.labels, return_counts=True)
        out[split] = {"items": int(len(items)), "studies": int(len(np.unique(items.study_ids))),
                      "subjects": int(len(np.unique(items.groups))),
                      "classes": {(names[c] if names else str(c)): int(k)
                                  for c, k in zip(cls.tolist(), n.tolist())}}
    return out
