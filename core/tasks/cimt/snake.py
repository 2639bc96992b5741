"""Open active contours (snakes) on CIMT confidence maps, with expert constraints.

SPEC §1.7: two open snakes, initialised on the thinned LI and MA boundaries
(:func:`core.tasks.cimt.boundaries.thin`), deform on the confidence maps until converged;
IMT is the mean vertical distance between them. The expert may drag a snake point: the
dragged point becomes a constraint (held where it was put) and the snake re-converges
around it.

The scheme is scikit-image's ``active_contour`` [2]_ (Kass, Witkin & Terzopoulos [1]_ with
the semi-implicit step of [1]_): internal energy ``alpha`` (tension) and ``beta``
(rigidity) solved implicitly, image force explicit with step ``1 / gamma``, every move
capped at ``max_px_move`` through ``tanh``, the same fixed/free end rows, the same
convergence test over the last ten configurations; the parameters mean what they mean
there (:meth:`SnakeParams.skimage_kwargs`). It is faster because the image force comes from
:class:`core.tasks.cimt.snake_field.SplineForce` (the same quadratic interpolating spline,
evaluated per cell instead of rebuilt by FITPACK on every call) and both coordinates share
one matrix product (``benchmarks/bench_snake.py``).

Additions for CIMT: ``sigma`` (Gaussian smoothing of the map first, widening the basin of
a thin ridge), ``vertical_only`` (points keep their columns, so a boundary stays one row
per column, as IMT and the boundary distances need), and constraints: an interior
constrained point gets the row of a fixed end (identity in the implicit system, no force,
no move), a constraint on an end point fixes that end.

References
----------
.. [1] M. Kass, A. Witkin, D. Terzopoulos, "Snakes: active contour models", International
   Journal of Computer Vision 1(4):321-331, 1988.
.. [2] S. van der Walt et al., "scikit-image: image processing in Python", PeerJ 2:e453,
   2014 (``skimage.segmentation.active_contour``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from core.tasks.cimt.boundaries import imt, resample_by_col, rows_to_polyline, thin
from core.tasks.cimt.snake_field import SplineForce

__all__ = [
    "ENDS",
    "SnakeParams",
    "SnakeRun",
    "external_energy",
    "imt",
    "open_snake",
    "prepare_field",
    "resample_by_col",
    "run_snake",
    "snake_from_map",
]

ENDS = ("fixed", "free", "fixed-free", "free-fixed")
_CONVERGENCE_ORDER = 10  # configurations compared in the convergence test, as skimage


@dataclass(frozen=True)
class SnakeParams:
    """Parameters of an open snake; names and meaning as ``skimage`` ``active_contour``.

    Defaults are for CIMT confidence maps (values in [0, 1], a ridge on the interface):
    attraction to the map itself (``w_line`` 1, ``w_edge`` 0, where skimage defaults to
    edges), ``gamma`` 0.1, free ends, light smoothing, vertical moves only.

    Attributes
    ----------
    alpha : float
        Tension (length) weight; larger contracts faster.
    beta : float
        Rigidity (smoothness) weight; larger is smoother.
    gamma : float
        Explicit time-step parameter (the image force moves a point by ``force / gamma``
        before the ``max_px_move`` cap). skimage's 0.01 makes every step saturate the cap,
        so a snake ends oscillating by up to a pixel around its optimum; 0.1 (the default
        here) moves it in proportion to the force and settles within a tenth of a pixel on
        a smooth map. With skimage's end rows the iteration is unstable from ``gamma``
        about 1 (an eigenvalue of the implicit matrix below -1.9): keep it under 0.5.
    w_line : float
        Weight of the map itself: positive attracts to high values (the confidence ridge).
    w_edge : float
        Weight of the map's Sobel edge magnitude.
    max_px_move : float
        Largest move of a coordinate per iteration, in pixels.
    max_iterations : int
        Iteration limit.
    convergence : float
        Stop when the snake is within this (pixels, max over points of |drow| + |dcol|) of
        one of the previous ten configurations; 0 runs exactly ``max_iterations``.
    ends : str
        "fixed", "free", "fixed-free" or "free-fixed" (first end, last end).
    sigma : float
        Gaussian smoothing of the map before the energy (pixels; 0 = none; not in skimage).
    vertical_only : bool
        Points move along their column only (not in skimage).
    inside : bool
        Points stay on the map (clipped to its rows and columns after every step; not in
        skimage, whose snake runs off a map where the force keeps pushing outwards, e.g.
        an untrained network's flat or ramp-like map).
    """

    alpha: float = 0.01
    beta: float = 0.1
    gamma: float = 0.1
    w_line: float = 1.0
    w_edge: float = 0.0
    max_px_move: float = 1.0
    max_iterations: int = 2500
    convergence: float = 0.1
    ends: str = "free"
    sigma: float = 1.0
    vertical_only: bool = True
    inside: bool = True

    def __post_init__(self) -> None:
        if self.ends not in ENDS:
            raise ValueError(f"ends must be one of {', '.join(ENDS)}; got {self.ends!r}")
        for name in ("alpha", "beta", "w_line", "w_edge"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be finite, got {getattr(self, name)}")
        for name in ("alpha", "beta", "sigma", "convergence"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("gamma", "max_px_move"):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise ValueError(f"{name} must be a positive number, got {v}")
        if int(self.max_iterations) != self.max_iterations or self.max_iterations < 1:
            raise ValueError(f"max_iterations must be an integer >= 1, got "
                             f"{self.max_iterations}")

    def skimage_kwargs(self) -> dict[str, Any]:
        """The same snake's arguments for ``skimage.segmentation.active_contour``.

        ``sigma``, ``vertical_only`` and ``inside`` have no counterpart there: smooth the image first
        with :func:`scipy.ndimage.gaussian_filter` (``mode="nearest"``) and use
        ``vertical_only=False, inside=False`` for a like-for-like run.
        """
        return dict(alpha=self.alpha, beta=self.beta, w_line=self.w_line,
                    w_edge=self.w_edge, gamma=self.gamma, max_px_move=self.max_px_move,
                    max_num_iter=int(self.max_iterations), convergence=self.convergence,
                    boundary_condition=self.ends)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SnakeRun:
    """A converged (or stopped) snake: ``points`` (N, 2) (row, col) and how it ended."""

    points: np.ndarray
    iterations: int
    converged: bool


def external_energy(image: Any, params: SnakeParams) -> np.ndarray:
    """``w_line * I + w_edge * sobel(I)`` of the (optionally smoothed) map, float64.

    ``I`` is ``skimage.util.img_as_float(image)`` (integers scaled to [0, 1] as skimage
    does; floats kept), smoothed by a Gaussian of ``params.sigma`` when positive.
    """
    from skimage.util import img_as_float

    a = np.asarray(image)
    if a.ndim != 2 or min(a.shape) < 3:
        raise ValueError(f"the map must be 2-D and at least 3 x 3 pixels, got shape {a.shape}")
    img = img_as_float(a).astype(np.float64, copy=False)
    if not np.isfinite(img).all():
        raise ValueError("the map holds NaN or infinite values")
    if params.sigma > 0:
        from scipy.ndimage import gaussian_filter

        img = gaussian_filter(img, params.sigma, mode="nearest")
    energy = params.w_line * img
    if params.w_edge != 0:
        from skimage.filters import sobel

        energy = energy + params.w_edge * sobel(img)
    return energy


def prepare_field(image: Any, params: SnakeParams) -> SplineForce:
    """The image force of ``image`` under ``params``: build once, reuse while the expert
    drags (pass it as ``field=`` to :func:`open_snake` / :func:`snake_from_map`)."""
    return SplineForce(external_energy(image, params))


def _check_points(init: Any) -> np.ndarray:
    s = np.array(init, dtype=np.float64)  # a copy: the snake moves it
    if s.ndim != 2 or s.shape[1] != 2:
        raise ValueError(f"init must be an (N, 2) array of (row, col), got shape {s.shape}")
    if s.shape[0] < 4:
        raise ValueError(f"an open snake needs at least 4 points, got {s.shape[0]}")
    if not np.isfinite(s).all():
        raise ValueError("init holds NaN or infinite coordinates")
    return s


def _check_constraints(constraints: Iterable, n: int) -> dict[int, tuple[float, float]]:
    out: dict[int, tuple[float, float]] = {}
    for item in constraints:
        try:
            k, (r, c) = item
            k, r, c = int(k), float(r), float(c)
        except (TypeError, ValueError):
            raise ValueError(f"a constraint is (point index, (row, col)); got {item!r}") from None
        if not -n <= k < n:
            raise ValueError(f"constraint index {k} is outside the snake's {n} points")
        k %= n
        if not (math.isfinite(r) and math.isfinite(c)):
            raise ValueError(f"constraint on point {k} is not finite: ({r}, {c})")
        if k in out:
            raise ValueError(f"point {k} is constrained twice")
        out[k] = (r, c)
    return out


def _system(n: int, p: SnakeParams, pinned: set[int]) -> tuple[np.ndarray, np.ndarray]:
    """``A + gamma I`` of skimage's open snake with ``pinned`` points held, and the
    per-point force scale (0 held, 2 at a free end, else 1), as skimage builds them but
    for one sign.

    A free end's two rows say its second and third differences vanish. skimage writes
    the third difference at the last end as at the first, ``[-1, 3, -3, 1]``, not
    mirrored: the row's diagonal is then ``-3 + gamma``, and with a rigidity ``beta``
    of about 1.5 or more the last end leaves the ridge and runs off the map while the
    first stays (a snake and its mirror image then converge differently). Here the
    last end's row is the mirror, ``[1, -3, 3, -1]``: both ends behave alike.
    """
    a = np.zeros((n, n))
    i = np.arange(n)
    a[i, i] = 2 * p.alpha + 6 * p.beta
    a[i[:-1], i[1:]] = a[i[1:], i[:-1]] = -p.alpha - 4 * p.beta
    a[i[:-2], i[2:]] = a[i[2:], i[:-2]] = p.beta
    first, last = p.ends.split("-") if "-" in p.ends else (p.ends, p.ends)
    first = "fixed" if 0 in pinned else first
    last = "fixed" if n - 1 in pinned else last
    fscale = np.ones((n, 1))
    if first == "fixed":
        a[0], a[1] = 0.0, 0.0
        a[1, :3] = [1, -2, 1]
        fscale[0] = 0.0
    else:
        a[0], a[1] = 0.0, 0.0
        a[0, :3] = [1, -2, 1]
        a[1, :4] = [-1, 3, -3, 1]
        fscale[0] = 2.0
    if last == "fixed":
        a[-1], a[-2] = 0.0, 0.0
        a[-2, -3:] = [1, -2, 1]
        fscale[-1] = 0.0
    else:  # the first end's rows mirrored (skimage keeps [-1, 3, -3, 1] here: see above)
        a[-1], a[-2] = 0.0, 0.0
        a[-1, -3:] = [1, -2, 1]
        a[-2, -4:] = [1, -3, 3, -1]
        fscale[-1] = 2.0
    for k in pinned:
        a[k] = 0.0
        fscale[k] = 0.0
    a[i, i] += p.gamma
    return a, fscale


def _banded_solver(m: np.ndarray):
    """``rhs -> m^-1 rhs`` for the pentadiagonal ``m``: LAPACK ``gbtrf`` once, ``gbtrs``
    per call (O(N) per iteration, where skimage multiplies by a dense inverse)."""
    from scipy.linalg import get_lapack_funcs

    n = m.shape[0]
    ab = np.zeros((7, n))  # band storage with room for the pivots: ab[4 + i - j, j]
    for off in range(-2, 3):
        d = np.diagonal(m, off)
        if off >= 0:
            ab[4 - off, off:] = d
        else:
            ab[4 - off, :n + off] = d
    gbtrf, gbtrs = get_lapack_funcs(("gbtrf", "gbtrs"), (ab,))
    lu, piv, info = gbtrf(ab, 2, 2)
    if info != 0:
        raise ValueError("these snake parameters give a singular system; raise gamma")

    def solve(rhs: np.ndarray) -> np.ndarray:
        x, _ = gbtrs(lu, 2, 2, rhs, piv)
        return x

    return solve


def run_snake(energy: Any, init: Any, params: SnakeParams | None = None,
              constraints: Iterable = (), *, field: SplineForce | None = None) -> SnakeRun:
    """Deform an open snake on a map until it converges; see :func:`open_snake`."""
    p = SnakeParams() if params is None else params
    s = _check_points(init)
    n = s.shape[0]
    pins = _check_constraints(constraints, n)
    if field is None:
        field = prepare_field(energy, p)
    elif energy is not None and tuple(np.shape(energy)) != tuple(field.shape):
        raise ValueError(f"field was built for a {field.shape} map, not {np.shape(energy)}")
    for k, rc in pins.items():
        s[k] = rc
    m, fscale = _system(n, p, set(pins))
    mscale = np.ones((n, 2))
    mscale[fscale[:, 0] == 0] = 0.0
    if p.vertical_only:
        mscale[:, 1] = 0.0
    solve = _banded_solver(m)
    gamma, cap, conv = p.gamma, p.max_px_move, p.convergence
    hi = np.array(field.shape[:2], float) - 1.0  # last row, last col
    save = np.empty((_CONVERGENCE_ORDER, n, 2))
    it, converged = 0, False
    for it in range(1, int(p.max_iterations) + 1):
        f = field(s)
        f *= fscale
        f += gamma * s
        step = solve(f)
        step -= s
        np.tanh(step, out=step)
        step *= mscale
        if cap != 1.0:
            step *= cap
        s += step
        if p.inside:
            np.clip(s, 0.0, hi, out=s)
        j = (it - 1) % (_CONVERGENCE_ORDER + 1)
        if j < _CONVERGENCE_ORDER:
            save[j] = s
        elif np.abs(save - s).sum(axis=2).max(axis=1).min() < conv:
            converged = True
            break
    return SnakeRun(s, it, converged)


def open_snake(energy: Any, init: Any, params: SnakeParams | None = None,
               constraints: Iterable = (), *, field: SplineForce | None = None
               ) -> np.ndarray:
    """Deform an open snake on a map (e.g. a class's confidence map) until it converges.

    Parameters
    ----------
    energy : array_like, shape (h, w)
        The map (any real dtype; integers scaled as skimage does). The snake is attracted
        to high values for ``w_line > 0``. May be None when ``field`` is given.
    init : array_like, shape (N, 2)
        Initial (row, col) points in the map's pixels, N >= 4, in order along the boundary.
    params : SnakeParams, optional
        Defaults to ``SnakeParams()``.
    constraints : iterable of (int, (float, float))
        ``(point index, (row, col))``: the snake passes through each such point (the point
        is placed there and held; its neighbours follow through tension and rigidity).
        With ``vertical_only`` keep a dragged point between its neighbours' columns.
    field : SplineForce, optional
        A force built by :func:`prepare_field` for this map and these parameters (saves
        rebuilding it when the same map is used again, e.g. during expert edits).

    Returns
    -------
    ndarray, shape (N, 2), float64
        The snake's (row, col) points.
    """
    return run_snake(energy, init, params, constraints, field=field).points


def snake_from_map(prob: Any, params: SnakeParams | None = None, constraints: Iterable = (),
                   *, n_points: int | None = None, floor: float = 0.0,
                   field: SplineForce | None = None) -> np.ndarray:
    """Thin a confidence map, initialise an open snake on it and let it converge.

    Parameters
    ----------
    prob : array_like, shape (h, w)
        One interface's confidence map (ROI pixels; results are ROI-local).
    params, constraints, field
        As :func:`open_snake`; constraint indices refer to the initial points described
        below, which do not depend on the constraints (so an edit keeps its meaning).
    n_points : int, optional
        Number of snake points, evenly spaced in column from the first to the last column
        with a boundary; default one point per column.
    floor : float
        Columns whose maximum response is below this have no boundary (:func:`thin`);
        gaps between boundary columns are bridged linearly.

    Returns
    -------
    ndarray, shape (N, 2), float64
        (row, col) of the converged snake.
    """
    line = rows_to_polyline(thin(prob, floor))
    if line.shape[0] < 2:
        raise ValueError(f"the map has a boundary in {line.shape[0]} column(s); a snake "
                         "needs at least 2 (lower the floor or check the ROI)")
    c0, c1 = line[0, 1], line[-1, 1]
    cols = (np.arange(c0, c1 + 1) if n_points is None
            else np.linspace(c0, c1, int(n_points)))
    init = resample_by_col(line, cols)
    return open_snake(prob, init, params, constraints, field=field)
