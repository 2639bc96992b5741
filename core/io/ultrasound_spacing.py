"""Physical pixel spacing of ultrasound studies: DICOM regions, pixel spacing, calibration.

Where the spacing of a study comes from, and which wins
-------------------------------------------------------
A study's ``meta`` may hold (keys written by :mod:`core.io.ultrasound` at import and by
:func:`calibrate_study` later):

``us_regions``
    The DICOM Sequence of Ultrasound Regions (PS3.3 C.8.5.5), one dict per region:
    ``x0, y0, x1, y1`` (RegionLocationMinX0... in pixels, as DICOM gives them: x = col,
    y = row, bounds inclusive), ``dx_mm, dy_mm`` (PhysicalDeltaX/Y converted to mm when
    the physical units are cm, code 3; None otherwise), ``spatial_format``
    (RegionSpatialFormat: 1 = 2-D tissue image, 2 = M-mode, 3 = spectral, 4 = waveform),
    ``data_type`` (RegionDataType: 1 = tissue, 2 = colour flow...), ``units_x``/``units_y``.
``dicom_pixel_spacing_mm``
    [dy, dx] from PixelSpacing (or SequenceOfUltrasoundRegions-free files carrying
    ImagerPixelSpacing), when the file has it.
``pixel_spacing_mm``, ``spacing_source``
    The study-level spacing [dy, dx] in mm and where it came from: ``"dicom regions"``
    (every 2-D region agrees), ``"dicom pixel spacing"``, ``"calibration"`` (the user's
    two-click calibration), ``"imported"`` (a tracings file's mm per pixel). Absent when
    nothing is known: IMT is then given in pixels, and says so.
``spacing_override``
    True when the user calibrated with ``override_dicom=True``.

:func:`spacing_for` decides for one ROI. A region of the scanner is exact and local
(an image may hold two panes at different depths), a two-click calibration is a
measurement of the depth scale good to about a pixel at each end, so:

1. a DICOM 2-D tissue region (RegionSpatialFormat 1, physical units cm) that contains
   the whole box wins over a calibration, *unless* the user calibrated with
   ``override_dicom=True`` (the scanner's regions are known to be wrong);
2. otherwise the study-level ``pixel_spacing_mm`` (calibration, DICOM pixel spacing, or
   the regions' common spacing);
3. otherwise None: no spacing, IMT in pixels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["SPACING_SOURCES", "calibrate_study", "calibration_mm_per_pixel",
           "dicom_spacing", "region_for", "regions_from_dataset", "spacing_for",
           "spacing_text"]

SPACING_SOURCES = ("dicom regions", "dicom pixel spacing", "calibration", "imported")
"""Every value ``meta["spacing_source"]`` may take."""
_CM = 3  # PhysicalUnitsX/YDirection code for centimetres (PS3.3 C.8.5.5.1.15)
_REL_TOL = 1e-6  # regions whose spacings differ less than this agree


def _num(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def regions_from_dataset(ds: Any) -> list[dict[str, Any]]:
    """The ``us_regions`` dicts of a pydicom dataset's SequenceOfUltrasoundRegions.

    PhysicalDeltaX/Y are converted from cm to mm (x 10) when the units are cm (code 3),
    else ``dx_mm``/``dy_mm`` are None. Regions without a location are left out.
    """
    out = []
    for r in ds.get("SequenceOfUltrasoundRegions", None) or ():
        loc = [r.get(k) for k in ("RegionLocationMinX0", "RegionLocationMinY0",
                                  "RegionLocationMaxX1", "RegionLocationMaxY1")]
        if any(v is None for v in loc):
            continue
        ux, uy = r.get("PhysicalUnitsXDirection"), r.get("PhysicalUnitsYDirection")
        dx, dy = _num(r.get("PhysicalDeltaX")), _num(r.get("PhysicalDeltaY"))
        out.append({
            "x0": int(loc[0]), "y0": int(loc[1]), "x1": int(loc[2]), "y1": int(loc[3]),
            "dx_mm": abs(dx) * 10.0 if ux == _CM and dx else None,
            "dy_mm": abs(dy) * 10.0 if uy == _CM and dy else None,
            "spatial_format": None if r.get("RegionSpatialFormat") is None
            else int(r.get("RegionSpatialFormat")),
            "data_type": None if r.get("RegionDataType") is None
            else int(r.get("RegionDataType")),
            "units_x": None if ux is None else int(ux),
            "units_y": None if uy is None else int(uy)})
    return out


def _tissue(regions: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The 2-D regions (RegionSpatialFormat 1) with a spacing in mm on both axes."""
    return [r for r in regions if r.get("spatial_format") == 1
            and (r.get("dx_mm") or 0) > 0 and (r.get("dy_mm") or 0) > 0]


