"""Centred context patches of ultrasound pixels (SPEC §1.7).

A pixel's classifier input is the square patch of side :data:`CONTEXT_SIDE` centred on it:
the 227 px patch of Table I plus 64 px of real image context on each side, which the
context network (:mod:`core.tasks.cimt.network`) uses in place of zero padding. Grey
patches become 3 channels by repetition (SPEC §1.7).

Border rule: where a patch reaches past the image, the image is mirrored about its edge
pixel without repeating it (``cv2.BORDER_REFLECT_101``, numpy's ``"reflect"``:
``... c b | a b c d | c b ...``), repeatedly for margins larger than the image.
The dense maps of :mod:`core.tasks.cimt.dense` pad by the same rule, which is why
:func:`padded` is the one place it is implemented.

This module is the ONE patch extraction used for training patches and for the
per-pixel reference the dense maps are tested against.
"""

from __future__ import annotations

import numpy as np

CONTEXT_SIDE = 355
"""Side of a pixel's context patch (conv1 87 -> pool1 43 -> conv2 39 -> pool2 19 ->
conv3 17 -> conv4 15 -> conv5 13 -> pool5 6, as pool5 at Table I's 227 input)."""


def as_grey(image: np.ndarray) -> np.ndarray:
    """(H, W) uint8 grey from (H, W) grey or (H, W, 3) RGB uint8.

    Readers give grey images as RGB with the grey repeated; those pass through exactly
    (first channel). Real colour is converted with ITU-R BT.601 luma (as OpenCV's
    ``COLOR_RGB2GRAY``).
    """
    a = np.asarray(image)
    if a.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {a.dtype}")
    if a.ndim == 2:
        return a
    if a.ndim == 3 and a.shape[2] == 3:
        if np.array_equal(a[..., 0], a[..., 1]) and np.array_equal(a[..., 0], a[..., 2]):
            return np.ascontiguousarray(a[..., 0])
        luma = a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114
        return np.clip(np.rint(luma), 0, 255).astype(np.uint8)
    raise ValueError(f"expected an (H, W) grey or (H, W, 3) RGB image, got shape {a.shape}")


def padded(grey: np.ndarray, margin: int | tuple[int, int, int, int]) -> np.ndarray:
    """``grey`` extended by ``margin`` pixels on each side by the border rule.

    Parameters
    ----------
    grey : (H, W) uint8
    margin : int or (top, bottom, left, right)
        Pixels to add; may exceed the image size (the mirroring repeats).

    Returns
    -------
    (H + top + bottom, W + left + right) uint8; ``out[top + r, left + c] == grey[r, c]``.
    """
    g = _check_grey(grey)
    if isinstance(margin, (int, np.integer)):
        margin = (int(margin),) * 4
    top, bottom, left, right = (int(m) for m in margin)
    if min(top, bottom, left, right) < 0:
        raise ValueError(f"margins must be >= 0, got {margin}")
    # Mirroring a single row (column) about itself repeats it: the rule's limit.
    out = np.pad(g, ((top, bottom), (0, 0)), mode="reflect" if g.shape[0] > 1 else "edge")
    return np.pad(out, ((0, 0), (left, right)), mode="reflect" if g.shape[1] > 1 else "edge")


def centred_patches(grey: np.ndarray, rows, cols, side: int = CONTEXT_SIDE) -> np.ndarray:
    """The ``side`` x ``side`` patches centred on pixels ``(rows[i], cols[i])``.

    Parameters
    ----------
    grey : (H, W) uint8 (or (H, W, 3), see :func:`as_grey`)
    rows, cols : (B,) int
        Pixel coordinates inside the image (integer-valued; floats are rounded only when
        within 1e-6 of an integer).
    side : int
        Odd patch side (default :data:`CONTEXT_SIDE`).

    Returns
    -------
    (B, side, side, 3) uint8; patch ``i`` holds image pixel ``(rows[i] + y - side // 2,
    cols[i] + x - side // 2)`` at ``(y, x)``, grey repeated to 3 channels, the border
    mirrored (:func:`padded`).
    """
    g = as_grey(grey)
    if side < 1 or side % 2 == 0:
        raise ValueError(f"the patch side must be a positive odd number, got {side}")
    r = _pixel_index(rows, "rows")
    c = _pixel_index(cols, "cols")
    if r.shape != c.shape:
        raise ValueError(f"rows and cols differ in length ({r.size} vs {c.size})")
    h, w = g.shape
    bad = (r < 0) | (r >= h) | (c < 0) | (c >= w)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"pixel ({r[i]}, {c[i]}) is outside the {h}x{w} image")
    half = side // 2
    # Pad only as far as the patches need (not the whole margin on every side).
    top = max(0, half - int(r.min(initial=h)))
    bottom = max(0, int(r.max(initial=0)) + half - (h - 1))
    left = max(0, half - int(c.min(initial=w)))
    right = max(0, int(c.max(initial=0)) + half - (w - 1))
    p = padded(g, (top, bottom, left, right))
    out = np.empty((r.size, side, side, 3), np.uint8)
    for i, (ri, ci) in enumerate(zip(r + top - half, c + left - half)):
        out[i] = p[ri:ri + side, ci:ci + side, None]
    return out


def _check_grey(grey: np.ndarray) -> np.ndarray:
    g = np.asarray(grey)
    if g.dtype != np.uint8 or g.ndim != 2:
        raise ValueError(f"expected an (H, W) uint8 grey image, got {g.dtype} {g.shape}")
    if g.size == 0:
        raise ValueError("the image is empty")
    return g


def _pixel_index(v, name: str) -> np.ndarray:
    a = np.atleast_1d(np.asarray(v))
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or np.any(np.abs(a - np.rint(a)) > 1e-6):
            raise ValueError(f"{name} must be whole pixel positions")
        a = np.rint(a)
    elif a.dtype.kind not in "iu" and a.size:
        raise ValueError(f"{name} must be integers, got {a.dtype}")
    return a.astype(np.int64)
