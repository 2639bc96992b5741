"""Synthetic carotid B-mode: known LI / MA, the double-line pattern, DICOM US with regions."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from core.events import drain
from core.synth.carotid import CarotidParams, synth_carotid
from core.synth.carotid_dicom import write_carotid_dicom, write_carotid_study


def test_same_seed_same_study_and_others_differ():
    a, b, c = synth_carotid(7), synth_carotid(7), synth_carotid(8)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.li, b.li, equal_nan=True)
    assert a.rois == b.rois
    assert not np.array_equal(a.frames, c.frames)


@pytest.mark.parametrize("seed", range(6))
def test_wall_thickness_slope_and_rois(seed):
    p = CarotidParams(n_rois=3, roi_frames=2)
    s = synth_carotid(seed, p)
    x0, y0, x1, y1 = s.region
    cols = np.arange(x0, x1 + 1)
    for f in range(p.n_frames):
        t_mm = (s.ma[f, cols] - s.li[f, cols]) * s.spacing_mm[0]
        assert t_mm.min() >= 0.5 - 1e-9 and t_mm.max() <= 1.2 + 1e-9
        assert np.all(np.isnan(s.li[f, :x0])) and np.all(np.isnan(s.li[f, x1 + 1:]))
        assert y0 < np.nanmin(s.li[f]) and np.nanmax(s.ma[f]) < y1
    assert sorted(s.tracings) == [0, 1]
    for f, tr in s.tracings.items():
        for name in ("LI", "MA"):
            pts = tr[name]
            assert np.all(np.diff(pts[:, 1]) > 0)  # ordered by column
            curve = s.li if name == "LI" else s.ma
            assert np.allclose(pts[:, 0], curve[f, pts[:, 1].astype(int)])
    assert 2 <= len(s.rois) <= 6
    for f, (r0, c0, r1, c1) in s.rois:
        assert y0 <= r0 < r1 <= y1 + 1 and x0 <= c0 < c1 <= x1 + 1
        assert c1 - c0 == p.roi_width
        cs = np.arange(c0, c1)
        assert s.li[f, cs].min() >= r0 and s.ma[f, cs].max() < r1  # both interfaces inside
        tr = s.tracings[f]["LI"][:, 1]
        assert tr[0] <= c0 and c1 - 1 <= tr[-1]  # traced over the whole ROI
    for f in range(p.roi_frames):  # ROIs of a frame do not overlap
        boxes = sorted((b for g, b in s.rois if g == f), key=lambda b: b[1])
        assert all(a[3] <= b[1] for a, b in zip(boxes, boxes[1:]))


def _profile(s, f: int):
    """Mean grey by depth relative to the LI row, over the traced columns."""
    cols = np.arange(int(s.tracings[f]["LI"][0, 1]), int(s.tracings[f]["LI"][-1, 1]))
    if s.shadow is not None:
        x0 = s.region[0]
        a, b = s.shadow
        cols = cols[(cols < a + x0 - 8) | (cols > b + x0 + 8)]
    return cols


def test_double_line_pattern_lumen_dark_intima_and_adventitia_bright():
    for seed in range(4):
        s = synth_carotid(seed)
        img = s.frames[0].astype(float)
        cols = _profile(s, 0)
        li, ma = s.li[0, cols], s.ma[0, cols]

        def band(top, bottom, img=img, cols=cols):
            vals = [img[int(np.ceil(t)):int(np.floor(b)) + 1, c].mean()
                    for t, b, c in zip(top, bottom, cols)]
            return float(np.mean(vals))

        thick = ma - li
        lumen = band(li - 40, li - 10)
        intima = band(li + 0.5, li + 3.0)
        media = band(li + 0.6 * thick, ma - 1.5)
        adventitia = band(ma + 0.5, ma + 6)
        assert lumen < 40 < adventitia
        assert intima > media + 20 and adventitia > media + 30


def test_shadow_darkens_the_columns_below_it():
    s = synth_carotid(1, CarotidParams(shadow_probability=1.0))
    assert s.shadow is not None
    a, b = (v + s.region[0] for v in s.shadow)
    img = s.frames[0].astype(float)
    deep = slice(int(np.nanmax(s.ma[0])) + 10, s.region[3])
    inside = img[deep, a + 6:b - 6].mean()
    outside = np.r_[img[deep, a - 40:a - 10].ravel(), img[deep, b + 10:b + 40].ravel()].mean()
    assert inside < 0.6 * outside


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="n_rois"):
        CarotidParams(n_rois=4)
    with pytest.raises(ValueError, match="thickness_mm"):
        CarotidParams(thickness_mm=(1.2, 0.5))
    with pytest.raises(ValueError, match="roi_frames"):
        CarotidParams(n_frames=2, roi_frames=3)


def test_written_as_dicom_us_with_regions(tmp_path):
    s = drain(write_carotid_study(tmp_path / "c.dcm", 3))
    ds = pydicom.dcmread(tmp_path / "c.dcm")
    assert ds.Modality == "US" and ds.PhotometricInterpretation == "MONOCHROME2"
    assert ds.SOPClassUID == pydicom.uid.UltrasoundMultiFrameImageStorage
    assert int(ds.NumberOfFrames) == 2
    assert np.array_equal(ds.pixel_array, s.frames)
    assert "PixelSpacing" not in ds  # the spacing is in the regions only, as scanners do
    tissue, header = ds.SequenceOfUltrasoundRegions
    assert tissue.RegionSpatialFormat == 1 and tissue.PhysicalUnitsXDirection == 3
    assert tissue.PhysicalDeltaX == pytest.approx(0.006) == tissue.PhysicalDeltaY  # cm
    assert (tissue.RegionLocationMinX0, tissue.RegionLocationMinY0, tissue.RegionLocationMaxX1,
            tissue.RegionLocationMaxY1) == s.region
    assert header.RegionSpatialFormat == 0 and header.PhysicalUnitsXDirection == 0
    # one frame: single-frame storage; the same study writes the same UIDs
    one = synth_carotid(3, CarotidParams(n_frames=1, roi_frames=1))
    write_carotid_dicom(tmp_path / "a.dcm", one)
    write_carotid_dicom(tmp_path / "b.dcm", one, name="a")
    da, db = pydicom.dcmread(tmp_path / "a.dcm"), pydicom.dcmread(tmp_path / "b.dcm")
    assert da.SOPClassUID == pydicom.uid.UltrasoundImageStorage and "NumberOfFrames" not in da
    assert da.SOPInstanceUID == db.SOPInstanceUID != ds.SOPInstanceUID


def test_the_ultrasound_reader_reads_the_spacing_from_the_regions(tmp_path):
    pytest.importorskip("core.io.ultrasound")
    from core.io.registry import reader_for
    from core.io.ultrasound_spacing import spacing_for

    s = drain(write_carotid_study(tmp_path / "c.dcm", 4))
    reader = reader_for(tmp_path / "c.dcm")
    assert reader.name == "ultrasound"
    (info,) = drain(reader.scan(tmp_path / "c.dcm"))
    assert info.kind == "us" and info.n_frames == 2
    assert info.meta["pixel_spacing_mm"] == pytest.approx([0.06, 0.06])
    assert info.meta["spacing_source"] == "dicom regions"
    _, box = s.rois[0]
    assert spacing_for(info.meta, box) == pytest.approx((0.06, 0.06))
