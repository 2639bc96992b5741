"""DICOM SEG: the real liver SEG on the 3 real CT slices; write/read round trip; import."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pytest

from core.events import drain
from core.io.geometry3d import VolumeGeometry
from core.io.marks_seg import SegError, import_seg, read_seg, study_mask_volume, write_seg
from core.store import Mask, Project
from core.store.history import AnnotationHistory

pydicom = pytest.importorskip("pydicom")

FOLDER = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "ct_3slice"
SEG = FOLDER / "liver_SEG.dcm"


@pytest.fixture(scope="module")
def series():
    """The 3 slices read with plain pydicom, ordered along r x c: (headers, geometry)."""
    if not SEG.is_file():
        pytest.skip("shared test data absent")
    ds = [pydicom.dcmread(FOLDER / f"0{i}.dcm", stop_before_pixels=True) for i in (1, 2, 3)]
    iop = np.array(ds[0].ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    ds.sort(key=lambda d: float(normal @ np.array(d.ImagePositionPatient, float)))
    g = VolumeGeometry.from_slices([d.ImagePositionPatient for d in ds], iop,
                                   [float(v) for v in ds[0].PixelSpacing], ds[0].Rows,
                                   ds[0].Columns)
    return ds, g


def _nrrd(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(volume (Z, Y, X), origin) of the gzip NRRD beside the SEG, read by hand."""
    raw = path.read_bytes()
    head, _, body = raw.partition(b"\n\n")
    text = head.decode()
    assert "type: short" in text and "encoding: gzip" in text and "sizes: 512 512 3" in text
    origin = np.array(re.search(r"space origin: \(([^)]*)\)", text).group(1).split(","), float)
    vol = np.frombuffer(gzip.decompress(body), "<i2").reshape(3, 512, 512)  # x fastest
    return vol, origin


def test_liver_seg_lands_on_the_right_slices(series):
    ds, g = series
    uids = [str(d.SOPInstanceUID) for d in ds]
    seg = read_seg(SEG, g, sop_uids=uids, series_uid=str(ds[0].SeriesInstanceUID))
    assert [(s.number, s.label, s.property_type) for s in seg.segments] == [(1, "Liver",
                                                                             "Liver")]
    assert seg.referenced_series_uid == str(ds[0].SeriesInstanceUID)
    assert seg.planes == (0, 1, 2) and seg.notes == ()
    liver = seg.masks[1]
    assert liver.shape == (3, 512, 512) and liver.dtype == bool
    assert int(liver.sum()) == 107_098  # README: 107,098 foreground voxels
    # the SEG lists frames 03, 02, 01: plane 0 is the lowest slice (03.dcm, z = -128.69)
    assert ds[0].InstanceNumber == 3
    raw = pydicom.dcmread(SEG).pixel_array
    per_frame = {str(f.DerivationImageSequence[0].SourceImageSequence[0]
                     .ReferencedSOPInstanceUID): raw[i]
                 for i, f in enumerate(pydicom.dcmread(SEG).PerFrameFunctionalGroupsSequence)}
    for k, uid in enumerate(uids):
        np.testing.assert_array_equal(liver[k], per_frame[uid] > 0)
    # an independent export of the same segmentation (NRRD, LPS, origin at plane 0)
    vol, origin = _nrrd(FOLDER / "liver_seg.nrrd")
    np.testing.assert_allclose(origin, g.origin_mm, atol=1e-4)
    np.testing.assert_array_equal(liver, vol > 0)
    np.testing.assert_array_equal(seg.union(), liver)
    assert seg.to_dict()["segments"][0]["voxels"] == 107_098


def test_the_same_seg_on_a_reversed_series_flips_the_planes(series):
    """Planes ordered the other way (01 first, normal -z): the mask follows the positions."""
    ds, g = series
    rev = VolumeGeometry.from_slices([d.ImagePositionPatient for d in ds[::-1]],
                                     g.orientation, g.spacing_mm[1:], 512, 512)
    assert rev.slice_normal == pytest.approx((0, 0, -1))
    a = read_seg(SEG, g).masks[1]
    b = read_seg(SEG, rev, sop_uids=[str(d.SOPInstanceUID) for d in ds[::-1]]).masks[1]
    np.testing.assert_array_equal(a[::-1], b)


