"""Synthetic colonoscopy-like videos for the frame-quality demo (SPEC §1.6).

Informative frames show a colon lumen through an endoscope: pinkish-red mucosa with
multi-scale texture and thin vessels, specular glints, a dark lumen ringed by folds and
the black circular mask of endoscope optics. Non-informative frames show one of four
artefacts: ``motion_blur`` (the same kind of scene smeared along a line),
``wall_contact`` (a smooth, defocused reddish wall), ``bubbles`` (foam of bright-rimmed
circles over a defocused scene) and ``overexposure`` (large blown-out white areas).

Every frame's mean colour inside the endoscope mask is set to a target drawn from one
distribution shared by both classes (a global gain and tint, like auto-exposure and white
balance), so mean RGB alone separates the classes poorly; the information is in texture.

Informative frames may still carry a few stray bubbles or a slight shake, as real ones do.
A scene is drawn once on a canvas larger than the frame; a frame is a view of it through
a slowly moving camera at time ``t`` (seconds), so frames of one segment are similar.
Rendering uses OpenCV drawing and filtering only: make_video writes about 45 frames/s at
500x350 on one core.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from core.events import Progress

FRAME_SIZE = (350, 500)  # (rows, cols): the frame size of the task (500x350 in the paper)
ARTEFACTS = ("motion_blur", "wall_contact", "bubbles", "overexposure")
_CANVAS_FACTOR = 1.35  # the scene canvas is this much larger than the frame
_BASE_MEAN = np.array([160.0, 86.0, 74.0], np.float32)  # in-mask mean RGB at unit gain


@dataclass(frozen=True)
class SynthVideo:
    """A synthetic video on disk and its per-frame ground truth.

    Attributes
    ----------
    path : str
        The file written (``.mp4``, or ``.avi`` when the mp4v codec is unavailable).
    labels : numpy.ndarray
        (n_frames,) int8; 1 = informative, 0 = non-informative.
    artefacts : tuple of str
        Per frame: ``"none"`` for informative frames, else one of :data:`ARTEFACTS`.
    """

    path: str
    labels: np.ndarray
    artefacts: tuple[str, ...]


@dataclass(frozen=True)
class _Scene:
    """Everything random about one segment; a frame is ``_view(scene, t, rng, size)``."""

    canvas: np.ndarray  # (R, C, 3) float32, 0..1 (glints may exceed 1)
    offset: np.ndarray  # (2,) camera centre from the canvas centre, (x, y) pixels
    velocity: np.ndarray  # (2,) pixels / s
    angle: float  # degrees
    omega: float  # degrees / s
    zoom: float
    zoom_rate: float  # 1 / s
    target_mean: np.ndarray  # (3,) in-mask mean RGB, 0..255
    blur_len: float  # motion-blur kernel length in pixels (0: none)
    blur_angle: float  # degrees
    glare: tuple[tuple[float, float, float, float, float], ...]  # (x, y, ax, ay, deg) px
    glare_velocity: np.ndarray  # (2,) pixels / s
    noise: np.ndarray  # (rows + 16, cols + 16, 3) float32 sensor noise, grey levels


def _check_size(size: tuple[int, int]) -> None:
    if len(size) != 2 or min(size) < 32:
        raise ValueError(f"size must be (rows, cols) with both >= 32, got {size!r}")


def _check(informative: bool, artefact: str, size: tuple[int, int]) -> None:
    _check_size(size)
    if informative and artefact != "none":
        raise ValueError(f"an informative frame has artefact 'none', got {artefact!r}")
    if not informative and artefact not in ARTEFACTS:
        raise ValueError(
            f"a non-informative frame needs an artefact in {ARTEFACTS}, got {artefact!r}"
        )


@lru_cache(maxsize=8)
def _optics(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Endoscope mask and light falloff for a frame size.

    Returns
    -------
    mask : (rows, cols) float32 in [0, 1]; 0 in the black corners, soft edge.
    light : (rows, cols) float32; 1 at the centre, dimmer towards the rim.
    """
    rows, cols = size
    radius = min(0.49 * cols, 0.70 * rows)  # cuts top and bottom, leaves black corners
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    d = np.hypot(x - (cols - 1) / 2, y - (rows - 1) / 2) / radius
    mask = np.clip((1.0 - d) * radius / 1.5, 0.0, 1.0).astype(np.float32)
    light = (1.0 - 0.35 * np.minimum(d, 1.0) ** 2).astype(np.float32)
    mask.setflags(write=False)
    light.setflags(write=False)
    return mask, light


