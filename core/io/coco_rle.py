"""COCO segmentations by hand: run-length encoding (RLE) and polygons, no C extension.

COCO's RLE runs over the mask in column-major (Fortran) order, starting with a run of
background (0 when the first pixel is foreground), as ``{"size": [h, w], "counts": ...}``:
``counts`` a list of ints (uncompressed) or a string (compressed: pycocotools'
``rleToString``, each count after the second stored as the difference to the count two
before, in 5-bit groups with a continuation bit and a sign bit, offset by 48 into
printable ASCII). The encoder and decoder here are bit-exact to pycocotools' (checked
against pycocotools 2.0.11 on random masks; the tests check fixed strings).

Polygons (``[[x0, y0, x1, y1, ...], ...]`` in pixel coordinates, a pixel spanning
``[x, x+1)``) are rasterised by pycocotools' own algorithm (``rleFrPoly``: the outline
traced at 1/5 pixel, even-odd fill per column), so a dataset's polygons give the masks
detection tools see; several polygons of one annotation are united.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

__all__ = ["CocoSegmentationError", "components", "decode_segmentation", "polygons_to_mask",
           "rle_decode", "rle_encode", "string_to_counts", "counts_to_string"]

_SCALE = 5  # polygons are traced at 1/5 pixel (as pycocotools)
_FAR = 16  # a polygon vertex farther than 16 image sizes away is absurd (and slow to trace)


class CocoSegmentationError(ValueError):
    """A segmentation that cannot be decoded (the message says what is wrong)."""


def rle_encode(mask: np.ndarray, *, compressed: bool = True) -> dict[str, Any]:
    """COCO RLE of an (H, W) bool mask: ``{"size": [H, W], "counts": str | list}``."""
    m = np.asarray(mask, bool)
    if m.ndim != 2:
        raise ValueError(f"a mask must be 2-D, got shape {m.shape}")
    flat = m.ravel(order="F")
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], change, [flat.size]))
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0, *counts]
    size = [int(m.shape[0]), int(m.shape[1])]
    return {"size": size, "counts": counts_to_string(counts) if compressed else counts}


def counts_to_string(counts: list[int]) -> str:
    """pycocotools' compressed form of RLE counts."""
    out = []
    for i, c in enumerate(counts):
        x = int(c) - (int(counts[i - 2]) if i > 2 else 0)
        more = True
        while more:
            ch = x & 0x1F
            x >>= 5  # arithmetic shift, as C's on a signed long
            more = x != -1 if ch & 0x10 else x != 0
            if more:
                ch |= 0x20
            out.append(chr(ch + 48))
    return "".join(out)


