"""Synthetic carotid B-mode ultrasound with known lumen-intima (LI) and media-adventitia (MA).

A longitudinal view of the common carotid artery as a linear probe shows it: tissue, the
bright near wall, the dark lumen, then the far wall's *double line* -- a thin bright
intima line whose leading edge is the LI interface, a dark (hypoechoic) media, and the
bright adventitia whose leading edge is the MA interface (Pignoli et al., Circulation
1986). The intima-media thickness (IMT) is the distance LI -> MA, here drawn between 0.5
and 1.2 mm as in adults.

Image formation (Wagner et al., IEEE TSU 1983; Burckhardt 1978): a reflectivity map
``R`` (rows x cols, depth down) scatters a complex circular Gaussian field whose
amplitude is ``sqrt(R)``; the field is blurred by the probe's point-spread function
(narrow axially, wide laterally: speckle cells are elongated sideways) and its envelope
-- Rayleigh-distributed over homogeneous tissue -- is log-compressed to 8 bits, as a
scanner's display does. Edges are partial-volumed at sub-pixel precision, so the
interfaces lie exactly on the analytic curves ``li(col)`` and ``ma(col)`` (pixel centres
at integer rows: a pixel spans ``row +- 0.5``).

Variation per study (all drawn from the seed): vessel depth, slope (up to ``max_slope``
rows per column), a gentle bend, the wall thickness at both ends of the view (between
``thickness_mm``), near-wall and adventitia echogenicity, and with probability
``shadow_probability`` an acoustic shadow (a calcification on the near wall, which
darkens everything below it over a band of columns). Frames of one study pulsate (the
wall moves a pixel or so) and their speckle decorrelates partly.

The image sits inside a display frame (a dark header and margins, depth ticks every 5 mm
on the right: what a two-click calibration clicks on); the B-mode area is the one 2-D
ultrasound region :mod:`core.synth.carotid_dicom` writes into the DICOM header.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

__all__ = ["CarotidParams", "SynthCarotid", "synth_carotid"]


@dataclass(frozen=True)
class CarotidParams:
    """Size and variability of a synthetic carotid study.

    ``height`` x ``width``: the whole display frame (pixels); the B-mode area lies inside
    it, ``header`` rows below the top, ``margin`` columns from the left and a wider
    right margin (``scale_margin``) holding the depth scale. ``spacing_mm``: mm per
    pixel in both directions. ``n_rois``: ROIs placed on each ROI frame (1..3),
    ``roi_width`` columns each; ``roi_frames``: how many frames get ROIs and tracings.
    """

    height: int = 300
    width: int = 400
    n_frames: int = 2
    spacing_mm: float = 0.06
    header: int = 20
    margin: int = 8
    scale_margin: int = 24
    thickness_mm: tuple[float, float] = (0.5, 1.2)
    max_slope: float = 0.06
    shadow_probability: float = 0.5
    n_rois: int = 2
    roi_width: int = 64
    roi_margin: int = 14
    roi_frames: int = 1
    trace_step: int = 6
    dynamic_range_db: float = 42.0

    def __post_init__(self) -> None:
        if self.height < 160 or self.width < 160:
            raise ValueError(f"the frame must be at least 160 x 160, got {self.height} x "
                             f"{self.width}")
        if not (self.spacing_mm > 0 and np.isfinite(self.spacing_mm)):
            raise ValueError(f"spacing_mm must be > 0, got {self.spacing_mm}")
        lo, hi = self.thickness_mm
        if not 0 < lo <= hi:
            raise ValueError(f"thickness_mm must be (low, high) with 0 < low <= high, got "
                             f"{self.thickness_mm}")
        if not 1 <= self.n_rois <= 3:
            raise ValueError(f"n_rois must be 1, 2 or 3, got {self.n_rois}")
        if not 1 <= self.roi_frames <= self.n_frames:
            raise ValueError(f"roi_frames must be between 1 and n_frames ({self.n_frames}), "
                             f"got {self.roi_frames}")
        if self.trace_step < 1 or self.roi_width < 8:
            raise ValueError("trace_step must be >= 1 and roi_width >= 8")

    @property
    def region(self) -> tuple[int, int, int, int]:
        """The B-mode area as DICOM gives a region: (x0, y0, x1, y1), inclusive."""
        return (self.margin, self.header, self.width - self.scale_margin - 1,
                self.height - self.margin - 1)


@dataclass
class SynthCarotid:
    """A synthetic study and its ground truth (full-frame pixel coordinates).

    Attributes
    ----------
    frames : (F, H, W) uint8
        The grey frames.
    li, ma : (F, W) float64
        Row of the LI / MA interface at every column (NaN outside the B-mode area).
    tracings : dict
        ``{frame: {"LI": (N, 2), "MA": (N, 2)}}`` the expert's polylines (row, col),
        ordered by column, one point every ``trace_step`` columns over the traced span.
    rois : list of (frame, (row0, col0, row1, col1))
        The expert's ROIs (inclusive-exclusive, as :class:`core.store.geometry.Box`).
    spacing_mm : (dy, dx)
    region : (x0, y0, x1, y1) the B-mode area (inclusive, DICOM's convention)
    shadow : (col0, col1) or None
        The acoustic shadow's columns.
    seed : int
    """

    frames: np.ndarray
    li: np.ndarray
    ma: np.ndarray
    tracings: dict[int, dict[str, np.ndarray]]
    rois: list[tuple[int, tuple[int, int, int, int]]]
    spacing_mm: tuple[float, float]
    region: tuple[int, int, int, int]
    shadow: tuple[int, int] | None
    seed: int
    params: CarotidParams = field(default_factory=CarotidParams)

    def imt_mm(self, frame: int, cols: np.ndarray | None = None) -> float:
        """The true mean IMT (mm) of ``frame`` over ``cols`` (default: the traced span)."""
        if cols is None:
            tr = self.tracings.get(frame)
            c = tr["LI"][:, 1] if tr else np.flatnonzero(np.isfinite(self.li[frame]))
            cols = np.arange(int(c.min()), int(c.max()) + 1)
        cols = np.asarray(cols, np.int64)
        return float(np.mean(self.ma[frame, cols] - self.li[frame, cols]) * self.spacing_mm[0])


def _smooth_step(x: np.ndarray) -> np.ndarray:
    """Area of the pixel (row +- 0.5) below an edge at distance ``x`` above its centre."""
    return np.clip(x + 0.5, 0.0, 1.0)


def _curves(rng: np.random.Generator, p: CarotidParams, n_cols: int, depth_rows: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(near-wall lumen edge, LI, MA) rows of the B-mode area's columns."""
    c = np.arange(n_cols, dtype=np.float64)
    mid = (n_cols - 1) / 2.0
    slope = rng.uniform(-p.max_slope, p.max_slope)
    bend = rng.uniform(0.5, 2.5) / p.spacing_mm * 0.06  # rows of a gentle bend
    phase = rng.uniform(0, 2 * np.pi)
    li = (rng.uniform(0.58, 0.68) * depth_rows + slope * (c - mid)
          + bend * np.sin(2 * np.pi * c / (1.6 * n_cols) + phase))
    t0, t1 = rng.uniform(*p.thickness_mm, size=2)
    wobble = 0.08 * np.sin(2 * np.pi * c / rng.uniform(0.4, 0.9) / n_cols + phase)
    t_mm = np.clip(t0 + (t1 - t0) * c / max(n_cols - 1, 1) + wobble * (t1 + t0) / 2,
                   p.thickness_mm[0], p.thickness_mm[1])
    ma = li + t_mm / p.spacing_mm
    lumen_rows = rng.uniform(5.5, 7.0) / p.spacing_mm
    near = li - lumen_rows + rng.uniform(-0.3, 0.3) / p.spacing_mm * np.sin(
        2 * np.pi * c / n_cols + phase)
    return near, li, ma


def _reflectivity(rows: np.ndarray, near: np.ndarray, li: np.ndarray, ma: np.ndarray,
                  looks: dict, shadow: tuple[int, int] | None, p: CarotidParams
                  ) -> np.ndarray:
    """The reflectivity map (h, w) float32 of the B-mode area for one frame."""
    r = rows[:, None]
    px = 1.0 / p.spacing_mm  # pixels per mm
    # partial-volume indicators: fraction of each pixel below each edge
    below_near = _smooth_step(r - near[None, :])
    below_li = _smooth_step(r - li[None, :])
    below_ma = _smooth_step(r - ma[None, :])
    intima_end = li + looks["intima_px"]
    below_intima = _smooth_step(r - intima_end[None, :])
    tissue = looks["tissue"] * (1.0 + 0.6 * looks["layers"])
    R = tissue * (1.0 - below_near)
    # near wall: bright adventitia fading into the lumen edge
    wall = looks["near"] * np.exp(-np.clip(near[None, :] - r, 0, None) / (0.6 * px))
    R = R + (1.0 - below_near) * wall * (r > near[None, :] - 1.2 * px)
    lumen = looks["lumen"] * (below_near - below_li)
    intima = looks["intima"] * (below_li - below_intima)
    media = looks["media"] * (below_intima - below_ma).clip(0, None)
    depth_below_ma = np.clip(r - ma[None, :], 0, None)
    adventitia = below_ma * (tissue + (looks["adventitia"] - tissue)
                             * np.exp(-depth_below_ma / (looks["adv_mm"] * px)))
    R = R + lumen + intima + media + adventitia
    # attenuation with depth, half compensated by the scanner's time-gain control
    R = R * np.exp(-0.5 * looks["atten"] * r / R.shape[0])
    if shadow is not None:
        c = np.arange(R.shape[1])
        a, b = shadow
        soft = np.clip(np.minimum(c - a, b - c) / 6.0, 0, 1)  # soft-edged band of columns
        start = near - 0.8 * px  # the calcification sits in the near wall
        fall = _smooth_step((r - start[None, :]) / 3.0)
        R = R * (1.0 - looks["shadow_depth"] * soft[None, :] * fall)
    return R.astype(np.float32)


def _speckle(R: np.ndarray, g: np.ndarray, p: CarotidParams) -> np.ndarray:
    """Envelope image (h, w) uint8: the complex field sqrt(R) * g blurred by the PSF,
    log-compressed over ``dynamic_range_db``."""
    amp = np.sqrt(np.maximum(R, 1e-6))
    re = cv2.GaussianBlur(amp * g[0], (0, 0), sigmaX=1.6, sigmaY=0.8)
    im = cv2.GaussianBlur(amp * g[1], (0, 0), sigmaX=1.6, sigmaY=0.8)
    env = np.sqrt(re * re + im * im)
    ref = np.percentile(env, 99.9)
    db = 20.0 * np.log10(np.maximum(env / max(ref, 1e-9), 1e-6))
    img = (db + p.dynamic_range_db) / p.dynamic_range_db
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _display(frame: np.ndarray, p: CarotidParams) -> np.ndarray:
    """The display frame: B-mode area placed on black, a depth scale with a tick every
    5 mm (every 10 mm longer) on the right, a thin header bar."""
    out = np.zeros((p.height, p.width), np.uint8)
    x0, y0, x1, y1 = p.region
    out[y0:y1 + 1, x0:x1 + 1] = frame
    out[2:p.header - 6, p.margin:p.margin + 60] = 40  # a header bar (patient / preset area)
    tick_col = x1 + 6
    mm = 0.0
    while True:
        row = y0 + int(round(mm / p.spacing_mm))
        if row > y1:
            break
        length = 8 if int(round(mm)) % 10 == 0 else 5
        out[row, tick_col:tick_col + length] = 230
        mm += 5.0
    return out


def _trace(curve: np.ndarray, cols: np.ndarray, x0: int, y0: int) -> np.ndarray:
    """(N, 2) (row, col) full-frame points of ``curve`` (area coordinates) at ``cols``."""
    return np.column_stack([curve[cols] + y0, cols.astype(np.float64) + x0])


def _rois(rng: np.random.Generator, p: CarotidParams, li: np.ndarray, ma: np.ndarray,
          span: tuple[int, int], x0: int, y0: int, y_max: int
          ) -> list[tuple[int, int, int, int]]:
    """Up to ``n_rois`` non-overlapping boxes over the far wall within the traced span."""
    a, b = span
    n = max(1, min(p.n_rois, (b - a) // p.roi_width))
    slot = (b - a) // n  # one ROI per slot, somewhere inside it
    out = []
    for k in range(n):
        c0 = a + k * slot + int(rng.integers(0, max(1, slot - p.roi_width) + 1))
        c0 = min(c0, b - p.roi_width)
        cols = np.arange(c0, c0 + p.roi_width)
        r0 = int(np.floor(li[cols].min())) - p.roi_margin
        r1 = int(np.ceil(ma[cols].max())) + p.roi_margin + 1
        out.append((max(r0 + y0, y0), c0 + x0, min(r1 + y0, y_max + 1), c0 + p.roi_width + x0))
    return out


def synth_carotid(seed: int, params: CarotidParams | None = None) -> SynthCarotid:
    """A synthetic carotid study; the same ``seed`` and ``params`` give the same pixels.

    Returns
    -------
    SynthCarotid
        Frames, the analytic LI / MA rows per column, the expert's tracings and ROIs on
        the first ``roi_frames`` frames, the spacing and the B-mode region.
    """
    p = params or CarotidParams()
    rng = np.random.default_rng([int(seed), 0xCA207])
    x0, y0, x1, y1 = p.region
    h, w = y1 - y0 + 1, x1 - x0 + 1
    near, li, ma = _curves(rng, p, w, h)
    rows = np.arange(h, dtype=np.float64)
    looks = {
        "tissue": rng.uniform(0.04, 0.07), "near": rng.uniform(0.8, 1.4),
        "lumen": rng.uniform(0.0001, 0.0004), "intima": rng.uniform(0.55, 0.9),
        "intima_px": rng.uniform(0.18, 0.28) / p.spacing_mm,
        "media": rng.uniform(0.006, 0.015), "adventitia": rng.uniform(0.9, 1.5),
        "adv_mm": rng.uniform(0.5, 0.9), "atten": rng.uniform(0.5, 1.2),
        "shadow_depth": rng.uniform(0.8, 0.95),
    }
    layers = cv2.resize(rng.standard_normal((h // 6 + 2, w // 40 + 2)).astype(np.float32),
                        (w, h), interpolation=cv2.INTER_CUBIC)
    looks["layers"] = np.clip(layers, -1.5, 1.5) / 1.5
    shadow = None
    if rng.random() < p.shadow_probability:
        sw = int(rng.integers(18, 36))
        a = int(rng.integers(w // 8, w - w // 8 - sw))
        shadow = (a, a + sw)
    g0 = rng.standard_normal((2, h, w)).astype(np.float32) / np.sqrt(2.0)
    frames = np.zeros((p.n_frames, p.height, p.width), np.uint8)
    li_all = np.full((p.n_frames, p.width), np.nan)
    ma_all = np.full((p.n_frames, p.width), np.nan)
    pulse = rng.uniform(0.5, 1.5)  # rows the wall moves over a cardiac cycle
    phase = rng.uniform(0, 2 * np.pi)
    rho = 0.7  # speckle correlation between frames
    for f in range(p.n_frames):
        shift = pulse * np.sin(phase + 2 * np.pi * f / max(p.n_frames, 2))
        g = g0 if f == 0 else (np.sqrt(rho) * g0 + np.sqrt(1 - rho)
                               * rng.standard_normal((2, h, w)).astype(np.float32)
                               / np.sqrt(2.0))
        R = _reflectivity(rows, near + 0.6 * shift, li + shift, ma + shift, looks, shadow, p)
        frames[f] = _display(_speckle(R, g, p), p)
        li_all[f, x0:x1 + 1] = li + shift + y0
        ma_all[f, x0:x1 + 1] = ma + shift + y0
    # the expert traces a span away from the area's edges, on the ROI frames
    a, b = int(0.08 * w), int(0.92 * w)
    cols = np.arange(a, b + 1, p.trace_step)
    if cols[-1] != b:
        cols = np.r_[cols, b]
    tracings, rois = {}, []
    for f in range(p.roi_frames):
        li_f, ma_f = li_all[f, x0:x1 + 1] - y0, ma_all[f, x0:x1 + 1] - y0
        tracings[f] = {"LI": _trace(li_f, cols, x0, y0), "MA": _trace(ma_f, cols, x0, y0)}
        rois += [(f, box) for box in _rois(rng, p, li_f, ma_f, (a, b), x0, y0, y1)]
    dy = float(p.spacing_mm)
    return SynthCarotid(frames, li_all, ma_all, tracings, rois, (dy, dy), p.region, shadow,
                        int(seed), p)