@lru_cache(maxsize=4)
def _grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Read-only (y, x) float32 coordinate grids of ``shape``."""
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    y.setflags(write=False)
    x.setflags(write=False)
    return y, x


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; wide ones run on a downsampled copy (same look, a fraction of the cost)."""
    f = 1 if sigma < 3.0 else (2 if sigma < 6.0 else 4)
    if f == 1:
        return cv2.GaussianBlur(img, (0, 0), sigma)
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / f)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _noise(rng: np.random.Generator, shape: tuple[int, int], scales, weights) -> np.ndarray:
    """Zero-mean, unit-variance multi-scale noise: white noise upsampled per scale (px)."""
    out = np.zeros(shape, np.float32)
    for scale, weight in zip(scales, weights, strict=True):
        small = rng.standard_normal(
            (max(2, int(shape[0] / scale) + 2), max(2, int(shape[1] / scale) + 2)),
            dtype=np.float32,
        )
        out += weight * cv2.resize(small, shape[::-1], interpolation=cv2.INTER_CUBIC)
    return out / (out.std() + 1e-6)


def _walk(rng: np.random.Generator, x: float, y: float, heading: float, steps: int, step: float):
    """A smoothly turning random walk: (steps, 2) int32 points with 2 fractional bits."""
    # Curvature is smoothed noise (not a random walk itself), so vessels bend but rarely loop.
    turn = np.convolve(rng.normal(0.0, 0.2, steps + 7), np.full(8, 1 / 8), mode="valid")
    heading = heading + np.cumsum(turn)
    pts = np.stack([x + np.cumsum(step * np.cos(heading)), y + np.cumsum(step * np.sin(heading))])
    return np.round(pts.T * 4).astype(np.int32), heading


def _vessels(rng: np.random.Generator, shape: tuple[int, int], sf: float) -> np.ndarray:
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
        pts, heading = _walk(rng, x0, y0, rng.uniform(0, 2 * np.pi), steps, step)
        cv2.polylines(layer, [pts], False, 255, thick, cv2.LINE_AA, shift=2)
        for _ in range(int(rng.integers(1, 4))):  # thinner branches leave the trunk
            k = int(rng.integers(0, steps))
            side = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.1)
            n_b = int(rng.integers(10, 40))
            bpts, _ = _walk(rng, pts[k, 0] / 4, pts[k, 1] / 4, heading[k] + side, n_b, step)
            cv2.polylines(layer, [bpts], False, 160, max(1, thick - 1), cv2.LINE_AA, shift=2)
    # A faint capillary mesh everywhere: the fine detail that blur, foam and glare hide.
    for _ in range(int(rng.integers(150, 250))):
        x0, y0 = rng.uniform(0, shape[1]), rng.uniform(0, shape[0])
        pts, _ = _walk(rng, x0, y0, rng.uniform(0, 2 * np.pi), int(rng.integers(5, 20)), 3 * sf)
        cv2.polylines(sharp, [pts], False, int(rng.integers(60, 140)), 1, cv2.LINE_AA, shift=2)
    deep_f = cv2.GaussianBlur(deep, (0, 0), 1.8 * sf).astype(np.float32) / 255.0
    return sharp.astype(np.float32) / 255.0 + 0.6 * deep_f


