"""Stages of the polyp candidate generator (see :mod:`core.tasks.polyps.candidates`).

``prepare`` -> ``vote_counts`` -> ``find_peaks`` -> ``support_boxes`` -> ``to_full_frame``.
Voting and support are vectorised; ``benchmarks/bench_candidates.py`` replaces exactly
those two stages by per-pixel Python loops and checks the candidates are identical, so
every floating-point expression here is written in the order a loop would evaluate it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:  # only for annotations: candidates imports this module
    from core.tasks.polyps.candidates import CandidateParams

_SIGNS = {"both": (1.0, -1.0), "bright": (1.0,), "dark": (-1.0,)}


@dataclass(frozen=True)
class WorkFrame:
    """A frame at the working scale and its edge pixels.

    Attributes
    ----------
    full_shape, shape : (int, int)
        (rows, cols) of the frame and of the working image.
    sy, sx : float
        Working / full scale on each axis.
    fov : numpy.ndarray
        (h, w) bool, the endoscope's field of view (candidate centres must lie in it).
    rows, cols : numpy.ndarray
        (E,) int64 edge pixels, raster order.
    uy, ux : numpy.ndarray
        (E,) float64 unit gradient (towards the brighter side).
    """

    full_shape: tuple[int, int]
    shape: tuple[int, int]
    sy: float
    sx: float
    fov: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    uy: np.ndarray
    ux: np.ndarray


def _disk(d: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (d, d))


def _channel_max(img: np.ndarray) -> np.ndarray:
    r, g, b = cv2.split(img)
    return cv2.max(cv2.max(r, g), b)


def _channel_min(img: np.ndarray) -> np.ndarray:
    r, g, b = cv2.split(img)
    return cv2.min(cv2.min(r, g), b)


def _as_uint8(img: np.ndarray) -> np.ndarray:
    """8-bit copy of any image: floats in [0, 1] or 0..255, bool, 16-bit and wider ints."""
    if img.dtype == np.uint8:
        return img
    if img.dtype == bool:
        return img.astype(np.uint8) * 255
    if np.issubdtype(img.dtype, np.floating):
        f = np.nan_to_num(img.astype(np.float32))
        if f.size and f.max() <= 1.0:
            f = f * 255.0
        return np.clip(f, 0, 255).astype(np.uint8)
    if img.dtype.itemsize > 1 and img.size and img.max() > 255:  # 16-bit and the like
        return np.clip(img.astype(np.float64) * (255.0 / np.iinfo(img.dtype).max), 0, 255
                       ).astype(np.uint8)
    return np.clip(img, 0, 255).astype(np.uint8)


def field_of_view(img: np.ndarray, level: int) -> np.ndarray:
    """(h, w) bool: convex hull of the largest region brighter than ``level`` (any channel).

    The endoscope's view is convex (a disc or an octagon); the hull also takes in a dark
    lumen at its border, and leaves out text burnt into the black surround.
    """
    bright = (_channel_max(img) >= level).astype(np.uint8)
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    fov = np.zeros(bright.shape, np.uint8)
    if contours:
        big = max(contours, key=cv2.contourArea)
        cv2.fillConvexPoly(fov, cv2.convexHull(big), 1)
    return fov.astype(bool)


def prepare(frame: np.ndarray, p: CandidateParams) -> WorkFrame:
    """Working-scale contrast image, its Canny edges and their gradient directions."""
    img = np.asarray(frame)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] != 3 or min(img.shape[:2]) < 8:
        raise ValueError(f"a frame is (H, W, 3) RGB or (H, W) grey, H, W >= 8; got {img.shape}")
    img = _as_uint8(img)
    full = img.shape[:2]
    s = min(1.0, p.work_size / max(full))
    if s < 1.0:
        size = (max(8, round(full[1] * s)), max(8, round(full[0] * s)))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    h, w = img.shape[:2]
    fov = field_of_view(img, p.fov_level)
    weights = np.asarray(p.channel_weights, np.float32) / np.float32(sum(p.channel_weights))
    grey = cv2.transform(img.astype(np.float32), weights[None, :])
    if fov.any():  # the dark surround would otherwise bleed into the smoothing
        grey[~fov] = cv2.mean(grey, mask=fov.astype(np.uint8))[0]
    if p.clean_size > 1:  # opening removes highlights and bright specks, closing dark pits
        k = _disk(p.clean_size)
        grey = cv2.morphologyEx(cv2.morphologyEx(grey, cv2.MORPH_OPEN, k), cv2.MORPH_CLOSE, k)
    if p.smooth_sigma > 0:
        grey = cv2.GaussianBlur(grey, (0, 0), p.smooth_sigma)
    # Gradients in fixed point (grey x 4, int16) keep the weak boundaries of flat polyps.
    fixed = np.empty(grey.shape, np.int16)
    np.rint(grey * np.float32(4.0), out=fixed, casting="unsafe")
    dx16 = cv2.Sobel(fixed, cv2.CV_16S, 1, 0, ksize=3)
    dy16 = cv2.Sobel(fixed, cv2.CV_16S, 0, 1, ksize=3)
    # Edges count inside the view, fov_margin px (chessboard) from its border and the
    # frame's, and 2 px or more from glare.
    ok = fov.astype(np.uint8)
    m = p.fov_margin
    if m:
        ok = cv2.erode(ok, np.ones((2 * m + 1, 2 * m + 1), np.uint8),
                       borderType=cv2.BORDER_CONSTANT, borderValue=0)
    glare = (_channel_min(img) >= p.highlight_level).astype(np.uint8)
    ok[cv2.dilate(glare, np.ones((5, 5), np.uint8)) > 0] = 0
    sub = (slice(None, None, 2), slice(None, None, 2))  # every other row and column: plenty
    mag = cv2.magnitude(dx16[sub].astype(np.float32), dy16[sub].astype(np.float32))[ok[sub] > 0]
    hi = 4.0 * p.min_gradient
    if mag.size:  # the upper threshold: the canny_quantile of the magnitudes (nearest rank)
        k = int(p.canny_quantile * (mag.size - 1))
        hi = max(hi, float(np.partition(mag, k)[k]))
    edges = cv2.Canny(dx16, dy16, p.canny_low * hi, hi, L2gradient=True)
    pts = cv2.findNonZero(cv2.bitwise_and(edges, ok * np.uint8(255)))  # raster order
    pts = np.zeros((0, 2), np.int32) if pts is None else pts.reshape(-1, 2)
    rows, cols = pts[:, 1], pts[:, 0]
    gxe = dx16[rows, cols].astype(np.float64)
    gye = dy16[rows, cols].astype(np.float64)
    norm = np.sqrt(gxe * gxe + gye * gye)
    keep = norm > 0
    rows, cols, gxe, gye, norm = rows[keep], cols[keep], gxe[keep], gye[keep], norm[keep]
    return WorkFrame(full, (h, w), h / full[0], w / full[1], fov,
                     rows.astype(np.int64), cols.astype(np.int64), gye / norm, gxe / norm)


def band_radii(p: CandidateParams) -> tuple[np.ndarray, np.ndarray]:
    """(n_radii,) float64 geometric radii in [r_min, r_max] and (n_radii,) int64 band ids."""
    k = np.arange(p.n_radii, dtype=np.float64)
    radii = p.r_min * (p.r_max / p.r_min) ** (k / (p.n_radii - 1))
    return radii, np.arange(p.n_radii, dtype=np.int64) // p.radii_per_band


@dataclass(frozen=True)
class Band:
    """One vote map: its radii, grid cell, grid shape, blur and score normalisation."""

    radii: np.ndarray
    mid: float
    cell: int
    grid: tuple[int, int]
    sigma: float  # in cells
    norm: float  # blurred count -> share of a full circle's boundary


def bands(shape: tuple[int, int], p: CandidateParams, radii: np.ndarray, band: np.ndarray
          ) -> list[Band]:
    """The vote maps of a working image of ``shape`` (rows, cols), smallest radii first."""
    out = []
    for b in range(int(band.max()) + 1):
        rb = radii[band == b]
        mid = math.sqrt(rb[0] * rb[-1])
        cell = max(1, int(mid * p.cell_fraction))
        sigma = p.vote_blur * mid / cell
        # Gaussian-weighted vote sum = blurred * 2 pi sigma^2; a full circle gives 2 pi r
        # votes per radius of the band that lands on its centre.
        norm = sigma * sigma / (mid * len(rb))
        out.append(Band(rb, mid, cell, (-(-shape[0] // cell), -(-shape[1] // cell)), sigma, norm))
    return out


def vote_steps(p: CandidateParams, b: Band) -> np.ndarray:
    """Signed voting distances of one band: for each sign, each radius (loop order)."""
    return np.concatenate([s * b.radii for s in _SIGNS[p.polarity]])


def vote_counts(work: WorkFrame, p: CandidateParams, radii: np.ndarray, band: np.ndarray
                ) -> list[np.ndarray]:
    """Per band, (rows, cols) int64 vote counts: every edge votes at every signed radius.

    Positions are taken in a grid padded by ``m`` cells on every side (``m`` cells reach
    past the band's largest radius), so every vote lands on it: the vote of edge (r, c)
    at signed distance ``step`` goes to padded cell
    ``floor(((r + (0.5 + m * cell)) + step * uy) / cell)`` (likewise for columns), and
    counts when that is within the unpadded grid (``m`` .. ``m`` + grid - 1).
    """
    out = []
    for b in bands(work.shape, p, radii, band):
        steps, m = vote_steps(p, b), pad_cells(b)
        ys = steps[:, None] * work.uy[None, :]
        ys += work.rows + (0.5 + m * b.cell)
        xs = steps[:, None] * work.ux[None, :]
        xs += work.cols + (0.5 + m * b.cell)
        if b.cell > 1:  # dividing by 1 would change nothing
            ys /= b.cell
            xs /= b.cell
        hp, wp = b.grid[0] + 2 * m, b.grid[1] + 2 * m
        flat = ys.astype(np.int64)  # all positive: truncation is floor
        flat *= wp
        flat += xs.astype(np.int64)
        counts = np.bincount(flat.ravel(), minlength=hp * wp).reshape(hp, wp)
        out.append(np.ascontiguousarray(counts[m : m + b.grid[0], m : m + b.grid[1]]))
    return out


def pad_cells(b: Band) -> int:
    """Cells of padding around a band's grid that every vote's position stays within."""
    return int(math.ceil((float(b.radii[-1]) + 1.0) / b.cell)) + 1


def find_peaks(work: WorkFrame, counts: list[np.ndarray], p: CandidateParams,
               radii: np.ndarray, band: np.ndarray) -> dict[str, np.ndarray]:
    """Local maxima of the scores, greedy NMS across bands, the strongest kept.

    Returns a dict of (K,) arrays: ``y``, ``x`` (working pixel coordinates), ``band``,
    ``radius`` (the band's mid radius) and ``score`` (float64), strongest first.
    """
    ys, xs, bs, ss = [], [], [], []
    h, w = work.shape
    for i, (b, c) in enumerate(zip(bands(work.shape, p, radii, band), counts, strict=True)):
        score = cv2.GaussianBlur(c.astype(np.float32), (0, 0), b.sigma) * np.float32(b.norm)
        peak = (score >= cv2.dilate(score, np.ones((3, 3), np.uint8))) & (score >= p.threshold)
        peak &= score > 0
        pts = cv2.findNonZero(peak.view(np.uint8))  # raster order, as np.nonzero
        pts = np.zeros((0, 2), np.int32) if pts is None else pts.reshape(-1, 2)
        iy, ix = pts[:, 1].astype(np.int64), pts[:, 0].astype(np.int64)
        y = iy * b.cell + (b.cell - 1) / 2.0
        x = ix * b.cell + (b.cell - 1) / 2.0
        on = work.fov[np.minimum(np.rint(y).astype(np.intp), h - 1),
                      np.minimum(np.rint(x).astype(np.intp), w - 1)]
        ys.append(y[on])
        xs.append(x[on])
        bs.append(np.full(int(on.sum()), i, np.int64))
        ss.append(score[iy[on], ix[on]].astype(np.float64))
    y, x, bid, sc = (np.concatenate(a) for a in (ys, xs, bs, ss))
    mids = np.array([b.mid for b in bands(work.shape, p, radii, band)])
    order = np.lexsort((x, y, bid, -sc))
    y, x, bid, sc = y[order], x[order], bid[order], sc[order]
    rad = mids[bid]
    # Greedy NMS in score order: the next survivor is kept and suppresses every later
    # peak within nms_factor x the smaller of the two radii.
    alive = np.ones(len(y), bool)
    kept: list[int] = []
    start = 0
    while len(kept) < p.max_per_frame:
        rest = np.flatnonzero(alive[start:])
        if not rest.size:
            break
        i = start + int(rest[0])
        kept.append(i)
        start = i + 1
        reach = p.nms_factor * np.minimum(rad[start:], rad[i])
        alive[start:] &= (y[start:] - y[i]) ** 2 + (x[start:] - x[i]) ** 2 >= reach * reach
    k = np.asarray(kept, np.int64)
    return {"y": y[k], "x": x[k], "band": bid[k], "radius": rad[k], "score": sc[k]}


def support_window(work: WorkFrame, cy: float, hi: float) -> tuple[int, int]:
    """Index range of the edges (raster order) whose row is within ``hi`` of ``cy``."""
    lo_i = int(np.searchsorted(work.rows, math.floor(cy - hi), side="left"))
    hi_i = int(np.searchsorted(work.rows, math.ceil(cy + hi), side="right"))
    return lo_i, hi_i


def _quantile_sorted(a: np.ndarray, q: float) -> float:
    """Linear-interpolation quantile of an ascending array (numpy's default method)."""
    pos = q * (len(a) - 1)
    i = int(pos)
    j = min(i + 1, len(a) - 1)
    return float(a[i]) + (float(a[j]) - float(a[i])) * (pos - i)


def box_from_support(sup_r, sup_c, cy: float, cx: float, b: Band, p: CandidateParams
                     ) -> tuple[float, float, float, float]:
    """(row0, col0, row1, col1) continuous working coordinates of one candidate's box.

    ``sup_r``, ``sup_c``: (n,) int rows and columns of the supporting edges, rows
    ascending (raster order).
    """
    if len(sup_r) >= 3:
        q = p.box_quantile
        sc = np.sort(sup_c)
        r0, r1 = _quantile_sorted(sup_r, q), _quantile_sorted(sup_r, 1.0 - q) + 1.0
        c0, c1 = _quantile_sorted(sc, q), _quantile_sorted(sc, 1.0 - q) + 1.0
    else:
        r0, c0, r1, c1 = cy + 0.5 - b.mid, cx + 0.5 - b.mid, cy + 0.5 + b.mid, cx + 0.5 + b.mid
    # the box always holds the centre and a core of half the band's smallest radius
    core = 0.5 * float(b.radii[0])
    return (min(r0, cy + 0.5 - core), min(c0, cx + 0.5 - core),
            max(r1, cy + 0.5 + core), max(c1, cx + 0.5 + core))


def support_limits(p: CandidateParams, b: Band) -> tuple[float, float, float]:
    """Squared radial limits of a band's supporting edges and the cosine of the angle."""
    lo = float(b.radii[0]) * (1.0 - p.support_tolerance)
    hi = float(b.radii[-1]) * (1.0 + p.support_tolerance)
    return lo * lo, hi * hi, math.cos(math.radians(p.support_angle))


def support_boxes(work: WorkFrame, peaks: dict[str, np.ndarray], p: CandidateParams,
                  radii: np.ndarray, band: np.ndarray) -> np.ndarray:
    """(K, 4) float64 boxes from the spread of each candidate's supporting edges."""
    bl = bands(work.shape, p, radii, band)
    out = np.zeros((len(peaks["y"]), 4))
    for k, (cy, cx, bi) in enumerate(zip(peaks["y"], peaks["x"], peaks["band"], strict=True)):
        b = bl[int(bi)]
        lo2, hi2, cos_t = support_limits(p, b)
        i0, i1 = support_window(work, float(cy), math.sqrt(hi2))
        rows, cols = work.rows[i0:i1], work.cols[i0:i1]
        dy, dx = cy - rows, cx - cols  # from the edge to the centre
        d2 = dy * dy + dx * dx
        dot = dy * work.uy[i0:i1] + dx * work.ux[i0:i1]
        if p.polarity == "dark":
            dot = -dot
        elif p.polarity == "both":
            dot = np.abs(dot)
        sel = (d2 >= lo2) & (d2 <= hi2) & (dot >= cos_t * np.sqrt(d2))
        out[k] = box_from_support(rows[sel], cols[sel], float(cy), float(cx), b, p)
    return out


def to_full_frame(work: WorkFrame, peaks: dict[str, np.ndarray], boxes: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Centres (K, 2) float and boxes (K, 4) int64 in full-frame pixel coordinates."""
    centers = np.stack([(peaks["y"] + 0.5) / work.sy - 0.5,
                        (peaks["x"] + 0.5) / work.sx - 0.5], axis=1).reshape(-1, 2)
    h, w = work.full_shape
    r0 = np.clip(np.floor(boxes[:, 0] / work.sy), 0, h - 1)
    c0 = np.clip(np.floor(boxes[:, 1] / work.sx), 0, w - 1)
    r1 = np.clip(np.ceil(boxes[:, 2] / work.sy), r0 + 1, h)
    c1 = np.clip(np.ceil(boxes[:, 3] / work.sx), c0 + 1, w)
    return centers, np.stack([r0, c0, r1, c1], axis=1).astype(np.int64).reshape(-1, 4)
