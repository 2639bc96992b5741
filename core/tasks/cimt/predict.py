"""From a trained network to an ROI's boundaries and IMT (SPEC §1.7).

One ROI: the dense 3-class confidence map (:mod:`core.tasks.cimt.dense`), the thinned
step-like boundaries (in each column the row of maximum LI / MA response,
:func:`core.tasks.cimt.boundaries.thin`), two open snakes initialised on them and driven
by the maps (:mod:`core.tasks.cimt.snake`), and the IMT: the mean vertical distance
between the snakes, in mm with a pixel spacing. Expert-dragged points are constraints
the snake passes through (it re-converges around them).

Everything here is in full-frame pixel coordinates (row, col); the maps are ROI-local
``(3, h, w)`` with pixel ``(row0 + i, col0 + j)`` at ``[:, i, j]``.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.events import Progress
from core.tasks.cimt.boundaries import ImtResult, imt, rows_to_polyline, thin

INTERFACE_CLASS = {"LI": 1, "MA": 2}


@dataclass(frozen=True, eq=False)
class RoiBoundaries:
    """The system's reading of one ROI.

    Attributes
    ----------
    box : (row0, col0, row1, col1) int
    probs : (3, h, w) float32
        Background, LI, MA probabilities at every ROI pixel.
    li_thin, ma_thin : (N, 2) float64
        The thinned boundaries (one point per column with a response), full frame.
    li, ma : (N, 2) float64
        The converged open snakes, full frame, ordered by column, kept inside the ROI.
    imt : ImtResult or None
        Mean vertical distance ``ma - li`` (mm with a spacing, else pixels); None when
        the snakes share no column.
    """

    box: tuple[int, int, int, int]
    probs: np.ndarray
    li_thin: np.ndarray
    ma_thin: np.ndarray
    li: np.ndarray
    ma: np.ndarray
    imt: ImtResult | None

    def snake(self, interface: str) -> np.ndarray:
        return {"LI": self.li, "MA": self.ma}[interface]

    def merged_map(self) -> np.ndarray:
        """(h, w, 3) float32 RGB overlay: red = MA, green = LI (SPEC §1.7)."""
        h, w = self.probs.shape[1:]
        out = np.zeros((h, w, 3), np.float32)
        out[..., 0] = self.probs[2]
        out[..., 1] = self.probs[1]
        return out


def snake_params(options: Mapping | None = None):
    """The snake parameters: :class:`core.tasks.cimt.snake.SnakeParams` with
    ``options`` (field name -> value) replacing its defaults."""
    from core.tasks.cimt.snake import SnakeParams

    return SnakeParams(**dict(options or {}))


def local_constraints(points: Sequence[Sequence[float]] | None, box, cols: np.ndarray
                      ) -> list[tuple[int, tuple[float, float]]]:
    """Full-frame points a snake must pass through, as (snake point index, (row, col))
    ROI-local pairs.

    ``cols``: the ROI-local columns of the snake's initial points (one per column from
    the first to the last thinned column, :func:`core.tasks.cimt.snake.snake_from_map`);
    a point takes the index of the nearest one. Points outside the ROI are refused.
    """
    r0, c0, r1, c1 = box
    out = []
    for p in points or ():
        r, c = float(p[0]), float(p[1])
        if not (c0 - 0.5 <= c < c1 - 0.5 and r0 - 0.5 <= r < r1 - 0.5):
            raise ValueError(f"the dragged point ({r:.1f}, {c:.1f}) is outside the ROI (rows "
                             f"{r0}-{r1 - 1}, cols {c0}-{c1 - 1})")
        k = int(np.argmin(np.abs(np.asarray(cols, np.float64) - (c - c0))))
        out.append((k, (r - r0, float(cols[k]))))
    return out


def boundaries(probs: np.ndarray, box, *, params=None,
               constraints: Mapping[str, Sequence] | None = None,
               spacing: tuple[float, float] | None = None, floor: float = 0.0
               ) -> RoiBoundaries:
    """Thinning, open snakes and IMT of an ROI's dense map.

    Parameters
    ----------
    probs : (3, h, w) float
        The ROI's dense map (:func:`core.tasks.cimt.dense.dense_probabilities`).
    box : (row0, col0, row1, col1)
        Where the ROI lies in the frame.
    params : SnakeParams, optional
        Default :func:`snake_params`.
    constraints : {"LI": [(row, col), ...], "MA": [...]}, optional
        Full-frame points each snake must pass through (the expert's drags).
    spacing : (dy, dx) mm per pixel, optional
    floor : float
        Columns whose maximum response is below it have no thinned point.
    """
    from core.tasks.cimt.snake import snake_from_map

    probs = np.asarray(probs, np.float32)
    if probs.ndim != 3 or probs.shape[0] != 3:
        raise ValueError(f"probs must be (3, h, w), got {probs.shape}")
    r0, c0, r1, c1 = (int(v) for v in box)
    if probs.shape[1:] != (r1 - r0, c1 - c0):
        raise ValueError(f"probs {probs.shape[1:]} do not match the ROI {r1 - r0} x {c1 - c0}")
    params = params if params is not None else snake_params()
    offset = np.array([r0, c0], np.float64)
    thinned, snakes = {}, {}
    for name, k in INTERFACE_CLASS.items():
        line = rows_to_polyline(thin(probs[k], floor))
        thinned[name] = line + offset
        cols = np.arange(line[0, 1], line[-1, 1] + 1) if len(line) else np.zeros(1)
        cons = local_constraints((constraints or {}).get(name), (r0, c0, r1, c1), cols)
        snake = np.asarray(snake_from_map(probs[k], params, cons, floor=floor), np.float64)
        # the boundary lies in the ROI: on a flat (untrained) map a snake may drift out
        snake[:, 0] = np.clip(snake[:, 0], 0.0, probs.shape[1] - 1.0)
        snake[:, 1] = np.clip(snake[:, 1], 0.0, probs.shape[2] - 1.0)
        snakes[name] = snake + offset
    try:
        thickness = imt(snakes["LI"], snakes["MA"], spacing)
    except ValueError:  # no shared column (a degenerate map)
        thickness = None
    return RoiBoundaries((r0, c0, r1, c1), probs, thinned["LI"], thinned["MA"], snakes["LI"],
                         snakes["MA"], thickness)


def predict_roi(model, grey: np.ndarray, box, *, device: str = "auto",
                precision: str = "fp32", params=None,
                constraints: Mapping[str, Sequence] | None = None,
                spacing: tuple[float, float] | None = None
                ) -> Generator[Progress, None, RoiBoundaries]:
    """The dense map of ``box`` on ``grey`` under ``model``, then :func:`boundaries`.

    ``model`` is a trained CIMT network (AlexNet or its context network, 3 classes).
    """
    from core.tasks.cimt.dense import dense_map

    probs = yield from dense_map(model, grey, box, device=device, precision=precision)
    yield Progress("snakes", 0, 1, "thinning and snakes")
    out = boundaries(probs, box, params=params, constraints=constraints, spacing=spacing)
    yield Progress("snakes", 1, 1, "thinning and snakes")
    return out
