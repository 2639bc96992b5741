"""The one small protocol every task implements (STYLE §6).

study -> items (frames, candidates) -> patches -> scores -> evaluation. The training
engine and the GUI know only this shape; each task (frame quality, polyps, emboli,
CIMT) is one module implementing it.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class ItemKey:
    """One scored unit: a frame of a study (or a candidate, for detection tasks)."""

    study_id: int
    index: int


@dataclass
class TaskData:
    """A patch dataset plus the item keys its integer ``items`` refer to."""

    dataset: object  # core.train.patches dataset
    keys: list[ItemKey]
    item_labels: np.ndarray  # (n_items,) int, class of each item


class Task(Protocol):
    name: str
    class_names: tuple[str, ...]
    positive: tuple[int, ...]

    def training_data(self, project, rng: np.random.Generator
                      ) -> Generator[object, None, TaskData]: ...

    def test_data(self, project, rng: np.random.Generator
                  ) -> Generator[object, None, TaskData]: ...


_REGISTRY: dict[str, type] = {}


def register(cls: type) -> type:
    _REGISTRY[cls.name] = cls
    return cls


def get_task(name: str, **options) -> Task:
    if name not in _REGISTRY:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**options)
