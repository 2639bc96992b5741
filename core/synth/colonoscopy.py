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
``ambiguous`` scenes (a share of the segments of :func:`make_video`) sit near the class
boundary, where experts disagree too: informative views that are defocused, shaken or
foamy, and artefacts that are mild (a short smear, a wall with some texture left, thin
foam over a sharp scene, a small glare).
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
from core.synth.textures import (
    CANVAS_FACTOR,
    add_bubbles,
    blur_image,
    mucosa_texture,
    wall_texture,
)

FRAME_SIZE = (350, 500)  # (rows, cols): the frame size of the task (500x350 in the paper)
ARTEFACTS = ("motion_blur", "wall_contact", "bubbles", "overexposure")
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
    ambiguous : numpy.ndarray
        (n_frames,) bool; True for the frames of ambiguous (borderline) segments.
    """

    path: str
    labels: np.ndarray
    artefacts: tuple[str, ...]
    ambiguous: np.ndarray | None = None  # (n_frames,) bool: frames of ambiguous segments


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


def _build_scene(
    informative: bool,
    artefact: str,
    rng: np.random.Generator,
    size: tuple[int, int],
    ambiguous: bool = False,
) -> _Scene:
    rows, cols = size
    sf = cols / FRAME_SIZE[1]  # sizes below are tuned for 500 columns and scale with it
    shape = (math.ceil(rows * CANVAS_FACTOR), math.ceil(cols * CANVAS_FACTOR))
    if artefact == "wall_contact":
        canvas = wall_texture(rng, shape, sf)
        if ambiguous:  # not quite touching: some of the mucosa's texture is left
            canvas = 0.55 * canvas + 0.45 * blur_image(mucosa_texture(rng, shape, sf), 1.0 * sf)
    else:
        canvas = mucosa_texture(rng, shape, sf)
    hard = "none"  # how an ambiguous informative view is spoilt
    if ambiguous and informative:
        hard = str(rng.choice(("defocus", "shake", "foam")))
        if hard == "defocus":
            canvas = blur_image(canvas, rng.uniform(1.0, 2.0) * sf)
    if artefact == "bubbles":
        sigma = rng.uniform(0.8, 1.8) if ambiguous else rng.uniform(3.0, 6.0)
        canvas = add_bubbles(blur_image(canvas, sigma * sf), rng, sf, many=True)
    elif hard == "foam":
        canvas = add_bubbles(canvas, rng, sf, many=True)
    elif informative and rng.random() < 0.3:
        canvas = add_bubbles(canvas, rng, sf, many=False)  # a few stray bubbles are fine
    if artefact == "overexposure":
        # Too close to the wall: defocused and washed out, then blown out by the light.
        canvas = blur_image(canvas, (rng.uniform(0.5, 1.2) if ambiguous
                                     else rng.uniform(1.5, 3.0)) * sf)
        canvas = 0.6 * canvas + 0.4 * canvas.mean(axis=(0, 1))
    blur_len = 0.0
    if artefact == "motion_blur":
        blur_len = (rng.uniform(8.0, 16.0) if ambiguous else rng.uniform(25.0, 60.0)) * sf
    elif hard == "shake":
        blur_len = rng.uniform(6.0, 12.0) * sf  # the ranges of the two classes overlap
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
        if ambiguous:  # a small glare: most of the view is still readable
            shrink *= 0.5
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
    ambiguous: bool = False,
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
    ambiguous : bool
        A borderline scene of its class (see the module docstring).

    Returns
    -------
    numpy.ndarray
        (rows, cols, 3) uint8 RGB.
    """
    _check(informative, artefact, size)
    size = (int(size[0]), int(size[1]))
    return _view(_build_scene(informative, artefact, rng, size, ambiguous), float(t), rng, size)


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
    ambiguous_fraction: float = 0.0,
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
    ambiguous_fraction : float
        Share, in [0, 1], of segments rendered as ambiguous (borderline) scenes: see the
        module docstring. 0 (the default) draws nothing for it, so videos made before
        it existed are made again pixel for pixel.

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
    if not 0.0 <= ambiguous_fraction <= 1.0:
        raise ValueError(f"ambiguous_fraction must be in [0, 1], got {ambiguous_fraction}")
    _check_size(size)
    size = (int(size[0]), int(size[1]))
    writer, out = _open_writer(Path(path), fps, size)
    labels = np.zeros(n_frames, np.int8)
    hard = np.zeros(n_frames, bool)
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
            ambiguous = ambiguous_fraction > 0 and bool(rng.random() < ambiguous_fraction)
            scene = _build_scene(informative, artefact, rng, size, ambiguous)
            for k in range(length):
                frame = _view(scene, k / fps, rng, size)
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
                labels[len(artefacts)] = int(informative)
                hard[len(artefacts)] = ambiguous
                artefacts.append(artefact)
                yield Progress("synth", len(artefacts), n_frames, artefact)
    except BaseException:
        writer.release()
        out.unlink(missing_ok=True)
        raise
    writer.release()
    return SynthVideo(path=str(out), labels=labels, artefacts=tuple(artefacts), ambiguous=hard)
