"""The geometry of each annotation kind, and how it is stored in the ``geometry`` column.

Coordinates follow the house rule: (row, col) in pixels for 2-D images and frames;
3-D lesion marks are in patient (world) coordinates in millimetres, as DICOM and LUNA16
use them (x, y, z). Masks are stored as lossless PNG (a binary image compresses to a few
hundred bytes); every other kind as a small JSON document.

=============  ==================  =============================================
kind           geometry            meaning
=============  ==================  =============================================
frame_label    None                the label is the annotation's ``value``
mask           :class:`Mask`       (H, W) bool, one frame; components = lesions
box            :class:`Box`        row0, col0, row1, col1 (pixels, inclusive-exclusive)
point          :class:`Point`      row, col (pixels)
sphere         :class:`Sphere`     centre_mm (x, y, z) in patient mm, radius_mm
polyline       :class:`Polyline`   open polyline (N, 2) (row, col), e.g. LI or MA
roi            :class:`Box`        a region of interest, as a box
=============  ==================  =============================================
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np


@dataclass(frozen=True, eq=False)
class Mask:
    """A binary mask of one frame: ``array`` (H, W) bool."""

    array: np.ndarray

    def __post_init__(self) -> None:
        a = np.asarray(self.array)
        if a.ndim != 2 or a.size == 0:
            raise ValueError(f"a mask must be a non-empty 2-D array, got shape {a.shape}")
        object.__setattr__(self, "array", a.astype(bool))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mask) and np.array_equal(self.array, other.array)


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixels: rows ``row0 <= r < row1``, cols ``col0 <= c < col1``."""

    row0: float
    col0: float
    row1: float
    col1: float

    def __post_init__(self) -> None:
        if not (self.row1 > self.row0 and self.col1 > self.col0):
            raise ValueError(f"a box needs row1 > row0 and col1 > col0, got {self}")


@dataclass(frozen=True)
class Point:
    row: float
    col: float


@dataclass(frozen=True)
class Sphere:
    """A 3-D lesion mark in patient coordinates: ``centre_mm`` (x, y, z), ``radius_mm``."""

    centre_mm: tuple[float, float, float]
    radius_mm: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "centre_mm", tuple(float(v) for v in self.centre_mm))
        if len(self.centre_mm) != 3 or not self.radius_mm > 0:
            raise ValueError("a sphere needs a 3-D centre_mm and a positive radius_mm")


@dataclass(frozen=True, eq=False)
class Polyline:
    """An open polyline: ``points`` (N, 2) float (row, col), N >= 2, in drawing order."""

    points: np.ndarray

    def __post_init__(self) -> None:
        p = np.asarray(self.points, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 2 or len(p) < 2:
            raise ValueError(f"a polyline needs (N >= 2, 2) points, got shape {p.shape}")
        object.__setattr__(self, "points", p)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Polyline) and np.array_equal(self.points, other.points)


GEOMETRY_TYPES: dict[str, type | None] = {
    "frame_label": None, "mask": Mask, "box": Box, "point": Point, "sphere": Sphere,
    "polyline": Polyline, "roi": Box,
}


def check(kind: str, geometry: Any) -> None:
    """Raise ``ValueError`` unless ``geometry`` is what an annotation of ``kind`` holds."""
    if kind not in GEOMETRY_TYPES:
        raise ValueError(f"unknown annotation kind {kind!r}; choose one of "
                         f"{', '.join(GEOMETRY_TYPES)}")
    want = GEOMETRY_TYPES[kind]
    if want is None:
        if geometry is not None:
            raise ValueError(f"a {kind} annotation has no geometry, got {type(geometry).__name__}")
    elif not isinstance(geometry, want):
        raise ValueError(f"a {kind} annotation needs a {want.__name__} geometry, got "
                         f"{type(geometry).__name__}")


def encode(kind: str, geometry: Any) -> bytes | None:
    """The bytes stored for ``geometry`` (checked against ``kind``)."""
    check(kind, geometry)
    if geometry is None:
        return None
    if isinstance(geometry, Mask):
        ok, png = cv2.imencode(".png", geometry.array.astype(np.uint8),
                               [cv2.IMWRITE_PNG_COMPRESSION, 6])
        if not ok:  # pragma: no cover - OpenCV encodes any 2-D uint8 array
            raise ValueError("the mask could not be encoded")
        return png.tobytes()
    if isinstance(geometry, Polyline):
        doc: dict[str, Any] = {"points": geometry.points.tolist()}
    elif isinstance(geometry, Sphere):
        doc = {"centre_mm": list(geometry.centre_mm), "radius_mm": float(geometry.radius_mm)}
    else:
        doc = {k: float(v) for k, v in vars(geometry).items()}
    return json.dumps(doc, sort_keys=True).encode()


def decode(kind: str, blob: bytes | None) -> Any:
    """The geometry object stored as ``blob`` for an annotation of ``kind``."""
    want = GEOMETRY_TYPES[kind]
    if want is None or blob is None:
        return None
    if want is Mask:
        img = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_UNCHANGED)
        return Mask(img > 0)
    doc = json.loads(bytes(blob).decode())
    if want is Polyline:
        return Polyline(np.asarray(doc["points"], dtype=np.float64))
    if want is Sphere:
        return Sphere(tuple(doc["centre_mm"]), doc["radius_mm"])
    return want(**doc)