def _mucosa(rng: np.random.Generator, shape: tuple[int, int], sf: float) -> np.ndarray:
    """Informative colon scene (R, C, 3) float32: lumen, folds, vessels, grain, glints."""
    rows, cols = shape
    low = _noise(rng, shape, (150 * sf, 75 * sf, 35 * sf), (1.0, 0.5, 0.25))
    hue = _noise(rng, shape, (110 * sf, 45 * sf), (1.0, 0.4))
    grain = _noise(rng, shape, (5 * sf, 2.5 * sf), (1.0, 0.6))
    pits = cv2.GaussianBlur(rng.standard_normal(shape, dtype=np.float32), (0, 0), 0.6)
    pits *= 1.0 / (pits.std() + 1e-6)
    # The lumen is far from the light, hence dark; usually in view, sometimes not.
    if rng.random() < 0.8:
        cx = cols / 2 + rng.uniform(-0.3, 0.3) * cols / _CANVAS_FACTOR
        cy = rows / 2 + rng.uniform(-0.3, 0.3) * rows / _CANVAS_FACTOR
    else:
        a = rng.uniform(0, 2 * np.pi)
        cx, cy = cols / 2 + 0.5 * cols * np.cos(a), rows / 2 + 0.5 * rows * np.sin(a)
    y, x = _grid(shape)
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
    vessels = _vessels(rng, shape, sf)
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


def _wall(rng: np.random.Generator, shape: tuple[int, int], sf: float) -> np.ndarray:
    """Camera against the wall: smooth saturated red, faint vessels, broad reflections."""
    low = _noise(rng, shape, (200 * sf, 100 * sf), (1.0, 0.5))
    tint = np.array([0.88, 0.30, 0.24]) * np.exp(rng.normal(0.0, 0.06, 3))
    vessels = _blur(_vessels(rng, shape, sf), 3.0 * sf)
    glow = np.zeros(shape, np.uint8)
    for _ in range(int(rng.integers(1, 4))):
        centre = (int(rng.uniform(0.2, 0.8) * shape[1]), int(rng.uniform(0.2, 0.8) * shape[0]))
        axes = (int(rng.uniform(20, 90) * sf), int(rng.uniform(10, 40) * sf))
        cv2.ellipse(glow, centre, axes, rng.uniform(0, 180), 0, 360, 255, -1)
    g = _blur(glow.astype(np.float32), 15.0 * sf) * np.float32(rng.uniform(0.2, 0.5) / 255.0)
    lum = (1.0 + 0.15 * low) * (1.0 - 0.3 * vessels)
    scene = cv2.merge([lum * np.float32(tint[c]) + g for c in range(3)])
    return _blur(scene, rng.uniform(4.0, 8.0) * sf)


def _bubbles(scene: np.ndarray, rng: np.random.Generator, sf: float, many: bool) -> np.ndarray:
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


