"""The arithmetic of the volume viewer: grey levels, the three slice planes, markers.

Everything here is numpy only (no Qt), so the viewer's widgets stay thin and the maths is
tested on its own.

Slice planes. A volume is ``(Z, Y, X)`` = (plane, row, col) with ``spacing_mm`` =
``(dz, dy, dx)``. The three views cut it along its voxel axes:

=========  ==========  ==============  ===================
view       fixed axis  image rows      image columns
=========  ==========  ==============  ===================
axial      plane (Z)   row (Y), ``dy`` col (X), ``dx``
coronal    row (Y)     plane (Z), ``dz`` col (X), ``dx``
sagittal   col (X)     plane (Z), ``dz`` row (Y), ``dy``
=========  ==========  ==============  ===================

For the usual axial CT (ImageOrientationPatient ``[1,0,0,0,1,0]``) that is the
radiological display: the patient's left on the right of the axial image, anterior at
the top, anterior on the left of the sagittal one. When the planes run towards the head
(``flip_z``) the coronal and sagittal images are drawn bottom-up, so the head is at the
top. Scene coordinates are millimetres (x right, y down), so anisotropic voxels keep
their true aspect: image pixel ``(r, c)`` covers ``[c, c+1) * col_mm x [r, r+1) *
row_mm``, and voxel index ``v`` (0 = the centre of the first voxel, as in DICOM) lies at
``(v + 0.5) * spacing``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VIEWS = ("axial", "coronal", "sagittal")
PRESETS: dict[str, tuple[float, float]] = {
    "PE": (100.0, 700.0),
    "Mediastinum": (40.0, 400.0),
    "Lung": (-600.0, 1500.0),
}
"""Window presets (level, width) in HU: the PE window of Wittram et al. (RadioGraphics
2004), the soft-tissue (mediastinal) window, the lung window."""
MIN_WIDTH_HU = 1.0
_U16_AS_I16 = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.int16)


def grey_lut(level: float, width: float) -> np.ndarray:
    """(65536,) uint8: the grey level of every int16 value, indexed by its bits read as
    uint16 (so ``lut[a.view(np.uint16)]`` windows an int16 array with one gather).

    ``grey = round(clip((hu - (level - width / 2)) / width, 0, 1) * 255)``.
    """
    w = max(float(width), MIN_WIDTH_HU)
    low = float(level) - w / 2
    g = np.clip((_U16_AS_I16.astype(np.float32) - low) / w, 0.0, 1.0) * 255.0
    return np.rint(g).astype(np.uint8)


class GreyMapper:
    """HU -> uint8 for one window, cached: int16 arrays through a lookup table (one
    gather, about 1 ms for 512 x 512), other dtypes by arithmetic."""

    def __init__(self, level: float = 100.0, width: float = 700.0) -> None:
        self.level, self.width = float(level), max(float(width), MIN_WIDTH_HU)
        self._lut: np.ndarray | None = None

    def set_window(self, level: float, width: float) -> None:
        level, width = float(level), max(float(width), MIN_WIDTH_HU)
        if (level, width) != (self.level, self.width):
            self.level, self.width, self._lut = level, width, None

    def __call__(self, hu: np.ndarray) -> np.ndarray:
        """A C-contiguous uint8 array of the same shape as ``hu``."""
        a = np.asarray(hu)
        if a.dtype == np.int16:
            if self._lut is None:
                self._lut = grey_lut(self.level, self.width)
            return np.ascontiguousarray(self._lut[a.view(np.uint16)])
        low = self.level - self.width / 2
        g = np.clip((a.astype(np.float32) - low) / self.width, 0.0, 1.0) * 255.0
        return np.ascontiguousarray(np.rint(g).astype(np.uint8))


@dataclass(frozen=True)
class SlicePlane:
    """How one view cuts a ``(Z, Y, X)`` volume (module docstring).

    Parameters
    ----------
    view : str
        ``"axial"``, ``"coronal"`` or ``"sagittal"``.
    shape : (Z, Y, X)
    spacing_mm : (dz, dy, dx)
    flip_z : bool
        Draw the plane axis bottom-up (coronal and sagittal views).
    """

    view: str
    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    flip_z: bool = False

    def __post_init__(self) -> None:
        if self.view not in VIEWS:
            raise ValueError(f"view must be one of {VIEWS}, got {self.view!r}")
        object.__setattr__(self, "shape", tuple(int(v) for v in self.shape))
        object.__setattr__(self, "spacing_mm", tuple(float(v) for v in self.spacing_mm))

    @property
    def fixed(self) -> int:
        """The voxel axis (0 plane, 1 row, 2 col) held constant in this view."""
        return VIEWS.index(self.view)

    @property
    def axes(self) -> tuple[int, int]:
        """The voxel axes along the image's rows and columns."""
        return {0: (1, 2), 1: (0, 2), 2: (0, 1)}[self.fixed]

    @property
    def depth(self) -> int:
        """Number of slices of this view."""
        return self.shape[self.fixed]

    @property
    def image_shape(self) -> tuple[int, int]:
        r, c = self.axes
        return self.shape[r], self.shape[c]

    @property
    def pixel_mm(self) -> tuple[float, float]:
        """(height, width) of one image pixel in mm."""
        r, c = self.axes
        return self.spacing_mm[r], self.spacing_mm[c]

    @property
    def size_mm(self) -> tuple[float, float]:
        """(height, width) of the image in mm."""
        (h, w), (ph, pw) = self.image_shape, self.pixel_mm
        return h * ph, w * pw

    @property
    def flipped(self) -> bool:
        """Whether image rows run against their voxel axis (the plane axis, bottom-up)."""
        return self.flip_z and self.axes[0] == 0

    def slice_mm(self) -> float:
        """Distance between two slices of this view."""
        return self.spacing_mm[self.fixed]

    def image(self, volume: np.ndarray, index: int) -> np.ndarray:
        """The (rows, cols) view of slice ``index`` (a numpy view, not a copy)."""
        k = int(np.clip(index, 0, self.depth - 1))
        img = volume[k] if self.fixed == 0 else (
            volume[:, k, :] if self.fixed == 1 else volume[:, :, k])
        return img[::-1] if self.flipped else img

    def to_scene(self, zyx) -> tuple[np.ndarray, np.ndarray]:
        """Scene ((N, 2) x, y in mm) of voxel points ``zyx`` (N, 3), and their signed
        distance in mm from slice 0 along the fixed axis (N,)."""
        p = np.asarray(zyx, np.float64).reshape(-1, 3)
        r, c = self.axes
        rows = p[:, r]
        if self.flipped:
            rows = (self.shape[0] - 1) - rows
        ph, pw = self.pixel_mm
        xy = np.stack([(p[:, c] + 0.5) * pw, (rows + 0.5) * ph], axis=1)
        return xy, p[:, self.fixed] * self.slice_mm()

    def from_scene(self, x: float, y: float, index: float) -> np.ndarray:
        """Voxel point (3,) float (plane, row, col) under scene ``(x, y)`` mm on slice
        ``index``."""
        r, c = self.axes
        ph, pw = self.pixel_mm
        row = y / ph - 0.5
        if self.flipped:
            row = (self.shape[0] - 1) - row
        out = np.zeros(3)
        out[self.fixed] = index
        out[r], out[c] = row, x / pw - 0.5
        return out

    def clamp(self, zyx) -> np.ndarray:
        """``zyx`` rounded to the nearest voxel inside the volume (int64 (3,))."""
        p = np.rint(np.asarray(zyx, np.float64).reshape(3))
        return np.clip(p, 0, np.asarray(self.shape) - 1).astype(np.int64)