def string_to_counts(text: str) -> list[int]:
    """Inverse of :func:`counts_to_string`.

    Raises
    ------
    CocoSegmentationError
        A character outside the code, or a count cut short.
    """
    counts: list[int] = []
    p, n = 0, len(text)
    while p < n:
        x = k = 0
        more = True
        while more:
            if p >= n:
                raise CocoSegmentationError("the compressed RLE counts end in the middle of "
                                            "a number")
            c = ord(text[p]) - 48
            if not 0 <= c < 64:
                raise CocoSegmentationError(f"the compressed RLE counts hold {text[p]!r}, "
                                            "which is not part of the code")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def rle_decode(rle: Any) -> np.ndarray:
    """The (H, W) bool mask of a COCO RLE (compressed or not).

    Raises
    ------
    CocoSegmentationError
        No valid ``size``, counts that are negative or do not add up to H x W.
    """
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise CocoSegmentationError("an RLE needs \"size\" and \"counts\"")
    size = rle["size"]
    if (not isinstance(size, (list, tuple)) or len(size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
        raise CocoSegmentationError(f"an RLE size must be [height, width] of positive "
                                    f"integers, got {size!r}")
    h, w = size
    raw = rle["counts"]
    if isinstance(raw, str):
        counts = string_to_counts(raw)
    elif isinstance(raw, list) and all(isinstance(v, int) and not isinstance(v, bool)
                                       for v in raw):
        counts = raw
    else:
        raise CocoSegmentationError("RLE counts must be a string or a list of integers")
    arr = np.asarray(counts, np.int64)
    if arr.size and arr.min() < 0:
        raise CocoSegmentationError("RLE counts must not be negative")
    if int(arr.sum()) != h * w:
        raise CocoSegmentationError(f"the RLE counts cover {int(arr.sum())} pixels, not the "
                                    f"{h}x{w} = {h * w} of its size")
    values = np.zeros(arr.size, bool)
    values[1::2] = True
    flat = np.repeat(values, arr)
    return flat.reshape((w, h)).T.copy()


def polygons_to_mask(polygons: Any, height: int, width: int) -> np.ndarray:
    """Fill COCO polygons (a list of flat ``[x0, y0, x1, y1, ...]`` lists) into an
    (height, width) bool mask: their union, each filled even-odd as pycocotools does.

    Raises
    ------
    CocoSegmentationError
        A polygon that is not a list of at least 3 (x, y) finite numbers.
    """
    if not isinstance(polygons, list) or not polygons:
        raise CocoSegmentationError("a polygon segmentation must be a non-empty list of "
                                    "polygons")
    out = np.zeros((height, width), bool)
    for poly in polygons:
        if (not isinstance(poly, list) or len(poly) < 6 or len(poly) % 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                           for v in poly)):
            raise CocoSegmentationError("each polygon must be a list of at least 3 (x, y) "
                                        "number pairs")
        xy = np.asarray(poly, np.float64).reshape(-1, 2)
        if not np.isfinite(xy).all() or np.abs(xy).max() > _FAR * max(height, width) + 64:
            raise CocoSegmentationError("a polygon holds a coordinate that is not finite or "
                                        "lies far outside its image")
        out |= _fill_polygon(xy, height, width)
    return out


def _fill_polygon(xy: np.ndarray, h: int, w: int) -> np.ndarray:
    """pycocotools' ``rleFrPoly``: trace the outline at 1/5 pixel, keep its crossings of
    the column centres, and toggle the column-major run at each one."""
    x = np.trunc(_SCALE * xy[:, 0] + 0.5).astype(np.int64)
    y = np.trunc(_SCALE * xy[:, 1] + 0.5).astype(np.int64)
    x, y = np.append(x, x[0]), np.append(y, y[0])
    us, vs = [], []
    for j in range(len(xy)):
        xs, xe, ys, ye = int(x[j]), int(x[j + 1]), int(y[j]), int(y[j + 1])
        dx, dy = abs(xe - xs), abs(ys - ye)
        flip = (dx >= dy and xs > xe) or (dx < dy and ys > ye)
        if flip:
            xs, xe, ys, ye = xe, xs, ye, ys
        if dx >= dy:
            s = (ye - ys) / dx if dx else 0.0
            t = np.arange(dx + 1)
            t = dx - t if flip else t
            us.append(t + xs)
            vs.append(np.trunc(ys + s * t + 0.5).astype(np.int64))
        else:
            s = (xe - xs) / dy
            t = np.arange(dy + 1)
            t = dy - t if flip else t
            vs.append(t + ys)
            us.append(np.trunc(xs + s * t + 0.5).astype(np.int64))
    u, v = np.concatenate(us), np.concatenate(vs)
    step = np.flatnonzero(u[1:] != u[:-1]) + 1
    xd = np.where(u[step] < u[step - 1], u[step], u[step] - 1)
    xd = (xd + 0.5) / _SCALE - 0.5
    keep = (np.floor(xd) == xd) & (xd >= 0) & (xd <= w - 1)
    yd = np.minimum(v[step], v[step - 1])[keep]
    yd = np.ceil(np.clip((yd + 0.5) / _SCALE - 0.5, 0, h)).astype(np.int64)
    flips = np.sort(np.append(xd[keep].astype(np.int64) * h + yd, h * w))
    runs = np.diff(flips, prepend=0)
    counts: list[int] = [int(runs[0])]
    j = 1
    while j < len(runs):  # a zero run: two crossings at one pixel cancel
        if runs[j] > 0:
            counts.append(int(runs[j]))
            j += 1
        else:
            j += 1
            if j < len(runs):
                counts[-1] += int(runs[j])
                j += 1
    return rle_decode({"size": [h, w], "counts": counts})


def decode_segmentation(seg: Any, height: int, width: int) -> np.ndarray:
    """An annotation's ``segmentation`` (RLE or polygons) as an (height, width) bool mask.

    Raises
    ------
    CocoSegmentationError
        A malformed segmentation, or an RLE whose size is not (height, width).
    """
    if isinstance(seg, dict):
        size = seg.get("size")
        if isinstance(size, (list, tuple)) and list(size) != [height, width]:
            raise CocoSegmentationError(f"the RLE's size is {size!r} but its image is "
                                        f"{width} wide and {height} high")
        return rle_decode(seg)  # checked before decoding: a huge size is never allocated
    return polygons_to_mask(seg, height, width)


def components(mask: np.ndarray) -> list[tuple[np.ndarray, list[int], int]]:
    """Each 8-connected component of ``mask`` as (its own mask, COCO bbox [x, y, w, h],
    area in pixels), in OpenCV's label order (top to bottom by first pixel)."""
    m = np.asarray(mask, bool).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    out = []
    for k in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[k])
        out.append((labels == k, [x, y, w, h], area))
    return out
