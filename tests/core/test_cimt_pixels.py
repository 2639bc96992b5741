"""Centred context patches of ultrasound pixels and their border rule."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.tasks.cimt.pixels import CONTEXT_SIDE, as_grey, centred_patches, padded


def _grey(h=23, w=31, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8)


@pytest.mark.parametrize("margin", [(3, 2, 4, 1), (0, 0, 0, 0), (30, 50, 45, 70)])
def test_padded_is_opencv_reflect_101_even_past_the_image_size(margin):
    g = _grey()
    got = padded(g, margin)
    assert np.array_equal(got, cv2.copyMakeBorder(g, *margin, cv2.BORDER_REFLECT_101))
    top, _, left, _ = margin
    assert np.array_equal(got[top:top + g.shape[0], left:left + g.shape[1]], g)


def test_padded_single_row_repeats_it_and_refuses_bad_input():
    g = _grey(1, 5)
    out = padded(g, 2)
    assert out.shape == (5, 9) and all(np.array_equal(out[i, 2:7], g[0]) for i in range(5))
    with pytest.raises(ValueError, match=">= 0"):
        padded(_grey(), (1, -1, 0, 0))
    with pytest.raises(ValueError, match="uint8"):
        padded(_grey().astype(np.float32), 1)


def test_centred_patch_holds_the_mirrored_neighbourhood_of_its_pixel():
    g = _grey(40, 50)
    rows, cols = [0, 20, 39], [49, 25, 0]
    side = 31
    p = centred_patches(g, rows, cols, side=side)
    assert p.shape == (3, side, side, 3) and p.dtype == np.uint8
    big = cv2.copyMakeBorder(g, 15, 15, 15, 15, cv2.BORDER_REFLECT_101)
    for i, (r, c) in enumerate(zip(rows, cols)):
        assert p[i, 15, 15, 0] == g[r, c]  # the pixel is the exact centre
        assert np.array_equal(p[i, ..., 0], big[r:r + side, c:c + side])
        assert np.array_equal(p[i, ..., 0], p[i, ..., 1])
        assert np.array_equal(p[i, ..., 0], p[i, ..., 2])


def test_default_side_is_the_context_side_and_mirrors_past_tiny_images():
    g = _grey(9, 12)
    p = centred_patches(g, [4], [6])
    assert p.shape == (1, CONTEXT_SIDE, CONTEXT_SIDE, 3) and CONTEXT_SIDE == 355
    half = CONTEXT_SIDE // 2
    ref = cv2.copyMakeBorder(g, half, half, half, half, cv2.BORDER_REFLECT_101)
    assert np.array_equal(p[0, ..., 0], ref[4:4 + CONTEXT_SIDE, 6:6 + CONTEXT_SIDE])


def test_centred_patches_refuse_bad_pixels_and_sides():
    g = _grey()
    with pytest.raises(ValueError, match="outside"):
        centred_patches(g, [23], [0], side=5)
    with pytest.raises(ValueError, match="outside"):
        centred_patches(g, [0], [-1], side=5)
    with pytest.raises(ValueError, match="odd"):
        centred_patches(g, [0], [0], side=4)
    with pytest.raises(ValueError, match="whole pixel"):
        centred_patches(g, [1.5], [0], side=5)
    with pytest.raises(ValueError, match="length"):
        centred_patches(g, [1, 2], [0], side=5)
    p = centred_patches(g, np.array([3.0]), np.array([4.0]), side=5)  # whole-valued floats
    assert np.array_equal(p, centred_patches(g, [3], [4], side=5))
    assert centred_patches(g, [], [], side=5).shape == (0, 5, 5, 3)


def test_as_grey_takes_repeated_grey_exactly_and_converts_colour():
    g = _grey()
    rgb = np.repeat(g[..., None], 3, axis=2)
    assert np.array_equal(as_grey(rgb), g) and as_grey(g) is g
    colour = np.random.default_rng(1).integers(0, 256, (8, 9, 3), dtype=np.uint8)
    ref = cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY).astype(int)
    assert np.abs(as_grey(colour).astype(int) - ref).max() <= 1
    assert np.array_equal(centred_patches(rgb, [5], [6], side=7),
                          centred_patches(g, [5], [6], side=7))
    with pytest.raises(ValueError):
        as_grey(np.zeros((4, 4, 2), np.uint8))