def _build_scene(
    informative: bool, artefact: str, rng: np.random.Generator, size: tuple[int, int]
) -> _Scene:
    rows, cols = size
    sf = cols / FRAME_SIZE[1]  # sizes below are tuned for 500 columns and scale with it
    shape = (math.ceil(rows * _CANVAS_FACTOR), math.ceil(cols * _CANVAS_FACTOR))
    if artefact == "wall_contact":
        canvas = _wall(rng, shape, sf)
    else:
        canvas = _mucosa(rng, shape, sf)
    if artefact == "bubbles":
        canvas = _bubbles(_blur(canvas, rng.uniform(3.0, 6.0) * sf), rng, sf, many=True)
    elif informative and rng.random() < 0.3:
        canvas = _bubbles(canvas, rng, sf, many=False)  # a few stray bubbles are fine
    if artefact == "overexposure":
        # Too close to the wall: defocused and washed out, then blown out by the light.
        canvas = _blur(canvas, rng.uniform(1.5, 3.0) * sf)
        canvas = 0.6 * canvas + 0.4 * canvas.mean(axis=(0, 1))
    blur_len = 0.0
    if artefact == "motion_blur":
        blur_len = rng.uniform(25.0, 60.0) * sf
    elif informative and rng.random() < 0.2:
        blur_len = rng.uniform(2.0, 5.0) * sf  # slight shake still leaves detail
    # Gain and white balance drawn the same way for both classes: mean colour is no cue.
    target = np.clip(_BASE_MEAN * rng.uniform(0.6, 1.35) * np.exp(rng.normal(0, 0.08, 3)), 15, 235)
    glare = []
    if artefact == "overexposure":
        for _ in range(int(rng.integers(1, 4))):
            x, y = rng.uniform(0.25, 0.75) * cols, rng.uniform(0.25, 0.75) * rows
            ax, ay = rng.uniform(0.15, 0.35) * cols, rng.uniform(0.12, 0.3) * rows
            glare.append([x, y, ax, ay, rng.uniform(0, 180)])
        # Keep the white area's share of the mean below the target, so that the rest of
        # the frame is not crushed to black when the mean is set.
        area = sum(np.pi * g[2] * g[3] for g in glare) / float(_optics(size)[0].sum())
        shrink = min(1.0, math.sqrt(0.6 * target.min() / 255.0 / area))
        for g in glare:
            g[2] *= shrink
            g[3] *= shrink
    speed = rng.uniform(10.0, 60.0) * sf
    heading = rng.uniform(0, 2 * np.pi)
    return _Scene(
        canvas=canvas.astype(np.float32, copy=False),
        offset=rng.uniform(-0.06, 0.06, 2) * np.array([cols, rows]),
        velocity=speed * np.array([np.cos(heading), np.sin(heading)]),
        angle=float(rng.uniform(-15.0, 15.0)),
        omega=float(rng.uniform(-8.0, 8.0)),
        zoom=float(rng.uniform(1.0, 1.1)),
        zoom_rate=float(rng.uniform(-0.05, 0.1)),
        target_mean=target.astype(np.float32),
        blur_len=float(blur_len),
        blur_angle=float(rng.uniform(0.0, 180.0)),
        glare=tuple(tuple(g) for g in glare),
        glare_velocity=rng.normal(0.0, 15.0 * sf, 2),
        noise=rng.standard_normal((rows + 16, cols + 16, 3), dtype=np.float32)
        * np.float32(rng.uniform(0.8, 2.0)),
    )


def _line_kernel(length: float, angle: float) -> np.ndarray:
    """Normalised (k, k) float32 kernel of a line of ``length`` px at ``angle`` degrees."""
    k = max(3, int(math.ceil(length)) | 1)
    kernel = np.zeros((k, k), np.uint8)
    c = (k - 1) / 2
    dx = 0.5 * length * math.cos(math.radians(angle))
    dy = 0.5 * length * math.sin(math.radians(angle))
    p0 = (round((c - dx) * 16), round((c - dy) * 16))
    p1 = (round((c + dx) * 16), round((c + dy) * 16))
    cv2.line(kernel, p0, p1, 255, 1, cv2.LINE_AA, shift=4)
    kf = kernel.astype(np.float32)
    return kf / kf.sum()


