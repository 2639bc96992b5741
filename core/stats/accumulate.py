"""Accumulator: collects scores batch by batch (e.g. one per validation step), then analyses.

The middle layer of STYLE.md §14: the trainer feeds it, :func:`core.stats.roc.roc_analysis`
does the statistics.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.stats._checks import check_labels, check_scores
from core.stats.roc import RocResult, roc_analysis

__all__ = ["RocAccumulator"]


class RocAccumulator:
    """Collects (score, label[, group]) batches, then runs :func:`roc_analysis` on them.

    ``result(**kw)`` equals ``roc_analysis(all_scores, all_labels, **kw)`` on the
    concatenation of the batches in the order they were added — with
    ``groups=all_groups`` when the batches carried groups.
    """

    def __init__(self) -> None:
        self._scores: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []
        self._groups: list[np.ndarray] = []
        self._n = 0

    def add(self, scores: Any, labels: Any, groups: Any = None) -> None:
        """Append a batch; scores and labels of shape (b,). A batch may hold one class.

        ``groups`` (shape (b,), video or patient keys) must be given for every batch or
        for none; with them :meth:`result` resamples whole groups for the TPR CIs.
        """
        pos = check_labels(labels, require_both=False)
        s = check_scores(scores, pos.size)
        g = None
        if groups is not None:
            g = np.asarray(groups)
            if g.ndim != 1 or g.size != pos.size:
                raise ValueError(f"groups must have shape ({pos.size},) like labels, got {g.shape}")
        if self._scores and (g is None) != (not self._groups):
            raise ValueError("groups must be given with every batch or with none")
        self._scores.append(s)
        self._labels.append(pos)
        if g is not None:
            self._groups.append(g)
        self._n += s.size

    @property
    def scores(self) -> np.ndarray:
        """All scores so far, shape (n,), float64."""
        return np.concatenate(self._scores) if self._scores else np.empty(0)

    @property
    def labels(self) -> np.ndarray:
        """All labels so far, shape (n,), bool (True = positive)."""
        return np.concatenate(self._labels) if self._labels else np.empty(0, dtype=bool)

    @property
    def groups(self) -> np.ndarray | None:
        """All group keys so far, shape (n,), or None when the batches carried none."""
        return np.concatenate(self._groups) if self._groups else None

    def result(self, **kw: Any) -> RocResult:
        """:func:`roc_analysis` of everything added; keywords are passed through."""
        if not self._n:
            raise ValueError("RocAccumulator is empty: add() scores and labels first")
        if self._groups:
            if "groups" in kw:
                raise ValueError("groups were given with the batches; do not pass them again")
            kw["groups"] = self.groups
        return roc_analysis(self.scores, self.labels, **kw)

    def reset(self) -> None:
        self._scores.clear()
        self._labels.clear()
        self._groups.clear()
        self._n = 0

    def __len__(self) -> int:
        return self._n
