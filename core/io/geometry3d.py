"""The geometry of a 3-D volume: voxel indices <-> patient (world) coordinates in mm.

House conventions (plan, README "Layout"):

* A volume is a numpy array ``(Z, Y, X)`` = (plane, row, col); plane 0 is the first slice
  along the scan direction.
* A voxel index is ``(plane, row, col)``, and may be fractional (``(0, 0, 0)`` is the
  *centre* of the first voxel, as in DICOM).
* World coordinates are DICOM patient coordinates ``(x, y, z)`` in mm (LPS: x grows to
  the patient's left, y to the posterior, z to the head).

The mapping is the DICOM one. With ``r`` = the row direction cosine (the first three
values of ImageOrientationPatient: the direction in which the *column* index grows),
``c`` = the column direction cosine (the last three: the direction in which the *row*
index grows), ``n`` = the unit direction from one plane to the next and
``spacing_mm = (dz, dy, dx)`` where ``dy`` = PixelSpacing[0] (between rows) and ``dx`` =
PixelSpacing[1] (between columns)::

    xyz = origin + plane * dz / |n . (r x c)| * n + row * dy * c + col * dx * r

``origin`` is ImagePositionPatient of plane 0 (the centre of its first transmitted
pixel). ``n`` defaults to ``r x c`` (the slice normal); a series acquired the other way
has ``n = -(r x c)``, and a gantry-tilted series has an ``n`` that is not perpendicular to
the slices at all (the direction of the step between consecutive ImagePositionPatient
values): both are given as ``slice_normal``. ``dz`` is always the distance between the
slice planes, so the step from plane to plane is ``n * dz / |n . (r x c)|`` (just
``n * dz`` without tilt); this is the affine of :mod:`core.io.dicom_series`. Only these functions (:meth:`VolumeGeometry.voxel_to_world`,
:meth:`VolumeGeometry.world_to_voxel`) convert between the two; nothing else in the
project multiplies by spacings itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["VolumeGeometry", "META_KEYS"]

# The keys of ``Study.meta`` that hold a volume's geometry (see :meth:`VolumeGeometry.to_meta`).
META_KEYS = ("origin_mm", "spacing_mm", "orientation", "shape", "slice_normal")

_ORTHO_TOL = 1e-3  # |r . c| allowed (IOP is often written with 6 decimals)
_UNIT_TOL = 1e-2  # | |r| - 1 | allowed before normalising


def _floats(value: Any, n: int, what: str) -> tuple[float, ...]:
    try:
        a = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be {n} numbers, got {value!r}") from exc
    if a.size != n or not np.all(np.isfinite(a)):
        raise ValueError(f"{what} must be {n} finite numbers, got {value!r}")
    return tuple(float(v) for v in a)


def _unit(v: np.ndarray, what: str) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    if abs(norm - 1.0) > _UNIT_TOL:
        raise ValueError(f"{what} must be a unit vector, got {tuple(v)} (length {norm:.4g})")
    return v / norm


@dataclass(frozen=True)
class VolumeGeometry:
    """Where the voxels of a ``(Z, Y, X)`` volume lie in patient space.

    Parameters
    ----------
    origin_mm : (x, y, z)
        World position of voxel ``(0, 0, 0)``: ImagePositionPatient of plane 0.
    spacing_mm : (dz, dy, dx)
        Distance between planes (from the positions, not SliceThickness), between rows
        (PixelSpacing[0]) and between columns (PixelSpacing[1]), all > 0.
    orientation : 6 floats
        DICOM ImageOrientationPatient: the row direction cosine then the column direction
        cosine. Both are normalised; they must be orthogonal (within 1e-3).
    shape : (Z, Y, X)
        Number of planes, rows and columns (each >= 1).
    slice_normal : (x, y, z), optional
        Unit direction from plane ``k`` to plane ``k + 1``. Default ``r x c``; pass its
        negative for a series whose planes run the other way, or the tilted step of a
        gantry-tilted series (it must not lie in the slice plane; ``dz`` stays the
        distance between the slice planes). After construction the field always holds
        the resolved vector.
    """

    origin_mm: tuple[float, float, float]
    spacing_mm: tuple[float, float, float]
    orientation: tuple[float, float, float, float, float, float]
    shape: tuple[int, int, int]
    slice_normal: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        origin = _floats(self.origin_mm, 3, "origin_mm")
        spacing = _floats(self.spacing_mm, 3, "spacing_mm")
        if min(spacing) <= 0:
            raise ValueError(f"spacing_mm must be positive, got {spacing}")
        iop = np.asarray(_floats(self.orientation, 6, "orientation"))
        r = _unit(iop[:3], "the row direction cosine (orientation[:3])")
        c = _unit(iop[3:], "the column direction cosine (orientation[3:])")
        if abs(float(r @ c)) > _ORTHO_TOL:
            raise ValueError(f"the orientation's direction cosines are not orthogonal "
                             f"(dot product {float(r @ c):.4g})")
        if self.slice_normal is None:
            n = np.cross(r, c)
        else:
            n = _unit(np.asarray(_floats(self.slice_normal, 3, "slice_normal")),
                      "slice_normal")
            if abs(float(n @ np.cross(r, c))) < 0.1:
                raise ValueError("slice_normal lies (almost) in the slice plane: the planes "
                                 "would not span a volume")
        try:
            shape = tuple(int(v) for v in self.shape)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"shape must be 3 whole numbers, got {self.shape!r}") from exc
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"shape must be 3 positive whole numbers (Z, Y, X), got {shape}")
        set_ = object.__setattr__
        set_(self, "origin_mm", origin)
        set_(self, "spacing_mm", spacing)
        set_(self, "orientation", tuple(float(v) for v in np.concatenate([r, c])))
        set_(self, "shape", shape)
        set_(self, "slice_normal", tuple(float(v) for v in n))

    # ------------------------------------------------------------------ matrices
    @property
    def row_cosine(self) -> np.ndarray:
        """The direction in which the column index grows (orientation[:3])."""
        return np.asarray(self.orientation[:3])

    @property
    def col_cosine(self) -> np.ndarray:
        """The direction in which the row index grows (orientation[3:])."""
        return np.asarray(self.orientation[3:])

    def matrix(self) -> np.ndarray:
        """The 3x3 matrix ``M`` with ``xyz = origin + M @ (plane, row, col)``.

        Its columns are the world steps of one plane, one row and one column.
        """
        dz, dy, dx = self.spacing_mm
        n = np.asarray(self.slice_normal)
        step = n * dz / abs(float(n @ np.cross(self.row_cosine, self.col_cosine)))
        return np.stack([step, self.col_cosine * dy, self.row_cosine * dx], axis=1)

    def affine(self) -> np.ndarray:
        """The 4x4 homogeneous matrix ``A`` with ``[x, y, z, 1] = A @ [plane, row, col, 1]``.

        Note the index order: (plane, row, col), numpy's order of the volume, not the
        (col, row, plane) = (i, j, k) order of ITK or NIfTI. Reverse the first three
        columns of ``A`` to get an LPS (i, j, k) affine; negate its first two rows as
        well for a RAS (NIfTI) one.
        """
        a = np.eye(4)
        a[:3, :3] = self.matrix()
        a[:3, 3] = self.origin_mm
        return a

    # ------------------------------------------------------------------ conversions
    def voxel_to_world(self, ijk: Any) -> np.ndarray:
        """World ``(N, 3)`` xyz in mm of voxel indices ``(N, 3)`` (plane, row, col).

        A single ``(3,)`` index gives a ``(3,)`` result. Indices may be fractional.
        """
        p = np.asarray(ijk, dtype=np.float64)
        if p.shape[-1:] != (3,) or p.ndim > 2:
            raise ValueError(f"voxel indices must be (N, 3) (plane, row, col), got {p.shape}")
        return p @ self.matrix().T + np.asarray(self.origin_mm)

    def world_to_voxel(self, xyz: Any) -> np.ndarray:
        """Fractional voxel indices ``(N, 3)`` (plane, row, col) of world points (N, 3) mm.

        The exact inverse of :meth:`voxel_to_world` (round to get the nearest voxel). A
        single ``(3,)`` point gives a ``(3,)`` result.
        """
        p = np.asarray(xyz, dtype=np.float64)
        if p.shape[-1:] != (3,) or p.ndim > 2:
            raise ValueError(f"world points must be (N, 3) (x, y, z) mm, got {p.shape}")
        return (p - np.asarray(self.origin_mm)) @ np.linalg.inv(self.matrix()).T

    def contains(self, ijk: Any, margin: float = 0.5) -> np.ndarray | bool:
        """Whether voxel indices (plane, row, col) fall inside the volume.

        Inside means ``-margin <= index <= size - 1 + margin`` on every axis: with the
        default half a voxel, every point of the volume's voxels (whose centres are the
        integer indices) counts; ``margin=0`` keeps the box of voxel centres. ``(N, 3)``
        gives an ``(N,)`` bool array, ``(3,)`` a bool.
        """
        p = np.asarray(ijk, dtype=np.float64)
        if p.shape[-1:] != (3,) or p.ndim > 2:
            raise ValueError(f"voxel indices must be (N, 3) (plane, row, col), got {p.shape}")
        hi = np.asarray(self.shape, dtype=np.float64) - 1 + margin
        ok = np.all((p >= -margin) & (p <= hi), axis=-1)
        return bool(ok) if p.ndim == 1 else ok

    def contains_world(self, xyz: Any, margin: float = 0.5) -> np.ndarray | bool:
        """:meth:`contains` for world points (x, y, z) mm."""
        return self.contains(self.world_to_voxel(xyz), margin)

    @property
    def extent_mm(self) -> tuple[float, float, float]:
        """The size of the volume along its plane, row and col axes in mm (Z*dz, Y*dy, X*dx)."""
        return tuple(float(n * s) for n, s in zip(self.shape, self.spacing_mm))

    # ------------------------------------------------------------------ storage
    def to_meta(self) -> dict[str, list]:
        """The geometry as JSON-ready ``Study.meta`` entries (keys :data:`META_KEYS`)."""
        return {"origin_mm": list(self.origin_mm), "spacing_mm": list(self.spacing_mm),
                "orientation": list(self.orientation), "shape": list(self.shape),
                "slice_normal": list(self.slice_normal)}

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> VolumeGeometry:
        """The geometry stored by :meth:`to_meta` in a study's ``meta``.

        ``origin`` is accepted for ``origin_mm``; ``slice_normal`` is optional. Without
        ``slice_normal``, a 4x4 ``affine`` (see :meth:`from_affine`) with ``shape`` is
        used when present (it holds the scan direction and any tilt).

        Raises
        ------
        ValueError
            A key is missing or holds something that is not a geometry; the message
            names it.
        """
        if not isinstance(meta, Mapping):
            raise ValueError(f"the study metadata is not a mapping: {type(meta).__name__}")
        if meta.get("affine") is not None and meta.get("shape") is not None \
                and meta.get("slice_normal") is None:
            return cls.from_affine(meta["affine"], meta["shape"])
        origin = meta.get("origin_mm", meta.get("origin"))
        missing = [k for k, v in (("origin_mm", origin), ("spacing_mm", meta.get("spacing_mm")),
                                  ("orientation", meta.get("orientation")),
                                  ("shape", meta.get("shape"))) if v is None]
        if missing:
            raise ValueError(f"the study has no volume geometry (missing {', '.join(missing)})")
        return cls(origin, meta["spacing_mm"], meta["orientation"], meta["shape"],
                   meta.get("slice_normal"))

    @classmethod
    def from_affine(cls, affine: Any, shape: Sequence[int]) -> VolumeGeometry:
        """The geometry of a 4x4 ``(plane, row, col, 1) -> (x, y, z, 1)`` affine (the
        convention of :meth:`affine` and of :mod:`core.io.dicom_series`)."""
        a = np.asarray(affine, dtype=np.float64)
        if a.shape != (4, 4) or not np.all(np.isfinite(a)):
            raise ValueError(f"an affine must be a finite 4x4 matrix, got shape {a.shape}")
        step, down, across = a[:3, 0], a[:3, 1], a[:3, 2]
        dy, dx = float(np.linalg.norm(down)), float(np.linalg.norm(across))
        if min(dy, dx, float(np.linalg.norm(step))) <= 0:
            raise ValueError("the affine has a zero axis")
        r, c = across / dx, down / dy
        dz = abs(float(step @ np.cross(r, c)))
        if dz <= 0:
            raise ValueError("the affine's plane axis lies in the slice plane")
        return cls(a[:3, 3], (dz, dy, dx), np.concatenate([r, c]), shape,
                   step / np.linalg.norm(step))

    @classmethod
    def from_slices(cls, positions: Sequence[Sequence[float]], orientation: Sequence[float],
                    pixel_spacing: Sequence[float], rows: int, cols: int,
                    dz: float | None = None) -> VolumeGeometry:
        """The geometry of slices with ImagePositionPatient ``positions`` (in plane order).

        Parameters
        ----------
        positions : (Z, 3)
            ImagePositionPatient of each slice, already sorted along the scan.
        orientation : 6 floats
            ImageOrientationPatient (the same for every slice).
        pixel_spacing : (row spacing, col spacing)
            DICOM PixelSpacing, in its order.
        rows, cols : int
            Rows and Columns of the slices.
        dz : float, optional
            The distance between the slice planes; default the mean one between the
            first and last position (the caller checks uniformity). Needed for a single slice (no step to
            measure); the slice normal then defaults to ``r x c``.
        """
        pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
        normal = None
        if len(pos) > 1:
            step = (pos[-1] - pos[0]) / (len(pos) - 1)
            length = float(np.linalg.norm(step))
            if length <= 0:
                raise ValueError("the first and last slices are at the same position")
            normal = step / length
            r, c = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
            perp = abs(float(step @ np.cross(r, c))) / (np.linalg.norm(r) * np.linalg.norm(c))
            dz = perp if dz is None else dz
        if dz is None:
            raise ValueError("a single slice needs dz (its spacing cannot be measured)")
        ps = _floats(pixel_spacing, 2, "pixel_spacing")
        return cls(pos[0], (dz, ps[0], ps[1]), orientation, (len(pos), rows, cols), normal)
