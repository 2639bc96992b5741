"""The model's output on one frame's ROIs, as a generator the workspace runs off the GUI
thread: dense confidence maps, thinned boundaries, converged snakes (SPEC §1.7).

Qt-free: the work is :func:`core.tasks.cimt.predict.predict_roi` per ROI (dense map,
thinning, open snakes, IMT); this module picks the model and keeps, per ROI, the
expert's snake corrections (constraints) next to the core's :class:`RoiBoundaries`.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.events import Progress

INTERFACES = ("LI", "MA")


@dataclass
class RoiOutput:
    """The model's reading of one ROI and the expert's corrections of its snakes.

    ``boundaries`` is a :class:`core.tasks.cimt.predict.RoiBoundaries` (full-frame
    coordinates); ``constraints`` holds, per interface, the full-frame (row, col) points
    the snake must pass through (one per ROI column at most).
    """

    boundaries: object
    constraints: dict[str, list[tuple[float, float]]] = field(
        default_factory=lambda: {"LI": [], "MA": []})

    @property
    def box(self) -> tuple[int, int, int, int]:
        return tuple(int(v) for v in self.boundaries.box)

    @property
    def n_constraints(self) -> int:
        return sum(len(v) for v in self.constraints.values())

    def snake(self, name: str) -> np.ndarray:
        return np.asarray(self.boundaries.snake(name), float)

    def canvas_dict(self) -> dict:
        """What :meth:`app.widgets.us_canvas.UltrasoundCanvas.set_results` draws."""
        b = self.boundaries
        return {"probs": b.probs, "thin": {"LI": b.li_thin, "MA": b.ma_thin},
                "snakes": {"LI": b.li, "MA": b.ma}}

    def constrain(self, name: str, row: float, col: float) -> None:
        """Add (or, in the same column, replace) a point the snake of ``name`` must pass."""
        c = round(col)
        keep = [p for p in self.constraints[name] if round(p[1]) != c]
        self.constraints[name] = [*keep, (float(row), float(c))]

    def reconverge(self, spacing=None, params=None) -> None:
        """Let both snakes converge again through their constraints (``params``: a
        :class:`core.tasks.cimt.snake.SnakeParams`, default its defaults)."""
        from core.tasks.cimt.predict import boundaries

        b = self.boundaries
        self.boundaries = boundaries(b.probs, b.box, params=params,
                                     constraints=self.constraints, spacing=spacing)

    def state(self) -> SnakeState:
        """What the snakes are now (for undo): constraints and converged boundaries."""
        return SnakeState({k: list(v) for k, v in self.constraints.items()}, self.boundaries)

    def restore(self, state: SnakeState) -> None:
        """Put the snakes back as they were in ``state`` (no re-convergence)."""
        self.constraints = {k: list(v) for k, v in state.constraints.items()}
        self.boundaries = state.boundaries


@dataclass(frozen=True)
class SnakeState:
    """A :class:`RoiOutput`'s snakes at one moment: constraints and the boundaries
    (a :class:`core.tasks.cimt.predict.RoiBoundaries`, never changed in place)."""

    constraints: dict
    boundaries: object


def newest_snapshot(project, owns) -> tuple[Path, str] | None:
    """(path, words) of the model to draw with: the best kept snapshot of the newest run
    of the task that has one (a run still training counts: its best so far)."""
    for run in reversed([r for r in project.runs() if owns(r.task)]):
        if run.best_snapshot:
            p = Path(run.best_snapshot)
            p = p if p.is_absolute() else project.folder / p
            if p.exists():
                return p, f"run {run.id} (best snapshot)"
        snaps = []
        for s in project.snapshots(run.id):
            p = Path(s.path)
            p = p if p.is_absolute() else project.folder / p
            if s.kept and p.exists():
                snaps.append((-1.0 if s.val_auc is None else s.val_auc, s.id, s.epoch, p))
        if snaps:
            _auc, _id, epoch, p = max(snaps)
            return p, f"run {run.id}, epoch {epoch + 1} (best so far)"
    return None


def frame_outputs(snapshot: Path, image: np.ndarray, boxes: list, spacings: list, *,
                  device: str = "auto", params=None
                  ) -> Generator[Progress, None, list[RoiOutput]]:
    """The model's output on every ROI of a frame.

    Parameters
    ----------
    snapshot : Path
        A 3-class CIMT snapshot.
    image : (H, W, 3) or (H, W) uint8
    boxes : list of (row0, col0, row1, col1)
    spacings : list of (dy, dx) mm or None, one per box
    params : SnakeParams, optional
        The snakes' parameters (default: their defaults).

    Yields
    ------
    Progress
        Stage ``"maps"``, one step per ROI (the dense map's own progress too).
    """
    from core.tasks.cimt.pixels import as_grey
    from core.tasks.cimt.predict import predict_roi
    from core.train.checkpoint import load_model

    yield Progress("maps", 0, len(boxes), "loading the model")
    model, _meta = load_model(snapshot, 3)
    grey = as_grey(image)
    out = []
    for i, (box, spacing) in enumerate(zip(boxes, spacings, strict=True)):
        b = yield from predict_roi(model, grey, box, device=device, spacing=spacing,
                                   params=params)
        out.append(RoiOutput(b))
        yield Progress("maps", i + 1, len(boxes), f"ROI {i + 1}")
    return out