def test_misaligned_series_are_refused(series):
    ds, g = series
    uids = [str(d.SOPInstanceUID) for d in ds]
    with pytest.raises(SegError, match="names slice 2 of the series as its source but lies "
                                       "on plane 0"):
        read_seg(SEG, g, sop_uids=uids[::-1])
    with pytest.raises(SegError, match="not 1.2.3"):
        read_seg(SEG, g, series_uid="1.2.3")
    half = VolumeGeometry(np.asarray(g.origin_mm) + [0.4, 0, 0], g.spacing_mm, g.orientation,
                          g.shape)
    with pytest.raises(SegError, match="between the series' voxels"):
        read_seg(SEG, half)
    coarse = VolumeGeometry(g.origin_mm, (1.0, 1.0, 1.0), g.orientation, g.shape)
    with pytest.raises(SegError, match="resampling is not supported"):
        read_seg(SEG, coarse)
    tilted = VolumeGeometry(g.origin_mm, g.spacing_mm, (1, 0, 0, 0, 0, -1), g.shape)
    with pytest.raises(SegError, match="oriented"):
        read_seg(SEG, tilted)
    with pytest.raises(SegError, match="not a DICOM Segmentation"):
        read_seg(FOLDER / "01.dcm", g)
    # a larger volume: the SEG's planes land inside it, a shifted grid drops one
    shifted = VolumeGeometry(np.asarray(g.origin_mm) + [0, 0, 2.0], g.spacing_mm,
                             g.orientation, g.shape)
    got = read_seg(SEG, shifted)
    assert got.planes == (0,) and len(got.notes) == 2 and "outside the series" in got.notes[0]


def test_write_then_read_round_trip(tmp_path, series):
    pytest.importorskip("highdicom")
    ds, g = series
    rng = np.random.default_rng(3)
    emb = np.zeros(g.shape, bool)
    emb[1, 200:230, 300:317] = True
    emb[2, 10, 500] = True
    other = rng.random(g.shape) > 0.995
    other[0] = False  # an empty plane in one segment
    files = [FOLDER / f"0{d.InstanceNumber}.dcm" for d in ds]
    out = write_seg(tmp_path / "marks_seg.dcm", {"embolus": emb, "nodule": other}, files,
                    geometry=g)
    back = read_seg(out, g, sop_uids=[str(d.SOPInstanceUID) for d in ds],
                    series_uid=str(ds[0].SeriesInstanceUID))
    assert [(s.number, s.label, s.property_type) for s in back.segments] == [
        (1, "embolus", "Embolus"), (2, "nodule", "Lesion")]
    np.testing.assert_array_equal(back.masks[1], emb)
    np.testing.assert_array_equal(back.masks[2], other)
    # highdicom's own reader agrees, slice by slice
    import highdicom as hd

    px = hd.seg.segread(out).get_pixels_by_source_instance(
        source_sop_instance_uids=[str(d.SOPInstanceUID) for d in ds], segment_numbers=[1, 2])
    np.testing.assert_array_equal(px > 0, np.stack([emb, other], axis=-1))
    # an empty mask still makes a valid SEG (every frame kept)
    empty = read_seg(write_seg(tmp_path / "empty.dcm", np.zeros(g.shape, bool), files), g)
    assert empty.planes == (0, 1, 2) and not empty.masks[1].any()
    written = pydicom.dcmread(out)
    # a SEG belongs to the series' patient and frame of reference (DICOM requires both)
    assert written.Modality == "SEG" and written.PatientID == ds[0].PatientID
    assert written.FrameOfReferenceUID == ds[0].FrameOfReferenceUID
    # the plane order is checked against the geometry
    with pytest.raises(SegError, match="plane order"):
        write_seg(tmp_path / "x.dcm", emb, files[::-1], geometry=g)
    with pytest.raises(SegError, match="do not match"):
        write_seg(tmp_path / "x.dcm", emb[:2], files)


def test_import_into_a_study_and_back(tmp_path, series):
    ds, g = series
    with Project.create(tmp_path / "proj") as project:
        meta = {"series_uid": str(ds[0].SeriesInstanceUID), **g.to_meta()}
        st = project.add_study(str(FOLDER), "hash-ct3", "ct_series", "emboli", 3, 0.0, 512, 512,
                               name="ct3", meta=meta)
        project.add_annotation(st.id, "mask", Mask(np.ones((512, 512), bool)), frame=2,
                               value="Liver")
        hist = AnnotationHistory(project, user="dr_a")
        rep = drain(import_seg(project, st.id, SEG, history=hist))
        assert (rep.added, rep.replaced, rep.unchanged) == (2, 1, 0)
        assert rep.segments[0].label == "Liver"
        vol = study_mask_volume(project, st)
        assert int(vol.sum()) == 107_098
        np.testing.assert_array_equal(vol, read_seg(SEG, g).masks[1])
        assert drain(import_seg(project, st.id, SEG)).unchanged == 3
        hist.undo()
        assert project.annotations(st.id, kind="mask", frame=2)[0].geometry.array.all()
        assert project.annotations(st.id, kind="mask", frame=0) == []
        bare = project.add_study("/x", "hash-bare", "ct_series", "emboli", 3, 0.0, 512, 512)
        with pytest.raises(SegError, match="no volume geometry"):
            drain(import_seg(project, bare.id, SEG))
