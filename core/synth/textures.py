"""Textures of the synthetic colonoscopy scenes: mucosa, vessels, a defocused wall, bubbles.

Each function draws on a float32 canvas in 0..1 with OpenCV drawing and filtering only
(see :mod:`core.synth.colonoscopy` for how scenes and frames are built from them).
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

CANVAS_FACTOR = 1.35  # the scene canvas is this much larger than the frame


@lru_cache(maxsize=4)
def pixel_grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Read-only (y, x) float32 coordinate grids of ``shape``."""
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    y.setflags(write=False)
    x.setflags(write=False)
    return y, x


def blur_image(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; wide ones run on a downsampled copy (same look, a fraction of the cost)."""
    f = 1 if sigma < 3.0 else (2 if sigma < 6.0 else 4)
    if f == 1:
        return cv2.GaussianBlur(img, (0, 0), sigma)
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / f)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def noise_field(rng: np.random.Generator, shape: tuple[int, int], scales, weights) -> np.ndarray:
    """Zero-mean, unit-variance multi-scale noise: white noise upsampled per scale (px)."""
    out = np.zeros(shape, np.float32)
    for scale, weight in zip(scales, weights, strict=True):
        small = rng.standard_normal(
            (max(2, int(shape[0] / scale) + 2), max(2, int(shape[1] / scale) + 2)),
            dtype=np.float32,
        )
        out += weight * cv2.resize(small, shape[::-1], interpolation=cv2.INTER_CUBIC)
    return out / (out.std() + 1e-6)


def random_walk(rng: np.random.Generator, x: float, y: float, heading: float, steps: int, step: float):
    """A smoothly turning random walk: (steps, 2) int32 points with 2 fractional bits."""
    # Curvature is smoothed noise (not a random walk itself), so vessels bend but rarely loop.
    turn = np.convolve(rng.normal(0.0, 0.2, steps + 7), np.full(8, 1 / 8), mode="valid")
    heading = heading + np.cumsum(turn)
    pts = np.stack([x + np.cumsum(step * np.cos(heading)), y + np.cumsum(step * np.sin(heading))])
    return np.round(pts.T * 4).astype(np.int32), heading


def vessel_map(rng: np.random.Generator, shape: tuple[int, int], sf: float) -> np.ndarray:
    """Vessel density map (R, C) float32 in [0, ~1]: sharp superficial + blurred deep trees."""
    sharp = np.zeros(shape, np.uint8)
    deep = np.zeros(shape, np.uint8)
    n = int(rng.integers(10, 22))  # lengths scale with sf, so counts do not
    step = 5.0 * sf
    for _ in range(n):
        superficial = rng.random() < 0.6
        layer = sharp if superficial else deep
        thick = 1 if superficial else max(1, round(rng.uniform(2, 4) * sf))
        steps = int(rng.integers(30, 90))
        x0, y0 = rng.uniform(0, shape[1]), rng.uniform(0, shape[0])
        pts, heading = random_walk(rng, x0, y0, rng.uniform(0, 2 * np.pi), steps, step)
        cv2.polylines(layer, [pts], False, 255, thick, cv2.LINE_AA, shift=2)
        for _ in range(int(rng.integers(1, 4))):  # thinner branches leave the trunk
            k = int(rng.integers(0, steps))
            side = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.1)
            n_b = int(rng.integers(10, 40))
            bpts, _ = random_walk(rng, pts[k, 0] / 4, pts[k, 1] / 4, heading[k] + side, n_b, step)
            cv2.polylines(layer, [bpts], False, 160, max(1, thick - 1), cv2.LINE_AA, shift=2)
    # A faint capillary mesh everywhere: the fine detail that blur, foam and glare hide.
    for _ in range(int(rng.integers(150, 250))):
        x0, y0 = rng.uniform(0, shape[1]), rng.uniform(0, shape[0])
        pts, _ = random_walk(rng, x0, y0, rng.uniform(0, 2 * np.pi), int(rng.integers(5, 20)), 3 * sf)
        cv2.polylines(sharp, [pts], False, int(rng.integers(60, 140)), 1, cv2.LINE_AA, shift=2)
    deep_f = cv2.GaussianBlur(deep, (0, 0), 1.8 * sf).astype(np.float32) / 255.0
    return sharp.astype(np.float32) / 255.0 + 0.6 * deep_f


def mucosa_texture(rng: np.random.Generator, shape: tuple[int, int], sf: float) -> np.ndarray:
    """Informative colon scene (R, C, 3) float32: lumen, folds, vessels, grain, glints."""
    rows, cols = shape
    low = noise_field(rng, shape, (150 * sf, 75 * sf, 35 * sf), (1.0, 0.5, 0.25))
    hue = noise_field(rng, shape, (110 * sf, 45 * sf), (1.0, 0.4))
    grain = noise_field(rng, shape, (5 * sf, 2.5 * sf), (1.0, 0.6))
    pits = cv2.GaussianBlur(rng.standard_normal(shape, dtype=np.float32), (0, 0), 0.6)
    pits *= 1.0 / (pits.std() + 1e-6)
    # The lumen is far from the light, hence dark; usually in view, sometimes not.
    if rng.random() < 0.8:
        cx = cols / 2 + rng.uniform(-0.3, 0.3) * cols / CANVAS_FACTOR
        cy = rows / 2 + rng.uniform(-0.3, 0.3) * rows / CANVAS_FACTOR
    else:
        a = rng.uniform(0, 2 * np.pi)
        cx, cy = cols / 2 + 0.5 * cols * np.cos(a), rows / 2 + 0.5 * rows * np.sin(a)
    y, x = pixel_grid(shape)
    dist, theta = cv2.cartToPolar(x - np.float32(cx), y - np.float32(cy))
    d = (dist * (1.0 + 0.1 * low) + 1.0) * np.float32(1.0 / (rng.uniform(0.07, 0.14) * cols))
    shade = 1.0 - 0.96 * cv2.exp(-0.7 * d * d)
    # Haustral folds: rings at log-spaced radii, each a lit slope ending in a sharp
    # shadow, broken into arcs by the angle.
    u = cv2.log(d + 1.0) * np.float32(1.0 / rng.uniform(0.45, 0.8)) + np.float32(rng.random())
    u -= np.floor(u)
    _, arcs = cv2.polarToCart(None, int(rng.integers(1, 4)) * theta + 2.0 * low)
    arcs = np.clip(0.5 + 0.9 * arcs, 0.0, 1.0)
    v = 1.0 - u
    shade *= 1.0 - np.float32(rng.uniform(0.4, 0.65)) * arcs * (v * v * v)
    # Mucosal grain and pit pattern.
    lum = shade * (1.0 + 0.10 * low) * (1.0 + 0.08 * grain + 0.04 * pits)
    vessels = vessel_map(rng, shape, sf)
    w = np.clip(0.5 + 0.35 * hue, 0.0, 1.0)  # pink vs orange patches
    pink, orange = (0.88, 0.47, 0.45), (0.84, 0.37, 0.27)
    tint = np.exp(rng.normal(0.0, 0.05, 3))
    dark = (0.45, 0.75, 0.7)  # vessels absorb green and blue most: dark red
    scene = cv2.merge(
        [
            lum
            * np.float32(tint[c])
            * (orange[c] + (pink[c] - orange[c]) * w)
            * (1.0 - dark[c] * vessels)
            for c in range(3)
        ]
    )
    # Specular glints on fold crests, where wet mucosa faces the light, plus a few anywhere.
    crest = np.flatnonzero(((u > 0.85) & (arcs > 0.5) & (shade > 0.5)).ravel())
    n_glint = int(rng.integers(15, 45))
    where = rng.choice(crest, n_glint) if crest.size else rng.integers(0, rows * cols, n_glint)
    where = np.concatenate([where, rng.integers(0, rows * cols, int(rng.integers(3, 10)))])
    glints = np.zeros(shape, np.uint8)
    for i in where:
        r, c = divmod(int(i), cols)
        axes = (max(1, int(rng.uniform(2, 9) * sf)), max(1, int(rng.uniform(1, 3) * sf)))
        deg = math.degrees(float(theta.flat[i])) + 90.0  # along the fold
        cv2.ellipse(glints, (c, r), axes, deg, 0, 360, 255, -1, cv2.LINE_AA)
    g = cv2.GaussianBlur(glints, (0, 0), 0.9 * sf).astype(np.float32)[..., None] / 255.0
    return scene * (1.0 - g) + 4.0 * g  # far brighter than 1: saturates to white


def wall_texture(rng: np.random.Generator, shape: tuple[int, int], sf: float) -> np.ndarray:
    """Camera against the wall: smooth saturated red, faint vessels, broad reflections."""
    low = noise_field(rng, shape, (200 * sf, 100 * sf), (1.0, 0.5))
    tint = np.array([0.88, 0.30, 0.24]) * np.exp(rng.normal(0.0, 0.06, 3))
    vessels = blur_image(vessel_map(rng, shape, sf), 3.0 * sf)
    glow = np.zeros(shape, np.uint8)
    for _ in range(int(rng.integers(1, 4))):
        centre = (int(rng.uniform(0.2, 0.8) * shape[1]), int(rng.uniform(0.2, 0.8) * shape[0]))
        axes = (int(rng.uniform(20, 90) * sf), int(rng.uniform(10, 40) * sf))
        cv2.ellipse(glow, centre, axes, rng.uniform(0, 180), 0, 360, 255, -1)
    g = blur_image(glow.astype(np.float32), 15.0 * sf) * np.float32(rng.uniform(0.2, 0.5) / 255.0)
    lum = (1.0 + 0.15 * low) * (1.0 - 0.3 * vessels)
    scene = cv2.merge([lum * np.float32(tint[c]) + g for c in range(3)])
    return blur_image(scene, rng.uniform(4.0, 8.0) * sf)


def add_bubbles(scene: np.ndarray, rng: np.random.Generator, sf: float, many: bool) -> np.ndarray:
    """Draw foam over ``scene`` (R, C, 3) float32: milky interiors, bright rims, glints."""
    rows, cols = scene.shape[:2]
    inner, rim, dark, spot = (np.zeros((rows, cols), np.uint8) for _ in range(4))
    n = int(rng.integers(50, 110)) if many else int(rng.integers(2, 8))
    if many:
        radii = np.exp(rng.normal(np.log(18 * sf), 0.55, n))
    else:
        radii = rng.uniform(4, 12, n) * sf
    for r in np.maximum(radii, 3.0):
        c = (int(rng.uniform(0, cols)), int(rng.uniform(0, rows)))
        ri = int(r)
        cv2.circle(inner, c, ri, 255, -1, cv2.LINE_AA)
        cv2.circle(dark, c, max(1, ri - 2), 255, max(1, int(0.12 * r)), cv2.LINE_AA)
        cv2.circle(rim, c, ri, 255, max(1, int(0.06 * r)), cv2.LINE_AA)
        s = (int(c[0] - 0.4 * r), int(c[1] - 0.4 * r))
        cv2.circle(spot, s, max(1, int(0.15 * r)), 255, -1, cv2.LINE_AA)
    i, d, r, s = (
        cv2.GaussianBlur(m, (0, 0), k * sf).astype(np.float32) * np.float32(1.0 / 255.0)
        for m, k in ((inner, 1.0), (dark, 1.5), (rim, 1.2), (spot, 1.0))
    )
    # Layers, bottom to top: milky film (40 % white), refraction darkening inside the rim,
    # bright rim, glint; folded into out = scene * a + b * white.
    a = (1.0 - 0.4 * i) * (1.0 - 0.35 * d) * (1.0 - 0.8 * r) * (1.0 - s)
    b = ((0.4 * i * (1.0 - 0.35 * d)) * (1.0 - 0.8 * r) + 1.6 * r) * (1.0 - s) + 4.0 * s
    white = (1.0, 0.97, 0.9)
    return cv2.merge([scene[..., c] * a + b * np.float32(white[c]) for c in range(3)])