def region_for(meta: Mapping[str, Any], box: Sequence[float]
               ) -> Mapping[str, Any] | None:
    """The 2-D tissue region of ``meta["us_regions"]`` holding the whole ``box``.

    Parameters
    ----------
    meta : mapping
        A study's metadata.
    box : sequence of 4 float
        (row0, col0, row1, col1) in pixels, inclusive-exclusive as
        :class:`core.store.geometry.Box`.

    Returns
    -------
    dict or None
        The first such region (DICOM order), or None.
    """
    r0, c0, r1, c1 = (float(v) for v in box)
    for reg in _tissue(meta.get("us_regions") or ()):
        # region bounds are inclusive pixel indices: the box's last pixel is row1 - 1
        if reg["y0"] <= r0 and r1 - 1 <= reg["y1"] and reg["x0"] <= c0 and c1 - 1 <= reg["x1"]:
            return reg
    return None


def dicom_spacing(meta: Mapping[str, Any]) -> tuple[tuple[float, float], str] | None:
    """The study-level spacing the DICOM file itself gives, and its source.

    The 2-D tissue regions when they all agree (``"dicom regions"``), else PixelSpacing
    (``"dicom pixel spacing"``), else None (regions that disagree need an ROI:
    :func:`spacing_for` with a box).
    """
    tissue = _tissue(meta.get("us_regions") or ())
    if tissue:
        dy, dx = float(tissue[0]["dy_mm"]), float(tissue[0]["dx_mm"])
        if all(math.isclose(r["dy_mm"], dy, rel_tol=_REL_TOL)
               and math.isclose(r["dx_mm"], dx, rel_tol=_REL_TOL) for r in tissue):
            return (dy, dx), "dicom regions"
    ps = meta.get("dicom_pixel_spacing_mm")
    if ps and len(ps) == 2 and all((_num(v) or 0) > 0 for v in ps):
        return (float(ps[0]), float(ps[1])), "dicom pixel spacing"
    return None


def spacing_for(meta: Mapping[str, Any], box: Sequence[float] | None = None
                ) -> tuple[float, float] | None:
    """The pixel spacing (dy, dx) in mm that applies to ``box`` of a study, or None.

    See the module docstring for the rule: a DICOM 2-D region holding the whole box,
    unless the user's calibration overrides the DICOM; else the study-level spacing;
    else None (IMT in pixels).

    Parameters
    ----------
    meta : mapping
        The study's ``meta``.
    box : sequence of 4 float, optional
        (row0, col0, row1, col1) of the ROI in pixels.

    Returns
    -------
    (float, float) or None
        (row spacing, column spacing) in millimetres.
    """
    override = bool(meta.get("spacing_override")) and \
        meta.get("spacing_source") in ("calibration", "imported")
    if box is not None and not override:
        reg = region_for(meta, box)
        if reg is not None:
            return float(reg["dy_mm"]), float(reg["dx_mm"])
    ps = meta.get("pixel_spacing_mm")
    if ps and len(ps) == 2 and all((_num(v) or 0) > 0 for v in ps):
        return float(ps[0]), float(ps[1])
    return None


