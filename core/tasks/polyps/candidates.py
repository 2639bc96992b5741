"""Polyp candidate generator: gradient-direction voting for convex blob boundaries.

The generator looks for closed, roughly elliptical boundaries, the cue of shape-based
polyp detectors (Tajbakhsh, Gurudu & Liang, "Automated polyp detection in colonoscopy
videos using shape and context information", IEEE TMI 35(2), 2016; Bernal et al.'s
valley accumulation, "WM-DOVA maps", CMIG 43, 2015); here in its classic Hough form
(Ballard 1981; Loy & Zelinsky's radial symmetry transform, PAMI 2003):

1. Work at a fixed scale (longest side ``work_size``); a contrast image (weighted RGB)
   with specular highlights and small pits removed by a grey opening and closing, then
   Gaussian smoothing; the endoscope's dark surround and burnt-in text are masked out.
2. Canny edges (thresholds at quantiles of the gradient magnitude inside the view), less
   those near the view's border (``fov_margin``) or around glare (``highlight_level``).
3. Every edge pixel votes along its gradient direction (towards the brighter side, the
   darker side, or both) at each of ``n_radii`` geometric radii in [r_min, r_max]. Radii
   are grouped in bands; each band has its own vote map, on a grid of cells about a tenth
   of the band's radius (``cell_fraction``).
4. Each band's votes are smoothed by a Gaussian of ``vote_blur`` x its radius and turned
   into a score: the share of a full circle's boundary that supports the point.
5. Local maxima above ``threshold`` are candidates; greedy non-maximum suppression across
   bands drops a weaker one whose centre lies within ``nms_factor`` x the smaller of the
   two radii of a stronger one (so a small blob beside a large arc survives); at most
   ``max_per_frame`` are kept.
6. The box of a candidate is the spread (quantiles) of the edge pixels that support it:
   at a distance within its band (``support_tolerance``), gradient pointing at the centre
   within ``support_angle`` degrees. Boxes and centres are mapped back to the full frame.

Stages 3 and 6 are vectorised (``np.bincount``); ``benchmarks/bench_candidates.py`` checks
them against per-pixel Python loops (identical candidates).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from core.events import Progress
from core.tasks.polyps.candidates_vote import (
    WorkFrame,
    band_radii,
    find_peaks,
    prepare,
    support_boxes,
    to_full_frame,
    vote_counts,
)

GENERATOR = "polyp-vote"
VERSION = "1"
POLARITIES = ("both", "bright", "dark")
_INF = math.inf
# Valid ranges: name -> (low, high, low open, high open).
_RANGES = {
    "work_size": (32, 4096, False, False), "clean_size": (0, 255, False, False),
    "smooth_sigma": (0, 50, False, False), "canny_quantile": (0, 1, True, True),
    "canny_low": (0, 1, True, False), "min_gradient": (0, _INF, False, True),
    "fov_level": (0, 255, False, False), "fov_margin": (0, 255, False, False),
    "highlight_level": (1, 256, False, False), "r_min": (1, _INF, False, True),
    "r_max": (1, _INF, False, True), "n_radii": (2, 256, False, False),
    "radii_per_band": (1, 256, False, False), "cell_fraction": (0, 0.5, True, False),
    "vote_blur": (0, 1, True, False), "threshold": (0, _INF, False, True),
    "nms_factor": (0, _INF, False, True), "max_per_frame": (1, 100_000, False, False),
    "support_tolerance": (0, 1, False, True), "support_angle": (0, 90, True, False),
    "box_quantile": (0, 0.5, False, True),
}
_INTS = {"work_size", "clean_size", "fov_level", "fov_margin", "highlight_level", "n_radii",
         "radii_per_band", "max_per_frame"}


@dataclass(frozen=True)
class CandidateParams:
    """Every parameter of the candidate generator (lengths in pixels at the working scale).

    Attributes
    ----------
    work_size : int
        Frames are resized so that their longest side is this long (never enlarged).
    channel_weights : (float, float, float)
        R, G, B weights of the contrast image.
    clean_size : int
        Diameter of the grey opening + closing that removes highlights and pits (0: none).
    smooth_sigma : float
        Gaussian smoothing before the edges.
    canny_quantile : float
        Upper Canny threshold: this quantile of the gradient magnitude inside the view.
    canny_low : float
        Lower Canny threshold as a fraction of the upper one.
    min_gradient : float
        Floor of the upper threshold (Sobel units), so flat frames give no edges.
    fov_level : int
        Pixels whose brightest channel is below this are outside the endoscope's view.
    fov_margin : int
        Edges this close to the border of the view (or of the frame) are dropped.
    highlight_level : int
        Edges within 2 px of pixels this bright on the contrast image are dropped (glare).
    r_min, r_max : float
        Radius range of the polyps sought.
    n_radii : int
        Geometric radii in [r_min, r_max] where each edge pixel votes.
    radii_per_band : int
        Consecutive radii sharing one vote map.
    polarity : str
        ``"bright"`` (votes towards the brighter side), ``"dark"`` or ``"both"``.
    cell_fraction : float
        Vote cell side as a fraction of the band's radius (at least 1 px).
    vote_blur : float
        Gaussian sigma of a band's vote map as a fraction of its radius.
    threshold : float
        Minimum score (share of a full circle's boundary supporting the point).
    nms_factor : float
        A weaker candidate within this many radii (the smaller of the two) of a stronger
        one's centre is dropped.
    max_per_frame : int
        Most candidates per frame (the strongest are kept).
    support_tolerance : float
        Supporting edges lie within [lo (1 - t), hi (1 + t)] of the centre for a band of
        radii [lo, hi].
    support_angle : float
        Supporting edges' gradients point at the centre within this many degrees.
    box_quantile : float
        The box spans this quantile to 1 - this quantile of the supporting edges.
    """

    work_size: int = 384
    channel_weights: tuple[float, float, float] = (0.35, 0.55, 0.10)
    clean_size: int = 5
    smooth_sigma: float = 2.0
    canny_quantile: float = 0.85
    canny_low: float = 0.5
    min_gradient: float = 8.0
    fov_level: int = 25
    fov_margin: int = 8
    highlight_level: int = 235
    r_min: float = 8.0
    r_max: float = 120.0
    n_radii: int = 20
    radii_per_band: int = 4
    polarity: str = "both"
    cell_fraction: float = 0.1
    vote_blur: float = 0.2
    threshold: float = 0.1
    nms_factor: float = 1.0
    max_per_frame: int = 30
    support_tolerance: float = 0.25
    support_angle: float = 30.0
    box_quantile: float = 0.05

    def __post_init__(self) -> None:
        def need(ok: bool, what: str) -> None:
            if not ok:
                raise ValueError(f"CandidateParams: {what}")

        for name, (lo, hi, lo_open, hi_open) in _RANGES.items():
            v = getattr(self, name)
            if name in _INTS:
                need(isinstance(v, (int, np.integer)) and not isinstance(v, bool),
                     f"{name} must be an integer, got {v!r}")
            ok = isinstance(v, (int, float, np.integer, np.floating)) and math.isfinite(v)
            ok = ok and (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
            need(ok, f"{name} must be in {'(' if lo_open else '['}{lo:g}, {hi:g}"
                     f"{')' if hi_open else ']'}, got {v!r}")
        w = self.channel_weights
        need(len(w) == 3 and all(math.isfinite(v) and v >= 0 for v in w) and sum(w) > 0,
             f"channel_weights must be 3 non-negative weights, not all 0, got {w}")
        need(self.r_min < self.r_max, f"need r_min < r_max, got {self.r_min}, {self.r_max}")
        need(self.radii_per_band <= self.n_radii,
             f"radii_per_band must be <= n_radii, got {self.radii_per_band} > {self.n_radii}")
        need(self.polarity in POLARITIES,
             f"polarity must be one of {POLARITIES}, got {self.polarity!r}")

    def to_dict(self) -> dict:
        """Plain JSON-able dict (stored with the candidates, with GENERATOR and VERSION)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> CandidateParams:
        """Inverse of :meth:`to_dict`; unknown keys are an error (a typo is not ignored)."""
        names = set(cls.__dataclass_fields__)
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown CandidateParams fields {sorted(unknown)}; "
                             f"valid: {sorted(names)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


@dataclass(frozen=True)
class Detection:
    """One candidate, in full-frame pixel coordinates.

    Attributes
    ----------
    center : (float, float)
        (row, col) of the vote maximum.
    box : (int, int, int, int)
        (row0, col0, row1, col1), inclusive-exclusive, inside the frame.
    strength : float
        Vote score: the share of a full circle's boundary that supports the centre.
    """

    center: tuple[float, float]
    box: tuple[int, int, int, int]
    strength: float


def _detections(work: WorkFrame, peaks: dict, boxes: np.ndarray) -> list[Detection]:
    centers, full_boxes = to_full_frame(work, peaks, boxes)
    return [Detection((float(c[0]), float(c[1])), tuple(int(v) for v in b), float(s))
            for c, b, s in zip(centers, full_boxes, peaks["score"], strict=True)]


def detect(frame_rgb: np.ndarray, params: CandidateParams | None = None) -> list[Detection]:
    """Polyp candidates of one frame, strongest first.

    Parameters
    ----------
    frame_rgb : numpy.ndarray
        (H, W, 3) uint8 RGB frame (any size: it is processed at ``params.work_size``), or
        (H, W) grey.
    params : CandidateParams, optional
        Defaults to ``CandidateParams()``.

    Returns
    -------
    list of Detection
        At most ``params.max_per_frame``, by decreasing strength.
    """
    params = CandidateParams() if params is None else params
    work = prepare(frame_rgb, params)
    radii, band = band_radii(params)
    counts = vote_counts(work, params, radii, band)
    peaks = find_peaks(work, counts, params, radii, band)
    boxes = support_boxes(work, peaks, params, radii, band)
    return _detections(work, peaks, boxes)


def generate(read_frame: Callable[[int], np.ndarray], frames: Sequence[int],
             params: CandidateParams | None = None
             ) -> Generator[Progress, None, dict[int, list[Detection]]]:
    """Run :func:`detect` over frames, one :class:`Progress` per frame (cancel between).

    Parameters
    ----------
    read_frame : callable
        Frame index -> (H, W, 3) uint8 RGB (e.g. ``FrameSource.read``).
    frames : sequence of int
        Frame indices, processed in this order.
    params : CandidateParams, optional

    Yields
    ------
    Progress
        Stage ``"candidates"``, frames done out of ``len(frames)``.

    Returns
    -------
    dict of int to list of Detection
        Per frame index (every requested frame, possibly with an empty list).
    """
    params = CandidateParams() if params is None else params
    frames = [int(f) for f in frames]
    out: dict[int, list[Detection]] = {}
    yield Progress("candidates", 0, len(frames), f"{GENERATOR} v{VERSION}")
    for i, f in enumerate(frames):
        out[f] = detect(read_frame(f), params)
        yield Progress("candidates", i + 1, len(frames), f"frame {f}: {len(out[f])} candidates")
    return out
