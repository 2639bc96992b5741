"""Synthetic colonoscopy video with polyps and their masks (the polyp demo, SPEC §1.4).

A scene is the colon texture of :func:`core.synth.textures.mucosa_texture` (lumen, haustral
folds, vessels, specular glints) with 0-2 polyps painted on lit mucosa: a perturbed ellipse
of varied size and aspect, dome-shaded by a light near the camera (bright top, darker
flanks, a cast shadow on one side, a dark line where its base meets the wall), tinted
paler, redder or nearly like the mucosa, with its own pit texture and 0-2 specular
highlights. About a third of the polyps are partly hidden behind a fold in front of them.
A frame is a view of the scene through a moving camera (pan, zoom, roll) and the
endoscope optics, with exposure locked for the scene, so polyps drift across frames and
may leave the view; the mask of a frame is the visible polyp area (occluded parts and
pixels outside the optics excluded) warped by the same camera:
``mask = warped visible alpha >= 0.5``.

Polyps draw their randomness from a generator of their own, so the same seed without
polyps (``count_probs=(1, 0, 0)``) renders the same frames pixel for pixel away from them.

Folds, the dark lumen and glare are polyp-like to a shape detector on purpose: a candidate
generator fires on them too (false positives that a classifier must learn away).
Rendering uses OpenCV only: a 150-frame 384x288 video takes about a second.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from core.events import Progress
from core.synth.colonoscopy import _open_writer, _optics
from core.synth.textures import CANVAS_FACTOR, mucosa_texture, noise_field

POLYP_FRAME_SIZE = (288, 384)  # (rows, cols)
_BASE_MEAN = np.array([160.0, 86.0, 74.0], np.float32)  # in-optics mean RGB at unit gain
# Polyp tints relative to the mucosa under them: pale (adenoma), red (inflamed), similar.
_TINTS = ((1.10, 1.22, 1.25), (1.04, 0.80, 0.80), (1.0, 1.0, 1.0))


@dataclass(frozen=True)
class PolypVideoSpec:
    """Knobs of the synthetic polyp video (defaults: the demo project's video).

    Attributes
    ----------
    fps : float
        Frames per second (camera motion per frame).
    segment : (int, int)
        Minimum and maximum frames per scene (one scene = one camera run).
    count_probs : (float, float, float)
        Probabilities of 0, 1 and 2 polyps in a scene.
    radius : (float, float)
        Polyp radius range in pixels at 384 columns (scaled with the frame width).
    occlusion : float
        Probability that a fold in front hides part of a polyp.
    speed : (float, float)
        Camera pan speed range, pixels / s at 384 columns.
    """

    fps: float = 25.0
    segment: tuple[int, int] = (30, 60)
    count_probs: tuple[float, float, float] = (0.15, 0.6, 0.25)
    radius: tuple[float, float] = (12.0, 50.0)
    occlusion: float = 0.3
    speed: tuple[float, float] = (15.0, 50.0)

    def __post_init__(self) -> None:
        if self.fps <= 0:
            raise ValueError(f"fps must be > 0, got {self.fps}")
        if not 1 <= self.segment[0] <= self.segment[1]:
            raise ValueError(f"segment must be (min, max) with 1 <= min <= max, got {self.segment}")
        p = np.asarray(self.count_probs, float)
        if p.shape != (3,) or (p < 0).any() or not math.isclose(p.sum(), 1.0, abs_tol=1e-6):
            raise ValueError("count_probs must be 3 probabilities summing to 1, "
                             f"got {self.count_probs}")
        if not 3.0 <= self.radius[0] <= self.radius[1]:
            raise ValueError(f"radius must be (min, max) with 3 <= min <= max, got {self.radius}")
        if not 0.0 <= self.occlusion <= 1.0:
            raise ValueError(f"occlusion must be in [0, 1], got {self.occlusion}")
        if not 0.0 <= self.speed[0] <= self.speed[1]:
            raise ValueError(f"speed must be (min, max) with 0 <= min <= max, got {self.speed}")


@dataclass(frozen=True)
class SynthPolypVideo:
    """A written polyp video: ``path`` (``.mp4``, or ``.avi``) and ``masks`` (F, H, W) bool."""

    path: str
    masks: np.ndarray


@dataclass(frozen=True)
class _Scene:
    canvas: np.ndarray  # (R, C, 3) float32, 0..1 (glints exceed 1)
    alpha: np.ndarray  # (R, C) float32 visible polyp alpha
    centre: np.ndarray  # (2,) camera centre at t = 0, canvas (x, y)
    velocity: np.ndarray  # (2,) px / s
    angle: float
    omega: float
    zoom: float
    zoom_rate: float
    gain: np.ndarray  # (3,) exposure and white balance, locked for the scene
    noise: np.ndarray  # (rows + 16, cols + 16, 3) float32 sensor noise


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    if len(size) != 2 or min(size) < 64:
        raise ValueError(f"size must be (rows, cols) with both >= 64, got {size!r}")
    return int(size[0]), int(size[1])


def _outline(rng: np.random.Generator, cx: float, cy: float, radius: float) -> np.ndarray:
    """(64, 2) float polygon (x, y): an ellipse with low-order radial bumps."""
    theta = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    r = np.ones_like(theta)
    for k in (2, 3, 4):
        r += rng.uniform(0.0, 0.09 / (k - 1)) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    aspect, rot = rng.uniform(0.65, 1.0), rng.uniform(0, np.pi)
    x, y = radius * r * np.cos(theta), radius * aspect * r * np.sin(theta)
    c, s = math.cos(rot), math.sin(rot)
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], axis=1)


def _fill(shape: tuple[int, int], poly: np.ndarray) -> np.ndarray:
    """Anti-aliased filled polygon as float32 alpha in 0..1."""
    img = np.zeros(shape, np.uint8)
    cv2.fillPoly(img, [np.round(poly * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    return img.astype(np.float32) * np.float32(1 / 255)


def _paint_polyp(canvas: np.ndarray, plain: np.ndarray, rng: np.random.Generator, cx: float,
                 cy: float, radius: float, sf: float, occlude: bool
                 ) -> tuple[np.ndarray, np.ndarray | None]:
    """Paint one polyp on ``canvas`` in place (``plain``: polyp-free mucosa for a fold).

    Returns its visible alpha (R, C) float32 and the alpha of the fold drawn in front
    (None without occlusion), which may hide other polyps too.
    """
    shape = canvas.shape[:2]
    alpha = _fill(shape, _outline(rng, cx, cy, radius))
    inside = (alpha >= 0.5).astype(np.uint8)
    # Dome height from the distance to the rim; Lambert shading with a light near the camera.
    dist = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
    h = np.sqrt(dist / max(float(dist.max()), 1.0)) * np.float32(rng.uniform(0.5, 0.9) * radius)
    h = cv2.GaussianBlur(h, (0, 0), 0.6 + 0.03 * radius)
    gy, gx = np.gradient(h)
    light = rng.normal(0.0, 0.4, 2)
    lam = (1.0 - light[0] * gx - light[1] * gy) / np.sqrt(1.0 + light @ light)
    lam = np.clip(lam / np.sqrt(1.0 + gx * gx + gy * gy), 0.0, 1.0)
    contrast = rng.uniform(0.6, 1.0)  # how much the dome shading shows
    shade = 1.0 + contrast * (0.55 * (lam - 0.85) + 0.25 * h / max(float(h.max()), 1.0))
    tint = np.asarray(_TINTS[int(rng.integers(0, len(_TINTS)))]) * np.exp(rng.normal(0, 0.04, 3))
    tint = 1.0 + (tint - 1.0) * rng.uniform(0.4, 1.0)
    pits = noise_field(rng, shape, (4.0 * sf, 2.0 * sf), (1.0, 0.5))
    smooth = cv2.GaussianBlur(canvas, (0, 0), 1.2 * sf)
    polyp = smooth * (shade * (1.0 + 0.07 * pits))[..., None] * tint.astype(np.float32)
    # A specular highlight near the top, towards the light.
    spot = np.zeros(shape, np.uint8)
    top = np.unravel_index(int(np.argmax(h)), shape)
    for _ in range(int(rng.integers(0, 3))):
        c = (int(top[1] + light[0] * 0.3 * radius + rng.normal(0, 0.15 * radius)),
             int(top[0] + light[1] * 0.3 * radius + rng.normal(0, 0.15 * radius)))
        axes = (max(1, int(rng.uniform(0.05, 0.15) * radius)),
                max(1, int(rng.uniform(0.03, 0.08) * radius)))
        cv2.ellipse(spot, c, axes, rng.uniform(0, 180), 0, 360, 255, -1, cv2.LINE_AA)
    g = cv2.GaussianBlur(spot, (0, 0), 0.8 * sf).astype(np.float32) * np.float32(1 / 255)
    polyp = polyp * (1.0 - g)[..., None] + 4.0 * g[..., None]
    # The cast shadow falls on the mucosa away from the light.
    d = -light / max(float(np.hypot(*light)), 0.3) * 0.12 * radius
    m = np.float32([[1, 0, d[0]], [0, 1, d[1]]])
    cast = cv2.GaussianBlur(cv2.warpAffine(alpha, m, shape[::-1]), (0, 0), 0.08 * radius + 1.0)
    canvas *= (1.0 - 0.45 * contrast * cast * (1.0 - alpha))[..., None]
    a = cv2.GaussianBlur(alpha, (0, 0), 0.6)[..., None]
    canvas[:] = canvas * (1.0 - a) + polyp * a
    # The dark line where the polyp's base meets the wall.
    ab = cv2.GaussianBlur(alpha, (0, 0), 0.6 + 0.04 * radius)
    canvas *= (1.0 - rng.uniform(0.2, 0.45) * 4.0 * ab * (1.0 - ab))[..., None]
    if not occlude:
        return alpha, None
    # A fold in front: a thick arc of mucosa (lit crest, dark lower edge) across the polyp.
    heading = rng.uniform(0, 2 * np.pi)
    off = rng.uniform(0.45, 0.8) * radius
    big = rng.uniform(2.0, 4.0) * radius
    fc = (cx + (off + big) * math.cos(heading), cy + (off + big) * math.sin(heading))
    band = np.zeros(shape, np.uint8)
    axes = (int(big), int(rng.uniform(2.0, 3.5) * big))  # a long ridge across the polyp
    cv2.ellipse(band, (int(fc[0]), int(fc[1])), axes, math.degrees(heading), 0, 360, 255, -1,
                cv2.LINE_AA)
    fold = band.astype(np.float32) * np.float32(1 / 255)
    # Lit crest at the fold's edge, darker further in; a soft shadow on what it hides.
    depth = cv2.distanceTransform((band >= 128).astype(np.uint8), cv2.DIST_L2, 3)
    crest = 0.75 + 0.45 * np.exp(-depth / np.float32(0.25 * radius + 1.0))
    rim = cv2.GaussianBlur(fold, (0, 0), 0.08 * radius + 1.0) * (1.0 - fold)
    canvas *= (1.0 - 0.5 * rim)[..., None]
    canvas[:] = canvas * (1.0 - fold)[..., None] + (plain * crest[..., None]) * fold[..., None]
    return alpha * (1.0 - fold), fold


def _build_scene(rng: np.random.Generator, size: tuple[int, int], spec: PolypVideoSpec) -> _Scene:
    """One scene. Polyps draw from a child generator of their own and the exposure is set
    on the polyp-free view, so a scene without its polyps is the same pixel for pixel
    away from them (what the tests use to check that masks match what is drawn)."""
    rows, cols = size
    sf = cols / 500.0  # textures are tuned for 500 columns
    shape = (math.ceil(rows * CANVAS_FACTOR), math.ceil(cols * CANVAS_FACTOR))
    canvas = mucosa_texture(rng, shape, sf).astype(np.float32)
    n = int(rng.choice(3, p=np.asarray(spec.count_probs)))
    prng = np.random.default_rng(int(rng.integers(0, 2**62)))
    scale = cols / 384.0
    speed = rng.uniform(*spec.speed) * scale
    heading = rng.uniform(0, 2 * np.pi)
    scene = _Scene(
        canvas=canvas, alpha=np.zeros(shape, np.float32),
        centre=np.array([(shape[1] - 1) / 2, (shape[0] - 1) / 2])
        + rng.uniform(-0.05, 0.05, 2) * cols,
        velocity=speed * np.array([math.cos(heading), math.sin(heading)]),
        angle=float(rng.uniform(-15, 15)), omega=float(rng.uniform(-6, 6)),
        zoom=float(rng.uniform(0.95, 1.1)), zoom_rate=float(rng.uniform(-0.04, 0.08)),
        gain=np.ones(3, np.float32),
        noise=rng.standard_normal((rows + 16, cols + 16, 3), dtype=np.float32)
        * np.float32(rng.uniform(1.0, 2.5)),
    )
    # Exposure locked for the scene: the polyp-free view at t = 0 gets the target mean.
    target = np.clip(_BASE_MEAN * rng.uniform(0.75, 1.25) * np.exp(rng.normal(0, 0.06, 3)), 30, 220)
    optics, light = _optics(size)
    view = cv2.warpAffine(canvas, _camera(scene, 0.0, size), (cols, rows), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT_101)
    mean = np.array(cv2.mean(np.minimum(view * light[..., None], 1.0),
                             mask=(optics > 0.5).astype(np.uint8))[:3]) + 1e-6
    gain = (target / mean).astype(np.float32)
    plain = canvas[::-1, ::-1].copy()  # fold texture: mucosa, never a polyp
    # Polyps sit on lit mucosa, not deep in the dark lumen where nobody could see them.
    lum = cv2.GaussianBlur(canvas.mean(axis=2), (0, 0), 8.0 * sf)
    lit = 0.6 * float(np.median(lum))
    alpha = np.zeros(shape, np.float32)
    placed: list[tuple[float, float, float]] = []
    for _ in range(n):
        for _attempt in range(20):
            r = prng.uniform(*spec.radius) * scale
            cx = shape[1] / 2 + prng.uniform(-0.3, 0.3) * cols
            cy = shape[0] / 2 + prng.uniform(-0.28, 0.28) * rows
            if lum[int(cy), int(cx)] < lit:
                continue
            if all(math.hypot(cx - x, cy - y) > 1.3 * (r + q) + 6 for x, y, q in placed):
                break
        else:
            continue
        placed.append((cx, cy, r))
        occlude = bool(prng.random() < spec.occlusion)
        a, fold = _paint_polyp(canvas, plain, prng, cx, cy, r, sf * 500 / 384, occlude)
        if fold is not None:  # the fold may hide an earlier polyp too
            alpha *= 1.0 - fold
        alpha = np.maximum(alpha, a)
    return replace(scene, alpha=alpha, gain=gain)


def _camera(scene: _Scene, t: float, size: tuple[int, int]) -> np.ndarray:
    """2x3 affine map from the canvas to the frame at ``t`` seconds."""
    rows, cols = size
    c = scene.centre + scene.velocity * t
    zoom = max(0.5, scene.zoom * (1.0 + scene.zoom_rate * t))
    m = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), scene.angle + scene.omega * t, zoom)
    m[:, 2] += np.array([(cols - 1) / 2, (rows - 1) / 2]) - c
    return m


def _view(scene: _Scene, t: float, rng: np.random.Generator, size: tuple[int, int]
          ) -> tuple[np.ndarray, np.ndarray]:
    """Frame (rows, cols, 3) uint8 RGB and its polyp mask (rows, cols) bool at ``t`` s."""
    rows, cols = size
    optics, light = _optics(size)
    m = _camera(scene, t, size)
    img = cv2.warpAffine(scene.canvas, m, (cols, rows), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT_101)
    alpha = cv2.warpAffine(scene.alpha, m, (cols, rows), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    img *= light[..., None]
    img *= scene.gain
    dy, dx = (int(v) for v in rng.integers(0, 16, 2))
    img += scene.noise[dy : dy + rows, dx : dx + cols]
    img *= optics[..., None]
    frame = np.clip(img, 0, 255).astype(np.uint8)
    return frame, (alpha >= 0.5) & (optics > 0.5)


def iter_polyp_frames(n_frames: int, size: tuple[int, int] = POLYP_FRAME_SIZE, seed: int = 0,
                      *, spec: PolypVideoSpec | None = None,
                      stills: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(frame (H, W, 3) uint8 RGB, mask (H, W) bool)`` one frame at a time.

    ``stills=True`` renders every frame from a scene of its own (an image set), else
    scenes last ``spec.segment`` frames each (a video). Deterministic for a ``seed``.
    """
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    size = _check_size(size)
    spec = PolypVideoSpec() if spec is None else spec
    rng = np.random.default_rng(seed)
    done = 0
    while done < n_frames:
        length = 1 if stills else int(rng.integers(spec.segment[0], spec.segment[1] + 1))
        scene = _build_scene(rng, size, spec)
        for k in range(min(length, n_frames - done)):
            yield _view(scene, k / spec.fps, rng, size)
            done += 1


def render_polyp_video(n_frames: int, size: tuple[int, int] = POLYP_FRAME_SIZE, seed: int = 0,
                       *, spec: PolypVideoSpec | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Render a synthetic polyp video in memory.

    Parameters
    ----------
    n_frames : int
        Number of frames, >= 1.
    size : (int, int)
        Frame (rows, cols), both >= 64; default 288 x 384.
    seed : int
        Seed of all randomness: the same seed gives the same frames and masks.
    spec : PolypVideoSpec, optional
        Scene lengths, polyp counts and sizes, occlusion, camera speed.

    Returns
    -------
    frames : numpy.ndarray
        (F, H, W, 3) uint8 RGB.
    masks : numpy.ndarray
        (F, H, W) bool; each 8-connected component is one (visible) polyp.
    """
    size = _check_size(size)
    frames = np.empty((n_frames, *size, 3), np.uint8)
    masks = np.empty((n_frames, *size), bool)
    for i, (f, m) in enumerate(iter_polyp_frames(n_frames, size, seed, spec=spec)):
        frames[i], masks[i] = f, m
    return frames, masks


def write_polyp_video(path: str | Path, n_frames: int, size: tuple[int, int] = POLYP_FRAME_SIZE,
                      seed: int = 0, *, spec: PolypVideoSpec | None = None
                      ) -> Generator[Progress, None, SynthPolypVideo]:
    """Write the video of :func:`render_polyp_video` (same frames for the same seed).

    Written as mp4v ``.mp4`` (suffix replaced), or MJPG ``.avi`` when ``path`` ends in
    ``.avi`` or mp4v is unavailable; a partial file is removed on error or early close.

    Yields
    ------
    Progress
        Stage ``"synth"``, frames done out of ``n_frames``.

    Returns
    -------
    SynthPolypVideo
        The path written and the (F, H, W) bool masks of the frames as rendered (before
        the codec's loss).
    """
    size = _check_size(size)
    spec = PolypVideoSpec() if spec is None else spec
    masks = np.empty((n_frames, *size), bool)
    frames = iter_polyp_frames(n_frames, size, seed, spec=spec)  # validates n_frames
    writer, out = _open_writer(Path(path), spec.fps, size)
    try:
        yield Progress("synth", 0, n_frames, "rendering synthetic polyp video")
        for i, (frame, mask) in enumerate(frames):
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            masks[i] = mask
            yield Progress("synth", i + 1, n_frames, "polyp video")
    except BaseException:
        writer.release()
        out.unlink(missing_ok=True)
        raise
    writer.release()
    return SynthPolypVideo(path=str(out), masks=masks)


def write_polyp_image_set(folder: str | Path, n: int, seed: int = 0, *,
                          size: tuple[int, int] = POLYP_FRAME_SIZE,
                          spec: PolypVideoSpec | None = None
                          ) -> Generator[Progress, None, list[str]]:
    """Write ``n`` independent stills as ``folder/images/NNNN.png`` + ``folder/masks/NNNN.png``.

    The layout of public polyp datasets (Kvasir-SEG, CVC-ClinicDB): matching stems, masks
    0/255 single-channel PNG. By default every still holds 1 or 2 polyps, as in those
    datasets (``spec.count_probs`` = (0, 0.7, 0.3)).

    Returns
    -------
    list of str
        The stems written, in order.
    """
    if spec is None:
        spec = PolypVideoSpec(count_probs=(0.0, 0.7, 0.3))
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    stems: list[str] = []
    yield Progress("synth", 0, n, "rendering polyp stills")
    for i, (frame, mask) in enumerate(iter_polyp_frames(n, size, seed, spec=spec, stills=True)):
        stem = f"{i:04d}"
        cv2.imwrite(str(folder / "images" / f"{stem}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(folder / "masks" / f"{stem}.png"), mask.astype(np.uint8) * 255)
        stems.append(stem)
        yield Progress("synth", i + 1, n, stem)
    return stems