def spacing_text(meta: Mapping[str, Any]) -> str:
    """For people: ``"0.0383 mm/px (dicom regions)"`` or why there is no spacing."""
    ps = spacing_for(meta)
    if ps is None:
        if _tissue(meta.get("us_regions") or ()):
            return "spacing per ROI (the DICOM regions differ)"
        return "no spacing (IMT in pixels until a calibration is set)"
    dy, dx = ps
    value = f"{dx:.4g} mm/px" if math.isclose(dy, dx, rel_tol=_REL_TOL) \
        else f"{dy:.4g} x {dx:.4g} mm/px (rows x cols)"
    return f"{value} ({meta.get('spacing_source') or 'unknown source'})"


def calibration_mm_per_pixel(p0: Sequence[float], p1: Sequence[float],
                             distance_mm: float) -> float:
    """Millimetres per pixel from two clicked points a known distance apart.

    Parameters
    ----------
    p0, p1 : sequence of 2 float
        The two ticks of the depth scale, (row, col) in pixels.
    distance_mm : float
        Their distance in millimetres, as read on the scale.

    Returns
    -------
    float
        ``distance_mm / |p1 - p0|`` (isotropic pixels assumed).

    Raises
    ------
    ValueError
        A distance that is zero, negative or not a number; points that coincide or are
        not finite. The message says what to do.
    """
    d = _num(distance_mm)
    if d is None:
        raise ValueError(f"The calibration distance must be a number of millimetres, got "
                         f"{distance_mm!r}: type the distance between the two ticks.")
    if d <= 0:
        raise ValueError(f"The calibration distance must be more than 0 mm, got {d:g} mm: "
                         "type the distance between the two ticks you clicked.")
    try:
        (r0, c0), (r1, c1) = ((float(v) for v in p) for p in (p0, p1))
    except (TypeError, ValueError) as exc:
        raise ValueError("Each calibration point must be (row, col) in pixels.") from exc
    if not all(math.isfinite(v) for v in (r0, c0, r1, c1)):
        raise ValueError("A calibration point is not a finite position: click both ticks "
                         "again.")
    px = math.hypot(r1 - r0, c1 - c0)
    if px < 1e-9:
        raise ValueError("The two calibration points are the same pixel: click two "
                         "different ticks of the depth scale.")
    return d / px


def calibrate_study(project: Any, study_id: int, mm_per_pixel: float | None,
                    source: str = "calibration", *, override_dicom: bool = False) -> Any:
    """Set (or clear) the calibrated pixel spacing of a study.

    Parameters
    ----------
    project : core.store.Project
    study_id : int
    mm_per_pixel : float or None
        Millimetres per pixel (isotropic), > 0. None clears a calibration: the study
        goes back to its DICOM spacing, or to none.
    source : str
        ``"calibration"`` (the user's) or ``"imported"`` (a tracings file's).
    override_dicom : bool, keyword-only
        Let the calibration win over the DICOM regions too (see :func:`spacing_for`).

    Returns
    -------
    Study
        The updated study.

    Raises
    ------
    ValueError
        ``mm_per_pixel`` is zero, negative or not a number; an unknown ``source``.
    """
    if source not in ("calibration", "imported"):
        raise ValueError(f"source must be 'calibration' or 'imported', got {source!r}")
    study = project.study(study_id)
    if mm_per_pixel is None:
        found = dicom_spacing(study.meta or {})
        return project.update_study_meta(
            study.id, pixel_spacing_mm=list(found[0]) if found else None,
            spacing_source=found[1] if found else None, spacing_override=None)
    v = _num(mm_per_pixel)
    if v is None or v <= 0:
        raise ValueError(f"The pixel spacing must be more than 0 mm per pixel, got "
                         f"{mm_per_pixel!r}.")
    return project.update_study_meta(study.id, pixel_spacing_mm=[v, v], spacing_source=source,
                                     spacing_override=True if override_dicom else None)
