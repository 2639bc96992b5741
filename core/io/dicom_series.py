"""Assembling DICOM slices into one volume: order, spacing, gaps, tilt, problems (no I/O).

:func:`assemble` turns the headers of one series (:class:`SliceHeader`, one per frame,
read by :mod:`core.io.dicom_scan`) into a :class:`SeriesInfo`: the slices to stack, in
order, the volume's geometry, and every problem found, each a :class:`Problem`.

The rules (those of ITK's GDCM series reader and dcm2niix, made explicit):

* Slices are ordered by ImagePositionPatient projected on the slice normal
  ``n = row x col`` (ImageOrientationPatient), ascending: plane 0 is the first along
  ``n`` (for axial CT, the most inferior). InstanceNumber is not used: scanners number
  slices in either direction, and exports renumber them.
* The plane spacing is the median distance between consecutive positions along ``n``,
  never SliceThickness (slices may overlap or leave gaps). Positions closer than
  :data:`DUP_TOL_MM` are duplicates: the first is kept, the others listed.
* A step of about ``m`` times the spacing means ``m - 1`` missing slices; any other step
  off by more than ``max(ABS_TOL_MM, REL_TOL * spacing)`` is non-uniform spacing. Both
  are resampled onto the uniform grid by linear interpolation along ``n`` between the
  two neighbouring slices (an exact slice is copied), so that plane ``k`` always lies at
  ``k * spacing`` and world coordinates stay exact; both are reported.
* Gantry tilt: the line through the slice positions leaves the normal by more than
  :data:`TILT_DEG`. The planes are kept as acquired (not resampled); the affine's plane
  axis follows the positions (a shear), so :meth:`SeriesInfo.voxel_to_world` stays exact.
* Localisers (ImageType value 3 ``LOCALIZER``) and derived images (``SECONDARY``
  ImageType value 2, reformats, projections, secondary captures) are listed but never
  stacked; images of another orientation or size than the majority are left out.

World coordinates are DICOM patient coordinates (LPS, mm); voxel indices (plane, row,
col). ``affine`` maps ``(plane, row, col, 1)`` to ``(x, y, z, 1)``; conversions go through
:class:`core.io.geometry3d.VolumeGeometry` (:attr:`SeriesInfo.geometry`).
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.io.geometry3d import VolumeGeometry

__all__ = ["ABS_TOL_MM", "DUP_TOL_MM", "REL_TOL", "TILT_DEG", "Problem", "SeriesInfo",
           "SliceHeader", "assemble"]

DUP_TOL_MM = 0.01
"""Two slices whose positions along the normal differ by less than this are duplicates."""
ABS_TOL_MM, REL_TOL = 0.01, 0.02
"""A step is regular when within ``max(ABS_TOL_MM, REL_TOL * spacing)`` of the spacing."""
TILT_DEG = 0.2
"""Angle between the line of slice positions and the normal above which the series is tilted."""

_DERIVED_TYPES = {"REFORMATTED", "MPR", "MIP", "MINIP", "PROJECTION IMAGE", "CPR",
                  "CURVED", "VOLUME", "VOLUME RENDER", "VRT", "3D", "SCREEN SAVE"}
_SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
_MODALITY_NAMES = {"SEG": "a segmentation", "SR": "a structured report", "PR": "a presentation "
                   "state", "RTSTRUCT": "RT structures", "KO": "a key-object selection",
                   "MR": "MR", "US": "ultrasound", "PT": "PET", "NM": "nuclear medicine",
                   "CR": "a radiograph", "DX": "a radiograph", "XA": "angiography",
                   "OT": "other", "DOC": "a document"}


@dataclass(frozen=True, slots=True)
class SliceHeader:
    """What one frame's header says (one per file; one per frame of a multi-frame file).

    ``path`` is absolute; ``frame`` is 0-based. ``offset`` is the byte offset of this
    frame's pixels in the file when they are stored natively in little-endian order,
    else -1 (decoded through pydicom). ``padding`` is the (low, high) range of stored
    values that are padding, or None. ``subject`` is a pseudonym, never the PatientID.
    """

    path: str
    frame: int
    series_uid: str
    sop_uid: str
    modality: str
    sop_class: str
    image_type: tuple[str, ...]
    series_number: int | None
    description: str
    study_uid: str
    subject: str | None
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    pixel_spacing: tuple[float, float] | None
    rows: int
    cols: int
    samples: int
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    slope: float
    intercept: float
    modality_lut: bool
    padding: tuple[int, int] | None
    transfer_syntax: str
    offset: int
    instance_number: int | None
    gantry_tilt: float
    contrast_agent: str | None
    enhanced: bool
    has_pixels: bool


@dataclass(frozen=True)
class Problem:
    """A problem of a series: ``code`` (e.g. ``"gap"``), a message for people, and a
    level: ``"error"`` (the series is listed but not stacked) or ``"warning"``."""

    code: str
    message: str
    level: str = "warning"


@dataclass(frozen=True)
class SeriesInfo:
    """One series as scanned: what it is, what to stack, its geometry and its problems.

    Attributes
    ----------
    uid, modality, description, number, study_uid, subject
        From the headers; ``subject`` is a pseudonym of PatientID (or None).
    folder : str
        The deepest folder holding every stacked file; ``files`` are relative to it.
    n_files : int
        Files of the series found (stacked or not).
    files, frames, offsets, slopes, intercepts, positions
        Per stacked source slice, in plane order: file, frame, native pixel offset (-1:
        decode through pydicom), rescale slope and intercept, position (x, y, z) in mm.
    excluded : tuple of (file, reason)
        Files (or frames) of the series left out of the stack, and why.
    shape : (planes, rows, cols)
        Of the volume (planes after resampling onto the uniform grid).
    spacing_mm : (dz, dy, dx)
        dz along the normal (from positions), (dy, dx) = PixelSpacing.
    orientation : 6 floats
        ImageOrientationPatient (row direction, column direction).
    affine : 4 x 4 tuple
        ``(plane, row, col, 1) -> (x, y, z, 1)`` in mm (sheared when tilted).
    plan : (k0, k1, w) tuples, one entry per plane
        Plane ``j`` = ``(1 - w[j]) * slice[k0[j]] + w[j] * slice[k1[j]]``.
    pixel : dict
        bits_allocated, bits_stored, pixel_representation, transfer_syntaxes, padding
        ([low, high] stored values, or None), modality_lut (a LUT sequence: decode with
        pydicom's ``apply_modality_lut``).
    problems : tuple of Problem
    """

    uid: str
    modality: str
    description: str
    number: int | None
    study_uid: str
    subject: str | None
    folder: str
    n_files: int
    files: tuple[str, ...] = ()
    frames: tuple[int, ...] = ()
    offsets: tuple[int, ...] = ()
    slopes: tuple[float, ...] = ()
    intercepts: tuple[float, ...] = ()
    positions: tuple[tuple[float, float, float], ...] = ()
    excluded: tuple[tuple[str, str], ...] = ()
    shape: tuple[int, int, int] | None = None
    spacing_mm: tuple[float, float, float] | None = None
    orientation: tuple[float, ...] | None = None
    affine: tuple[tuple[float, ...], ...] | None = None
    plan: tuple[tuple[int, ...], tuple[int, ...], tuple[float, ...]] = ((), (), ())
    pixel: dict[str, Any] = field(default_factory=dict, hash=False)
    enhanced: bool = False
    tilt_deg: float = 0.0
    contrast_agent: str | None = None
    problems: tuple[Problem, ...] = ()

    @property
    def usable(self) -> bool:
        """True when the series can be stacked into a volume (no error)."""
        return self.shape is not None and not any(p.level == "error" for p in self.problems)

    @property
    def label(self) -> str:
        """How messages name the series (no patient data): number, description, UID end."""
        num = f"series {self.number}" if self.number is not None else "a series"
        desc = f" \u201c{self.description}\u201d" if self.description else ""
        return (f"{num}{desc} ({self.modality or 'no modality'}, {self.n_files} file"
                f"{'s' if self.n_files != 1 else ''}, UID \u2026{self.uid[-12:]})")

    @property
    def origin(self) -> tuple[float, float, float] | None:
        """World position (x, y, z) in mm of voxel (0, 0, 0)'s centre."""
        return None if self.affine is None else tuple(r[3] for r in self.affine[:3])

    @property
    def geometry(self) -> VolumeGeometry:
        """The volume's :class:`~core.io.geometry3d.VolumeGeometry` (the one place that
        converts between voxel indices and world coordinates).

        Raises
        ------
        ValueError
            The series is not a volume (its problems say why).
        """
        if self.affine is None or self.shape is None:
            raise ValueError(f"{self.label} has no volume geometry: "
                             + "; ".join(p.message for p in self.problems))
        step = np.asarray(self.affine, dtype=np.float64)[:3, 0]
        return VolumeGeometry(self.origin or (0.0, 0.0, 0.0), self.spacing_mm or (1, 1, 1),
                              self.orientation or (1, 0, 0, 0, 1, 0), self.shape,
                              step / np.linalg.norm(step))


def _kind(h: SliceHeader) -> str | None:
    """``"localizer"``, ``"derived"`` or None (a primary image to stack)."""
    it = [v.strip().upper() for v in h.image_type]
    if len(it) > 2 and it[2] == "LOCALIZER":
        return "localizer"
    if h.sop_class == _SECONDARY_CAPTURE or (len(it) > 1 and it[1] == "SECONDARY") \
            or (len(it) > 2 and it[2] in _DERIVED_TYPES):
        return "derived"
    return None


def _rel(path: str, folder: str) -> str:
    return os.path.relpath(path, folder)


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def assemble(headers: Sequence[SliceHeader], *,
             decoder_problem: Callable[[str], str | None] = lambda ts: None) -> SeriesInfo:
    """Order the frames of one series, measure its geometry and list its problems.

    Parameters
    ----------
    headers : sequence of SliceHeader
        Every frame of one SeriesInstanceUID (>= 1).
    decoder_problem : callable
        ``transfer syntax UID -> message`` when its pixels cannot be decoded here, else None.

    Returns
    -------
    SeriesInfo
        ``usable`` when it can be stacked; its problems say why not, or what was fixed.
    """
    if not headers:
        raise ValueError("a series needs at least one header")
    first = headers[0]
    paths = sorted({h.path for h in headers})
    folder = os.path.commonpath([os.path.dirname(p) for p in paths])
    base = dict(uid=first.series_uid, modality=first.modality, description=first.description,
                number=first.series_number, study_uid=first.study_uid, subject=first.subject,
                folder=folder, n_files=len(paths), enhanced=any(h.enhanced for h in headers),
                contrast_agent=first.contrast_agent)

    def refuse(code: str, message: str, excluded: Sequence[tuple[str, str]] = ()) -> SeriesInfo:
        return SeriesInfo(**base, excluded=tuple(excluded),
                          problems=(Problem(code, message, "error"),))

    if first.modality != "CT":
        what = _MODALITY_NAMES.get(first.modality)
        return refuse("not_ct", f"its modality is {first.modality or 'missing'}"
                      f"{f' ({what})' if what and what != first.modality else ''}, not CT: "
                      "LayerTune stacks CT series only")
    if not all(h.has_pixels and h.rows > 0 and h.cols > 0 for h in headers):
        return refuse("not_image", "it holds no image pixels")
    excluded: list[tuple[str, str]] = []
    kinds = [_kind(h) for h in headers]
    kept = [h for h, k in zip(headers, kinds) if k is None]
    for h, k in zip(headers, kinds):
        if k is not None:
            excluded.append((_rel(h.path, folder), "localizer" if k == "localizer"
                             else "derived (secondary, reformatted or projection) image"))
    if not kept:
        code = "localizer" if all(k == "localizer" for k in kinds) else "derived"
        why = ("a localizer (scout) series" if code == "localizer" else
               "derived images (secondary captures, reformats or projections)")
        return refuse(code, f"it holds {why}: listed, not stacked into a volume", excluded)
    if any(h.samples != 1 for h in kept):
        return refuse("colour", "its images are colour (SamplesPerPixel > 1), not CT values")
    has_geo = [bool(h.position and h.orientation and h.pixel_spacing) for h in kept]
    geo = [h for h, ok in zip(kept, has_geo) if ok]
    excluded += [(_rel(h.path, folder), "no position, orientation or pixel spacing")
                 for h, ok in zip(kept, has_geo) if not ok]
    if not geo:
        return refuse("no_geometry", "its images have no ImagePositionPatient, "
                      "ImageOrientationPatient or PixelSpacing", excluded)

    def key(h: SliceHeader) -> tuple:
        return (tuple(round(v, 3) for v in h.orientation or ()), h.rows, h.cols,
                tuple(round(v, 4) for v in h.pixel_spacing or ()), h.bits_allocated,
                h.bits_stored, h.pixel_representation)

    keys = [key(h) for h in geo]
    common, _ = Counter(keys).most_common(1)[0]
    stack = [h for h, k in zip(geo, keys) if k == common]
    excluded += [(_rel(h.path, folder), "another orientation, size, pixel spacing or pixel "
                  "format than the rest of the series") for h, k in zip(geo, keys) if k != common]
    for ts in sorted({h.transfer_syntax for h in stack}):
        why = decoder_problem(ts)
        if why:
            return refuse("no_decoder", why, excluded)
    return _geometry(stack, base, folder, excluded, kept_excluded=len(excluded))


def _geometry(stack: list[SliceHeader], base: dict, folder: str,
              excluded: list[tuple[str, str]], kept_excluded: int) -> SeriesInfo:
    """Order ``stack`` (one orientation and size) along the normal; build the plan."""
    o = np.asarray(stack[0].orientation, dtype=np.float64)
    row_dir, col_dir = o[:3] / np.linalg.norm(o[:3]), o[3:] / np.linalg.norm(o[3:])
    normal = np.cross(row_dir, col_dir)
    normal /= np.linalg.norm(normal)
    pos = np.array([h.position for h in stack], dtype=np.float64)
    t = pos @ normal
    inst = np.array([h.instance_number if h.instance_number is not None else 0 for h in stack])
    order = np.lexsort((np.array([h.frame for h in stack]), np.array([h.path for h in stack]),
                        inst, t))
    keep: list[int] = []
    dups: list[int] = []
    for k in order:
        if keep and t[k] - t[keep[-1]] < DUP_TOL_MM:
            dups.append(int(k))
        else:
            keep.append(int(k))
    problems: list[Problem] = []
    if kept_excluded:
        reasons = Counter(r for _, r in excluded)
        problems.append(Problem("excluded", "left out of the volume: " + "; ".join(
            f"{_count(n, 'image')}: {r}" for r, n in sorted(reasons.items()))))
    excluded = excluded + [(_rel(stack[k].path, folder), "duplicate position") for k in dups]
    if dups:
        problems.append(Problem("duplicate", f"{_count(len(dups), 'slice')} repeat the position "
                                "of another slice (a second acquisition, or copies): the "
                                "first at each position is kept"))
    hs = [stack[k] for k in keep]
    pos, t = pos[keep], t[keep]
    dy, dx = (float(v) for v in hs[0].pixel_spacing or (1.0, 1.0))
    shared = dict(base, excluded=tuple(excluded), orientation=tuple(float(v) for v in o))
    if len(hs) < 2:
        return SeriesInfo(**shared, problems=(*problems, Problem(
            "single_slice", "it holds a single 2-D slice (one position): a volume needs "
                            "at least two", "error")))
    steps = np.diff(t)
    d = round(float(np.median(steps)), 6)  # positions are decimal text: drop float noise
    tol = max(ABS_TOL_MM, REL_TOL * d)
    mult = np.rint(steps / d)
    regular = np.abs(steps - d) <= tol
    gap = ~regular & (mult >= 2) & (np.abs(steps - mult * d) <= tol * mult)
    odd = ~regular & ~gap
    n_planes = int(math.floor((t[-1] - t[0] + tol) / d)) + 1
    grid = t[0] + d * np.arange(n_planes)
    k1 = np.clip(np.searchsorted(t, grid), 1, len(t) - 1)
    k0 = k1 - 1
    w = np.clip((grid - t[k0]) / (t[k1] - t[k0]), 0.0, 1.0)
    exact0, exact1 = np.abs(grid - t[k0]) <= tol, np.abs(grid - t[k1]) <= tol
    k0 = np.where(exact1 & ~exact0, k1, k0)
    w = np.where(exact0 | exact1, 0.0, w)
    k1 = np.where(exact0 | exact1, k0, k1)
    if gap.any():
        missing = int((mult[gap] - 1).sum())
        where = ", ".join(f"{t[i]:.2f}\u2013{t[i + 1]:.2f}" for i in np.flatnonzero(gap)[:4])
        problems.append(Problem("gap", f"{_count(missing, 'slice')} missing ({_count(int(gap.sum()), 'gap')}"
                                f" along the normal at {where} mm): the planes there are "
                                "interpolated linearly from the neighbouring slices"))
    if odd.any():
        problems.append(Problem("nonuniform", f"the slice spacing varies from "
                                f"{steps.min():.3g} to {steps.max():.3g} mm: resampled to a "
                                f"uniform {d:.4g} mm (the median) by linear interpolation "
                                "along the normal"))
    span = pos[-1] - pos[0]
    u = span / np.linalg.norm(span)
    cos = float(np.clip(u @ normal, -1.0, 1.0))
    tilt = math.degrees(math.acos(cos))
    if tilt > TILT_DEG:
        stride = u * (d / cos)
        problems.append(Problem("tilt", f"gantry tilt of {tilt:.2f}\u00b0 (header: "
                                f"{hs[0].gantry_tilt:g}\u00b0): the planes are kept as "
                                "acquired, so the volume is sheared; world coordinates "
                                "account for it, orthogonal views are skewed"))
    else:
        tilt, stride = 0.0, normal * d
    line = pos[0] + np.outer((t - t[0]) / (stride @ normal), stride)
    off = float(np.linalg.norm(pos - line, axis=1).max())
    if off > max(0.05, 0.5 * min(dy, dx)):
        problems.append(Problem("irregular", f"the slice positions leave the line through the "
                                f"first and last slice by up to {off:.2f} mm: the geometry "
                                "follows that line"))
    affine = np.eye(4)
    affine[:3, 0], affine[:3, 1], affine[:3, 2], affine[:3, 3] = \
        stride, dy * col_dir, dx * row_dir, pos[0]
    pixel = {
        "bits_allocated": hs[0].bits_allocated, "bits_stored": hs[0].bits_stored,
        "pixel_representation": hs[0].pixel_representation,
        "transfer_syntaxes": sorted({h.transfer_syntax for h in hs}),
        "padding": list(hs[0].padding) if hs[0].padding else None,
        "modality_lut": any(h.modality_lut for h in hs)}
    return SeriesInfo(
        **shared, files=tuple(_rel(h.path, folder) for h in hs),
        frames=tuple(h.frame for h in hs), offsets=tuple(h.offset for h in hs),
        slopes=tuple(h.slope for h in hs), intercepts=tuple(h.intercept for h in hs),
        positions=tuple(tuple(float(v) for v in p) for p in pos),
        shape=(n_planes, hs[0].rows, hs[0].cols), spacing_mm=(d, dy, dx),
        affine=tuple(tuple(float(v) for v in r) for r in affine),
        plan=(tuple(int(v) for v in k0), tuple(int(v) for v in k1),
              tuple(float(v) for v in w)),
        pixel=pixel, tilt_deg=tilt, problems=tuple(problems))