@dataclass(frozen=True)
class Disc:
    """A marker cut by a slice: centre (x, y) and radius in scene mm, and which one."""

    key: int
    x: float
    y: float
    radius: float
    inside: bool  # the slice passes through the marked sphere (else: just near it)


def sphere_discs(plane: SlicePlane, index: int, keys, centres_zyx, radii_mm, *,
                 near_mm: float = 0.0, min_radius_mm: float = 0.0) -> list[Disc]:
    """Where spheres cut slice ``index``: circles of radius ``sqrt(r^2 - d^2)`` (``d``
    the centre's distance from the slice), at least ``min_radius_mm``.

    Spheres within ``near_mm`` of the slice without cutting it give a disc of
    ``min_radius_mm`` with ``inside`` False (a candidate one slice away stays visible).
    """
    keys = np.asarray(keys).reshape(-1)
    if not len(keys):
        return []
    xy, depth = plane.to_scene(centres_zyx)
    d = np.abs(depth - index * plane.slice_mm())
    r = np.asarray(radii_mm, np.float64).reshape(-1)
    cut = d < r
    near = ~cut & (d <= r + near_mm)
    out = []
    for k in np.flatnonzero(cut | near):
        rad = float(np.sqrt(max(r[k] ** 2 - d[k] ** 2, 0.0))) if cut[k] else 0.0
        out.append(Disc(int(keys[k]), float(xy[k, 0]), float(xy[k, 1]),
                        max(rad, min_radius_mm), bool(cut[k])))
    return out


def equivalent_radius_mm(volume_mm3) -> np.ndarray:
    """Radius (mm) of the sphere of the given volume(s)."""
    v = np.maximum(np.asarray(volume_mm3, np.float64), 0.0)
    return np.cbrt(3.0 * v / (4.0 * np.pi))