def _view(scene: _Scene, t: float, rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Frame (rows, cols, 3) uint8 RGB seen by the camera at ``t`` seconds."""
    rows, cols = size
    mask, light = _optics(size)
    ch, cw = scene.canvas.shape[:2]
    centre = np.array([(cw - 1) / 2, (ch - 1) / 2]) + scene.offset + scene.velocity * t
    zoom = max(0.5, scene.zoom * (1.0 + scene.zoom_rate * t))
    angle = scene.angle + scene.omega * t
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, zoom)
    m[:, 2] += np.array([(cols - 1) / 2, (rows - 1) / 2]) - centre
    # Past the canvas (long t, strong rotation) the scene is mirrored rather than cut.
    img = cv2.warpAffine(
        scene.canvas, m, (cols, rows), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )
    if scene.blur_len > 0:
        kernel = _line_kernel(scene.blur_len, scene.blur_angle + 10.0 * t)
        img = cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REFLECT_101)
    img *= light[..., None]  # the light travels with the camera: applied after the blur
    alpha = None
    if scene.glare:
        f = 4  # the glare is smooth: draw and blur it at quarter resolution
        blobs = np.zeros((rows // f + 1, cols // f + 1), np.uint8)
        shift = scene.glare_velocity * t
        for x, y, ax, ay, deg in scene.glare:
            c = (int((x + shift[0]) / f), int((y + shift[1]) / f))
            cv2.ellipse(blobs, c, (int(ax / f), int(ay / f)), deg, 0, 360, 255, -1)
        soft = cv2.GaussianBlur(blobs, (0, 0), 0.06 * cols / f)
        soft = cv2.resize(soft, (cols, rows), interpolation=cv2.INTER_LINEAR)
        alpha = np.clip(soft.astype(np.float32) * np.float32(1.6 / 255.0), 0.0, 1.0)
    img = _expose(img, alpha, mask, scene.target_mean)
    dy, dx = (int(v) for v in rng.integers(0, 16, 2))
    img += scene.noise[dy : dy + rows, dx : dx + cols]
    img *= mask[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def _expose(
    img: np.ndarray, alpha: np.ndarray | None, mask: np.ndarray, target: np.ndarray
) -> np.ndarray:
    """Scale ``img`` (0..1) and blend white by ``alpha`` so the in-mask mean is ``target``.

    Returns (rows, cols, 3) float32 in 0..255. Where the glare alone would exceed the
    target the gain is clamped, so such frames stay somewhat brighter.
    """
    inside = (mask > 0.5).astype(np.uint8)
    if alpha is None:
        base, white, glare_mean = img, None, 0.0
    else:
        base = img * (1.0 - alpha)[..., None]
        white = (alpha * 255.0)[..., None]
        glare_mean = cv2.mean(alpha, mask=inside)[0] * 255.0

    def apply(gain: np.ndarray) -> np.ndarray:
        out = base * gain.astype(np.float32)
        if white is not None:
            out += white
        return np.minimum(out, 255.0, out=out)

    base_mean = np.array(cv2.mean(base, mask=inside)[:3]) + 1e-6
    gain = np.clip((target - glare_mean) / base_mean, 0.15, 2000.0)
    # Clipping at 255 (glints, rims) takes some of the mean away: a second pass makes up
    # most of it.
    got = np.array(cv2.mean(apply(gain), mask=inside)[:3])
    return apply(gain * np.clip((target - glare_mean) / np.maximum(got - glare_mean, 1e-3), 1, 2))


def render_frame(
    informative: bool,
    artefact: str,
    rng: np.random.Generator,
    *,
    t: float = 0.0,
    size: tuple[int, int] = FRAME_SIZE,
) -> np.ndarray:
    """Render one synthetic endoscopy frame.

    Parameters
    ----------
    informative : bool
        True for a clear, textured view of the mucosa.
    artefact : str
        ``"none"`` for informative frames, else one of :data:`ARTEFACTS`.
    rng : numpy.random.Generator
        Source of all randomness. Two generators in the same state with different ``t``
        give the same scene seen by a camera that has moved for ``t`` seconds.
    t : float
        Time in seconds since the start of the segment.
    size : (int, int)
        Frame (rows, cols).

    Returns
    -------
    numpy.ndarray
        (rows, cols, 3) uint8 RGB.
    """
    _check(informative, artefact, size)
    size = (int(size[0]), int(size[1]))
    return _view(_build_scene(informative, artefact, rng, size), float(t), rng, size)


def _open_writer(path: Path, fps: float, size: tuple[int, int]) -> tuple[cv2.VideoWriter, Path]:
    """Open an mp4v writer, or an MJPG ``.avi`` one where mp4v is unavailable."""
    frame_wh = (size[1], size[0])
    if path.suffix.lower() != ".avi":
        mp4 = path.with_suffix(".mp4")
        writer = cv2.VideoWriter(str(mp4), cv2.VideoWriter_fourcc(*"mp4v"), fps, frame_wh)
        if writer.isOpened():
            return writer, mp4
        writer.release()
        mp4.unlink(missing_ok=True)
    avi = path.with_suffix(".avi")
    writer = cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*"MJPG"), fps, frame_wh)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write video with mp4v or MJPG to {avi}")
    return writer, avi


def make_video(
    path: str | Path,
    n_frames: int,
    rng: np.random.Generator,
    *,
    fps: float = 25.0,
    informative_fraction: float = 0.5,
    segment: tuple[int, int] = (4, 12),
    size: tuple[int, int] = FRAME_SIZE,
) -> Generator[Progress, None, SynthVideo]:
    """Write a synthetic colonoscopy video made of informative / non-informative runs.

    Each run (segment) has a length drawn uniformly from ``segment`` (inclusive), one
    class (informative with probability ``informative_fraction``, nudged towards the class
    that is behind), one artefact (uniform over :data:`ARTEFACTS` for non-informative
    runs) and one scene seen by a slowly moving camera, so adjacent frames are similar,
    as in a real video.

    Parameters
    ----------
    path : str or Path
        Output file; written as mp4v ``.mp4`` (suffix replaced), or MJPG ``.avi`` when
        ``path`` ends in ``.avi`` or mp4v is unavailable.
    n_frames : int
        Number of frames, >= 1.
    rng : numpy.random.Generator
        Source of all randomness.
    fps : float
        Frames per second (sets camera motion per frame and the file's rate).
    informative_fraction : float
        Target fraction, in [0, 1], of informative frames.
    segment : (int, int)
        Minimum and maximum run length in frames.
    size : (int, int)
        Frame (rows, cols).

    Yields
    ------
    Progress
        Stage ``"synth"``, ``done`` frames out of ``n_frames``.

    Returns
    -------
    SynthVideo
        The path actually written and per-frame labels and artefacts. On error or when
        the generator is closed early, the partial file is removed.
    """
    lo, hi = segment
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    if not 0.0 <= informative_fraction <= 1.0:
        raise ValueError(f"informative_fraction must be in [0, 1], got {informative_fraction}")
    if not 1 <= lo <= hi:
        raise ValueError(f"segment must be (min, max) with 1 <= min <= max, got {segment!r}")
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    _check_size(size)
    size = (int(size[0]), int(size[1]))
    writer, out = _open_writer(Path(path), fps, size)
    labels = np.zeros(n_frames, np.int8)
    artefacts: list[str] = []
    try:
        yield Progress("synth", 0, n_frames, "rendering synthetic video")
        while len(artefacts) < n_frames:
            length = min(int(rng.integers(lo, hi + 1)), n_frames - len(artefacts))
            # Lean towards the class that is behind, so the fraction of informative
            # frames stays near informative_fraction even in short videos.
            behind = informative_fraction * len(artefacts) - int(labels.sum())
            informative = bool(rng.random() < np.clip(informative_fraction + behind / hi, 0, 1))
            artefact = "none" if informative else str(rng.choice(ARTEFACTS))
            scene = _build_scene(informative, artefact, rng, size)
            for k in range(length):
                frame = _view(scene, k / fps, rng, size)
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
                labels[len(artefacts)] = int(informative)
                artefacts.append(artefact)
                yield Progress("synth", len(artefacts), n_frames, artefact)
    except BaseException:
        writer.release()
        out.unlink(missing_ok=True)
        raise
    writer.release()
    return SynthVideo(path=str(out), labels=labels, artefacts=tuple(artefacts))
