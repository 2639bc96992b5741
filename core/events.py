"""Event records yielded by long-running core generators.

Every long job in :mod:`core` is a plain generator that yields these frozen
dataclasses and returns a result. The CLI turns them into a progress bar, the GUI
worker re-emits them as signals.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """Generic progress of a stage: ``done`` out of ``total`` units."""

    stage: str
    done: int
    total: int
    message: str = ""


@dataclass(frozen=True)
class Notice:
    """Something the user should read (a fallback taken, a warning)."""

    message: str
    level: str = "info"  # "info" | "warning"


@dataclass(frozen=True)
class BatchEnd:
    """One optimizer step done. ``done``/``total`` count steps for the ETA."""

    epoch: int
    iteration: int
    loss: float
    lr: float
    images_per_s: float
    done: int
    total: int
    elapsed_s: float

    @property
    def eta_s(self) -> float:
        """Seconds left at the average pace so far (0 before the first step)."""
        return self.elapsed_s / self.done * (self.total - self.done) if self.done else 0.0


@dataclass(frozen=True)
class Validated:
    """Validation AUC (item level) at an iteration; ``is_best`` when a new best."""

    epoch: int
    iteration: int
    auc: float
    loss: float
    is_best: bool
    best_auc: float


@dataclass(frozen=True)
class EpochEnd:
    epoch: int
    train_loss: float
    val_auc: float
    best_auc: float
    best_epoch: int
    elapsed_s: float
    eta_s: float

    def summary(self, digits: int = 4) -> str:
        """One line for people: loss, validation AUC, best so far (epochs from 1)."""
        return (f"epoch {self.epoch + 1}: loss {self.train_loss:.4f}, val AUC "
                f"{self.val_auc:.{digits}f} (best {self.best_auc:.{digits}f} at epoch "
                f"{self.best_epoch + 1})")


@dataclass(frozen=True)
class SnapshotSaved:
    """A new best model was written to ``path``.

    ``val_items`` (K,) int64 and ``val_probs`` (K, C) float64 are the validation items
    (dataset item ids) and their class probabilities under this model.
    """

    path: str
    epoch: int
    iteration: int
    val_auc: float
    val_items: object = None
    val_probs: object = None


@dataclass(frozen=True)
class Scored:
    """Class probabilities of a set's items under the newest best snapshot.

    ``name`` is the preview set (e.g. ``"strip"``), ``items`` its item ids (positions in the task's item set, or frame
    numbers once a job has mapped them), ``probs`` the probability of each class of
    each item, averaged over its patches. ``positive`` names the classes merged into
    the positive class (SPEC §1.3); :attr:`positive_probs` is that class's probability.
    """

    name: str
    items: object  # np.ndarray (M,) int64
    probs: object  # np.ndarray (M, C) float64
    epoch: int
    positive: tuple[int, ...] = (1,)

    @property
    def positive_probs(self):
        """(M,) float64: the probability of the positive class(es) of each item.

        One-dimensional ``probs`` (the first release's shape) are returned as they are.
        """
        import numpy as np

        p = np.asarray(self.probs, dtype=np.float64)
        return p if p.ndim == 1 else p[:, list(self.positive)].sum(axis=1)


def drain(gen, on_event=None):
    """Run a core generator to the end and return its result.

    ``on_event`` (optional) receives every yielded event; the CLI's progress printer
    and tests use this instead of writing the StopIteration dance each time.
    """
    try:
        while True:
            ev = next(gen)
            if on_event is not None:
                on_event(ev)
    except StopIteration as stop:
        return stop.value
    finally:
        gen.close()
