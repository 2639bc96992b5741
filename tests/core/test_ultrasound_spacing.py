"""Pixel spacing of ultrasound studies: DICOM regions (cm -> mm), calibration, precedence."""

from __future__ import annotations

import math

import numpy as np
import pydicom
import pytest
from test_ultrasound_cases import need, region, write_us

from core.io.ultrasound_spacing import (
    calibrate_study,
    calibration_mm_per_pixel,
    dicom_spacing,
    region_for,
    regions_from_dataset,
    spacing_for,
    spacing_text,
)
from core.store import Project

LEFT = region(0, 0, 99, 79, 0.005)     # 0.05 mm/px, cols 0..99
RIGHT = region(100, 0, 199, 79, 0.008)  # 0.08 mm/px, cols 100..199


def two_pane_meta(tmp_path) -> dict:
    f = write_us(tmp_path / "two.dcm", np.zeros((80, 200), np.uint8),
                 regions=[LEFT, RIGHT, region(0, 0, 20, 20, 0.0, spatial_format=0, units=0)])
    meta = {"us_regions": regions_from_dataset(pydicom.dcmread(f))}
    return meta


def test_regions_converted_from_cm_to_mm(tmp_path):
    meta = two_pane_meta(tmp_path)
    first = meta["us_regions"][0]
    assert (first["x0"], first["y0"], first["x1"], first["y1"]) == (0, 0, 99, 79)
    assert first["dx_mm"] == pytest.approx(0.05) and first["dy_mm"] == pytest.approx(0.05)
    assert first["spatial_format"] == 1
    assert meta["us_regions"][2]["dx_mm"] is None  # units 0: no physical spacing
    assert dicom_spacing(meta) is None  # the panes disagree: per ROI only


def test_spacing_follows_the_region_holding_the_roi(tmp_path):
    meta = two_pane_meta(tmp_path)
    assert spacing_for(meta, (10, 10, 40, 90)) == pytest.approx((0.05, 0.05))
    assert spacing_for(meta, (10, 110, 40, 200)) == pytest.approx((0.08, 0.08))
    assert region_for(meta, (10, 90, 40, 110)) is None  # straddles both panes
    assert spacing_for(meta, (10, 90, 40, 110)) is None
    assert spacing_for(meta) is None
    assert "differ" in spacing_text(meta)


def test_anisotropic_region(tmp_path):
    f = write_us(tmp_path / "a.dcm", np.zeros((50, 60), np.uint8),
                 regions=[region(0, 0, 59, 49, (0.004, 0.006))])
    meta = {"us_regions": regions_from_dataset(pydicom.dcmread(f))}
    assert spacing_for(meta, (0, 0, 10, 10)) == pytest.approx((0.06, 0.04))  # (dy, dx)
    assert dicom_spacing(meta) == (pytest.approx((0.06, 0.04)), "dicom regions")
    assert "rows x cols" in spacing_text({**meta, "pixel_spacing_mm": [0.06, 0.04],
                                          "spacing_source": "dicom regions"})


def test_calibration_from_two_points():
    assert calibration_mm_per_pixel((0, 0), (30, 40), 10.0) == pytest.approx(0.2)
    assert calibration_mm_per_pixel((5.5, 2), (5.5, 102), 5) == pytest.approx(0.05)
    for bad, match in ((0, "more than 0"), (-3, "more than 0"), (math.nan, "number"),
                       ("ten", "number"), (math.inf, "number")):
        with pytest.raises(ValueError, match=match):
            calibration_mm_per_pixel((0, 0), (0, 10), bad)
    with pytest.raises(ValueError, match="same pixel"):
        calibration_mm_per_pixel((3, 4), (3, 4), 10)
    with pytest.raises(ValueError, match="finite"):
        calibration_mm_per_pixel((math.nan, 4), (3, 4), 10)


def _study(project, meta, name="s"):
    return project.add_study(f"/x/{name}.dcm", f"hash-{name}", "us", "frame_quality", 1, 0.0,
                             80, 200, name=name, meta=meta)


def test_region_wins_over_calibration_unless_overridden(tmp_path):
    meta = two_pane_meta(tmp_path)
    with Project.create(tmp_path / "p") as project:
        s = _study(project, meta)
        s = calibrate_study(project, s.id, 0.1)
        assert s.meta["spacing_source"] == "calibration"
        assert spacing_for(s.meta) == (0.1, 0.1)  # no ROI: the calibration
        assert spacing_for(s.meta, (0, 0, 10, 10)) == pytest.approx((0.05, 0.05))
        assert spacing_for(s.meta, (10, 90, 40, 110)) == (0.1, 0.1)  # outside every pane
        s = calibrate_study(project, s.id, 0.1, override_dicom=True)
        assert spacing_for(s.meta, (0, 0, 10, 10)) == (0.1, 0.1)
        s = calibrate_study(project, s.id, 0.2)  # a new calibration without override
        assert "spacing_override" not in s.meta
        assert spacing_for(s.meta, (0, 0, 10, 10)) == pytest.approx((0.05, 0.05))
        s = calibrate_study(project, s.id, None)  # cleared: the panes disagree, so none
        assert "pixel_spacing_mm" not in s.meta and "spacing_source" not in s.meta
        with pytest.raises(ValueError, match="more than 0"):
            calibrate_study(project, s.id, 0)
        with pytest.raises(ValueError, match="more than 0"):
            calibrate_study(project, s.id, -1.0)


def test_clearing_a_calibration_restores_the_dicom_spacing(tmp_path):
    meta = {"us_regions": [], "dicom_pixel_spacing_mm": [0.07, 0.07]}
    with Project.create(tmp_path / "p") as project:
        s = _study(project, {**meta, "pixel_spacing_mm": [0.07, 0.07],
                             "spacing_source": "dicom pixel spacing"})
        s = calibrate_study(project, s.id, 0.09)
        assert spacing_for(s.meta) == (0.09, 0.09)
        s = calibrate_study(project, s.id, None)
        assert s.meta["pixel_spacing_mm"] == [0.07, 0.07]
        assert s.meta["spacing_source"] == "dicom pixel spacing"
        still = _study(project, {}, "still")
        assert spacing_for(still.meta) is None
        assert "in pixels" in spacing_text(still.meta)


def test_real_files_spacing_and_its_absence():
    aloka = pydicom.dcmread(need("gdcm-US-ALOKA-16.dcm"), stop_before_pixels=True)
    meta = {"us_regions": regions_from_dataset(aloka)}
    # left pane (cols 32..335) and right pane (336..639): same spacing, 0.0382653 cm
    assert spacing_for(meta, (100, 100, 200, 300)) == pytest.approx((0.382653065,) * 2)
    assert spacing_for(meta, (100, 400, 200, 600)) == pytest.approx((0.382653065,) * 2)
    assert dicom_spacing(meta)[1] == "dicom regions"
    jpg = pydicom.dcmread(need("JPGLosslessP14SV1_1s_1f_8b.dcm"), stop_before_pixels=True)
    assert dicom_spacing({"us_regions": regions_from_dataset(jpg)})[0] == pytest.approx(
        (0.254766966,) * 2)
    rgb = pydicom.dcmread(need("US1_UNCR.dcm"), stop_before_pixels=True)
    meta = {"us_regions": regions_from_dataset(rgb)}
    assert meta["us_regions"] == [] and dicom_spacing(meta) is None
    assert spacing_for(meta, (0, 0, 10, 10)) is None
