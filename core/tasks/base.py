"""The task protocol every task implements, and the registry of tasks.

The flow every task shares::

    studies --items--> ItemSet (frames | candidates | ROI pixels, with labels and subjects)
            --dataset--> patch dataset (rendered on demand from fixed per-index specs)
            --engine--> probabilities (N items x C classes)
            --evaluate--> the task's result (ROC today; FROC, box plots later)

The training engine, the jobs, the CLI and the GUI know only this shape. A task never
imports :mod:`core.store`: it is handed the project (anything with ``labels(study_id)``,
``study(id)`` and the reader's needs) by its caller.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from core.events import Notice
from core.train.sampling import segment_groups


@dataclass(frozen=True)
class ItemKey:
    """One scored unit: a frame of a study (or a candidate, for detection tasks)."""

    study_id: int
    index: int


def _int_array(a, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.int64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    return a


@dataclass(frozen=True, eq=False)
class ItemSet:
    """The items of some studies: what a task scores and evaluates.

    Parameters
    ----------
    study_ids : (N,) int64
        Study of each item.
    indices : (N,) int64
        Item within its study: a frame number (``kind="frame"``), a candidate id...
    labels : (N,) int64
        Class index of each item, ``-1`` when unlabelled.
    groups : (N,) int64
        Subject (patient; the study itself when none was given) of each item: splits
        and resampling are made by these, never by item.
    kind : str
        ``"frame"``, ``"candidate"``, ``"roi"`` or ``"pixel"`` (the predictions' item kind).
    """

    study_ids: np.ndarray
    indices: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    kind: str = "frame"

    def __post_init__(self) -> None:
        n = len(self.study_ids)
        for name in ("study_ids", "indices", "labels", "groups"):
            a = _int_array(getattr(self, name), name)
            if len(a) != n:
                raise ValueError(f"{name} has {len(a)} rows, expected {n}")
            object.__setattr__(self, name, a)

    def __len__(self) -> int:
        return len(self.study_ids)

    def subset(self, idx) -> ItemSet:
        """The items ``idx`` (integer positions or a boolean mask), in that order."""
        idx = np.asarray(idx)
        return ItemSet(self.study_ids[idx], self.indices[idx], self.labels[idx],
                       self.groups[idx], self.kind)

    @property
    def keys(self) -> list[ItemKey]:
        return [ItemKey(int(s), int(i)) for s, i in zip(self.study_ids, self.indices)]

    @property
    def labelled(self) -> np.ndarray:
        """(N,) bool: the items with a label."""
        return self.labels >= 0

    def by_study(self) -> dict[int, np.ndarray]:
        """``{study id: positions of its items}`` in first-seen order of the studies."""
        out: dict[int, np.ndarray] = {}
        for s in dict.fromkeys(self.study_ids.tolist()):
            out[int(s)] = np.flatnonzero(self.study_ids == s)
        return out


def empty_items(kind: str = "frame") -> ItemSet:
    z = np.zeros(0, np.int64)
    return ItemSet(z, z, z, z, kind)


def concat_items(sets, kind: str) -> ItemSet:
    """One ItemSet of ``sets`` in order (the empty ones left out)."""
    sets = [s for s in sets if len(s)]
    if not sets:
        return empty_items(kind)
    return ItemSet(*(np.concatenate([getattr(s, a) for s in sets])
                     for a in ("study_ids", "indices", "labels", "groups")), kind=kind)


def subject_of(study) -> int:
    """The subject id of a study; the study's own id where the store has no subjects."""
    sid = getattr(study, "subject_id", None)
    return int(study.id if sid is None else sid)


def validation_groups(items: ItemSet, n_segments: int = 5) -> tuple[np.ndarray, Notice | None]:
    """Groups for the train/validation split of ``items``: their subjects.

    With a single subject there is no subject-level split; contiguous segments of its
    items (adjacent frames are near-duplicates, so a random split would leak) are the
    next best unit, and a :class:`Notice` says so.
    """
    if len(np.unique(items.groups)) >= 2:
        return items.groups, None
    return segment_groups(items.indices, n_segments), Notice(
        "Only one training video: validation uses contiguous segments of it instead of a "
        "separate video.", "warning")


@dataclass
class TaskData:
    """A patch dataset plus the items its integer ``items`` refer to (positions)."""

    dataset: object  # a core.train.patches dataset
    items: ItemSet

    @property
    def keys(self) -> list[ItemKey]:
        return self.items.keys

    @property
    def item_labels(self) -> np.ndarray:
        """(N,) int: the class of each item."""
        return self.items.labels


@runtime_checkable
class Task(Protocol):
    """What every task provides (see the module docstring for the flow)."""

    name: str
    title: str
    class_names: tuple[str, ...]
    positive: tuple[int, ...]  # classes merged into the positive class for AUC
    item_kind: str
    annotation_kinds: tuple[str, ...]
    study_kinds: tuple[str, ...]

    @property
    def options(self) -> dict[str, Any]:
        """JSON-ready options; ``get_task(name, **options)`` rebuilds the same task."""

    def items(self, project, studies) -> ItemSet: ...

    def dataset(self, project, items: ItemSet, rng: np.random.Generator, *, split: str
                ) -> Generator[object, None, object]: ...

    def evaluate(self, items: ItemSet, probs: np.ndarray, *,
                 rng: np.random.Generator | None = None, project=None) -> object: ...

    def preview_items(self, project, study) -> ItemSet: ...


class TaskBase:
    """Shared helpers of the tasks (options, study selection, training/test data)."""

    name: ClassVar[str]
    item_kind: ClassVar[str] = "frame"
    config_class: ClassVar[type]  # a frozen dataclass of the task's options

    def __init__(self, config=None, **options) -> None:
        """``Task(Config(...))``, a dict of the config's fields, or the fields as keywords
        (``get_task(name, **task.options)`` rebuilds the same task)."""
        if isinstance(config, dict):
            options = {**config, **options}
            config = None
        base = config or self.config_class()
        self.config = self.config_class(**{**asdict(base), **options}) if options else base

    def checked_probs(self, items: ItemSet, probs) -> np.ndarray:
        """``probs`` as an array, checked to be (N items, C classes) for ``items``."""
        probs = np.asarray(probs)
        if probs.shape != (len(items), len(self.class_names)):
            raise ValueError(f"probs must be ({len(items)}, {len(self.class_names)}), got "
                             f"{probs.shape}")
        return probs

    @property
    def options(self) -> dict[str, Any]:
        """The task's options, JSON-ready (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in asdict(self.config).items()}

    def studies(self, project, split: str | None = None) -> list:
        """The project's studies of this task (legacy task names included) in ``split``.

        Studies are chosen by task, not by kind: ``study_kinds`` says what the task can
        read (for importers and menus); a schema-1 frame folder has kind ``"folder"``.
        """
        return [s for s in project.studies() if canonical_name(s.task) == self.name
                and (split is None or s.split == split)]

    def sampled(self, project, items: ItemSet) -> ItemSet:
        """The training items a task's sampling option keeps (all of them here)."""
        return items

    def labelled_items(self, project, split: str, study_ids=None) -> ItemSet:
        """The labelled items of the ``split`` studies (of ``study_ids`` when given); on
        the training side only those of the task's sampling (:meth:`sampled`)."""
        studies = self.studies(project, split)
        if study_ids is not None:
            studies = [s for s in studies if s.id in set(study_ids)]
        items = self.items(project, studies)
        items = items.subset(items.labelled)
        if split == "train":
            items = self.sampled(project, items)
        if not len(items):
            raise ValueError(f"no labelled {self.item_kind}s in the {split} studies; label "
                             "some first")
        return items

    def training_data(self, project, rng: np.random.Generator, study_ids=None
                      ) -> Generator[object, None, TaskData]:
        """The labelled items of the training studies and their patches (``split="train"``).

        The dataset's groups are the subjects, or contiguous segments when there is
        only one (with a Notice).
        """
        items = self.labelled_items(project, "train", study_ids)
        groups, notice = validation_groups(items)
        if notice is not None:
            yield notice
            items = ItemSet(items.study_ids, items.indices, items.labels, groups, items.kind)
        ds = yield from self.dataset(project, items, rng, split="train")
        return TaskData(ds, items)

    def test_data(self, project, rng: np.random.Generator, study_ids=None
                  ) -> Generator[object, None, TaskData]:
        items = self.labelled_items(project, "test", study_ids)
        ds = yield from self.dataset(project, items, rng, split="test")
        return TaskData(ds, items)


# ------------------------------------------------------------------ registry

_REGISTRY: dict[str, type] = {}
_ALIASES: dict[str, str] = {}


def register(cls: type) -> type:
    """Class decorator: make a task known by its ``name`` (and its ``aliases``)."""
    _REGISTRY[cls.name] = cls
    for alias in getattr(cls, "aliases", ()):
        _ALIASES[alias] = cls.name
    return cls


def canonical_name(name: str) -> str:
    """The one name of a task (``"frames"``, the schema-1 name, is ``"frame_quality"``)."""
    return _ALIASES.get(name, name)


def task_names() -> tuple[str, ...]:
    """The names of every registered task (aliases not included)."""
    return tuple(sorted(_REGISTRY))


def task_class(name: str) -> type:
    key = canonical_name(name)
    if key not in _REGISTRY:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(task_names())}")
    return _REGISTRY[key]


def get_task(name: str, **options) -> Task:
    """A task by name (or legacy alias) with its options."""
    return task_class(name)(**options)


def label_values(task_name: str) -> tuple[str, ...] | None:
    """The class names a label of ``task_name`` may take; None for an unknown task."""
    try:
        return tuple(task_class(task_name).class_names)
    except ValueError:
        return None
