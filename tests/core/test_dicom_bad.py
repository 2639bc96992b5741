"""Bad DICOM input, written by the tests with pydicom: each problem is detected and
reported, nothing crashes, and the valid series still loads."""

from __future__ import annotations

import json
import math

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_modality_lut
from test_dicom_cases import PATIENT_ID, PATIENT_NAME, ct_dataset, phantom, write_series

from core.events import Notice, drain
from core.io.dicom import CtVolume, DicomError, DicomSeriesReader
from core.io.dicom_pixels import PADDING_HU
from core.io.dicom_scan import scan_series


def scan(path):
    events: list = []
    infos = drain(DicomSeriesReader().scan(path), events.append)
    return infos, "\n".join(e.message for e in events if isinstance(e, Notice))


def only(path):
    series = drain(scan_series(path))
    assert len(series) == 1
    return series[0]


def codes(series):
    return {p.code for p in series.problems}


@pytest.mark.filterwarnings("ignore:End of file reached")  # pydicom on junk.dcm
def test_mixed_series_in_one_folder(tmp_path):
    a, b = phantom(4, seed=1), phantom(6, seed=2)
    write_series(tmp_path, a, names=[f"a{k}.dcm" for k in range(4)], series_number=3,
                 description="arterial")
    write_series(tmp_path, b, names=[f"b{k}.dcm" for k in range(6)], series_number=4,
                 description="venous", z=[100 + 1.5 * k for k in range(6)])
    write_series(tmp_path, phantom(3), names=[f"m{k}.dcm" for k in range(3)], modality="MR",
                 series_number=5)
    (tmp_path / "junk.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\xff" * 40)
    infos, notes = scan(tmp_path)
    assert sorted(i.meta["description"] for i in infos) == ["arterial", "venous"]
    assert "modality is MR" in notes and "3 series found" in notes
    assert "not readable DICOM" in notes and "junk.dcm" in notes
    venous = next(i for i in infos if i.meta["description"] == "venous")
    with DicomSeriesReader().open(venous) as vol:
        assert vol.spacing_mm[0] == pytest.approx(1.5)
        np.testing.assert_allclose(vol.hu(), b)


def test_order_is_by_position_not_instance_number(tmp_path):
    hu = phantom(5)
    # files named and numbered in a scrambled order
    write_series(tmp_path, hu, names=["c.dcm", "a.dcm", "e.dcm", "b.dcm", "d.dcm"],
                 instances=[3, 5, 1, 4, 2])
    np.testing.assert_allclose(CtVolume(only(tmp_path)).hu(), hu)


def test_duplicated_slice(tmp_path):
    hu = phantom(5)
    write_series(tmp_path, hu)
    ds = pydicom.dcmread(tmp_path / "IM0002.dcm")
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(tmp_path / "copy.dcm")
    s = only(tmp_path)
    assert s.usable and "duplicate" in codes(s) and s.shape[0] == 5
    assert ("copy.dcm", "duplicate position") in s.excluded or \
        ("IM0002.dcm", "duplicate position") in s.excluded
    np.testing.assert_allclose(CtVolume(s).hu(), hu)
    _, notes = scan(tmp_path)
    assert "repeat the position" in notes


def test_missing_slice_is_reported_and_interpolated(tmp_path):
    hu = phantom(6)
    keep = [0, 1, 2, 4, 5]  # plane 3 missing
    write_series(tmp_path, hu[keep], z=[2.0 * k for k in keep])
    s = only(tmp_path)
    assert s.usable and codes(s) == {"gap"} and s.shape == (6, 24, 28)
    assert "1 slice missing" in s.problems[0].message
    vol = CtVolume(s)
    out = vol.hu()
    np.testing.assert_allclose(out[keep], hu[keep])
    np.testing.assert_allclose(out[3], (hu[2] + hu[4]) / 2, atol=1e-4)
    np.testing.assert_allclose(vol.voxel_to_world([5, 0, 0]), [-10, -20, 10.0], atol=1e-6)


def test_nonuniform_spacing_is_resampled(tmp_path):
    z = [0.0, 1.0, 2.0, 3.6, 4.6, 5.6]
    hu = phantom(6)
    write_series(tmp_path, hu, z=z)
    s = only(tmp_path)
    assert "nonuniform" in codes(s) and s.spacing_mm[0] == pytest.approx(1.0)
    assert s.shape[0] == 6  # 0..5 mm at 1 mm
    out = CtVolume(s).hu()
    np.testing.assert_allclose(out[:3], hu[:3])
    # z = 3.0 lies 1.0 of 1.6 mm from slice 2 (z 2.0) to slice 3 (z 3.6)
    np.testing.assert_allclose(out[3], 0.375 * hu[2] + 0.625 * hu[3], atol=1e-3)


def test_gantry_tilt_detected_and_geometry_exact(tmp_path):
    tilt = 15.0
    d = 2.0
    positions = [(-10.0, -20.0 + k * d * math.tan(math.radians(tilt)), k * d)
                 for k in range(5)]
    write_series(tmp_path, phantom(5), positions=positions, tilt=tilt)
    s = only(tmp_path)
    assert s.usable and "tilt" in codes(s) and s.tilt_deg == pytest.approx(tilt, abs=0.01)
    assert s.spacing_mm[0] == pytest.approx(d)
    vol = CtVolume(s)
    for k, p in enumerate(positions):
        np.testing.assert_allclose(vol.voxel_to_world([k, 0, 0]), p, atol=1e-3)
    ijk = np.random.default_rng(0).uniform(0, 20, (50, 3))
    np.testing.assert_allclose(vol.world_to_voxel(vol.voxel_to_world(ijk)), ijk, atol=1e-9)
    info, notes = scan(tmp_path)
    assert "gantry tilt of 15.00" in notes and info[0].meta["tilt_deg"] == pytest.approx(15, 0.01)


def test_oblique_orientation_round_trip(tmp_path):
    a = math.radians(30)
    ori = (math.cos(a), math.sin(a), 0.0, 0.0, 0.0, -1.0)  # oblique-coronal
    normal = np.cross(ori[:3], ori[3:])
    positions = [tuple(np.array([5.0, -3.0, 40.0]) + 1.25 * k * normal) for k in range(4)]
    write_series(tmp_path, phantom(4), positions=positions, orientation=ori)
    vol = CtVolume(only(tmp_path))
    assert vol.spacing_mm[0] == pytest.approx(1.25, abs=1e-3)
    p = vol.voxel_to_world([2, 3, 4])
    expect = positions[2] + 3 * 0.7 * np.array(ori[3:]) + 4 * 0.8 * np.array(ori[:3])
    np.testing.assert_allclose(p, expect, atol=1e-3)
    np.testing.assert_allclose(vol.world_to_voxel(p), [2, 3, 4], atol=1e-6)


def test_non_ct_alone_and_single_slice_are_refused_with_reasons(tmp_path):
    write_series(tmp_path / "mr", phantom(3), modality="MR")
    with pytest.raises(DicomError, match="modality is MR"):
        drain(DicomSeriesReader().scan(tmp_path / "mr"))
    write_series(tmp_path / "one", phantom(1))
    with pytest.raises(DicomError, match="single 2-D slice"):
        drain(DicomSeriesReader().scan(tmp_path / "one"))
    write_series(tmp_path / "one" / "good", phantom(3))  # a valid series beside it
    infos, notes = scan(tmp_path / "one")
    assert len(infos) == 1 and infos[0].n_frames == 3 and "single 2-D slice" in notes


def test_localizer_and_derived_are_listed_not_stacked(tmp_path):
    hu = phantom(4)
    uid = pydicom.uid.generate_uid()
    write_series(tmp_path, hu, series_uid=uid)
    # a localiser inside the axial series (some scanners do this), at another orientation
    scout = ct_dataset(np.zeros((24, 28), np.int16), series_uid=uid, position=(0, 0, 0),
                       orientation=(1, 0, 0, 0, 0, -1),
                       image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"))
    scout.save_as(tmp_path / "scout.dcm", enforce_file_format=True)
    write_series(tmp_path, phantom(3), names=["s1.dcm", "s2.dcm", "s3.dcm"], series_number=9,
                 image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"))
    write_series(tmp_path, phantom(3), names=["r1.dcm", "r2.dcm", "r3.dcm"], series_number=8,
                 image_type=("DERIVED", "SECONDARY", "REFORMATTED"))
    infos, notes = scan(tmp_path)
    assert len(infos) == 1 and infos[0].n_frames == 4
    assert "localizer (scout) series" in notes and "derived images" in notes
    s = next(s for s in drain(scan_series(tmp_path)) if s.usable)
    assert ("scout.dcm", "localizer") in s.excluded and "excluded" in codes(s)
    np.testing.assert_allclose(CtVolume(s).hu(), hu)


def test_rescale_padding_and_unused_bits_equal_pydicom(tmp_path):
    rng = np.random.default_rng(3)
    stored = rng.integers(-2048, 2047, (3, 16, 20)).astype(np.int16)
    stored[:, 0, :] = -2000  # padding
    uid = pydicom.uid.generate_uid()
    for k in range(3):
        raw = stored[k].copy()
        raw[1, :5] |= np.int16(-0x1000)  # garbage in bits above BitsStored 12
        raw[2, :5] = (raw[2, :5] & 0x0FFF)  # negative values with high bits cleared
        ds = ct_dataset(raw, series_uid=uid, position=(0, 0, 3.0 * k), slope=0.37,
                        intercept=-1000.5, bits_stored=12, padding=-2000, instance=k + 1)
        ds.save_as(tmp_path / f"{k}.dcm", enforce_file_format=True)
    s = only(tmp_path)
    assert all(o > 0 for o in s.offsets)  # the fast native path
    hu = CtVolume(s).hu()
    for k in range(3):
        ds = pydicom.dcmread(tmp_path / f"{k}.dcm")
        arr = ds.pixel_array  # pydicom sign-corrects BitsStored 12
        ref = apply_modality_lut(arr, ds).astype(np.float32)
        ref[arr == -2000] = PADDING_HU
        np.testing.assert_array_equal(hu[k], ref)
    assert (hu[:, 0, :] == PADDING_HU).all()


def test_rle_compressed_series_decodes_through_pydicom(tmp_path):
    hu = phantom(3)
    paths = write_series(tmp_path, hu)
    for p in paths:
        ds = pydicom.dcmread(p)
        ds.compress(pydicom.uid.RLELossless)
        ds.save_as(p)
    s = only(tmp_path)
    assert s.offsets == (-1, -1, -1) and s.usable
    np.testing.assert_allclose(CtVolume(s).hu(), hu)


def test_no_patient_data_in_notices_meta_or_index(tmp_path):
    write_series(tmp_path / "a", phantom(3))
    write_series(tmp_path / "a", phantom(1), names=["single.dcm"])
    write_series(tmp_path / "b", phantom(4))
    infos, notes = scan(tmp_path)
    text = json.dumps([[i.meta, i.name, i.index, i.subject] for i in infos]) + notes
    assert PATIENT_NAME not in text and "DOE" not in text and PATIENT_ID not in text
    assert {i.subject for i in infos} == {infos[0].subject} and infos[0].subject.startswith("P")


def test_volume_is_cached_read_only_and_progress_is_reported(tmp_path):
    write_series(tmp_path, phantom(40, rows=8, cols=8))
    vol = CtVolume(only(tmp_path))
    events: list = []
    hu = drain(vol.load(), events.append)
    assert events[-1].done == events[-1].total == 40 and hu is vol.hu()
    with pytest.raises(ValueError):
        hu[0, 0, 0] = 1.0


def test_changed_file_is_reported_when_loading(tmp_path):
    paths = write_series(tmp_path / "a", phantom(3))
    s = only(tmp_path / "a")
    paths[1].write_bytes(paths[1].read_bytes()[:-100])  # truncated since the scan
    with pytest.raises(DicomError, match="truncated"):
        CtVolume(s).hu()
    paths = write_series(tmp_path / "b", phantom(3))
    s = only(tmp_path / "b")
    paths[2].unlink()
    with pytest.raises(DicomError, match="IM0002.*moved or deleted"):
        CtVolume(s).hu()


def test_odd_encodings_read_alike_by_both_header_readers(tmp_path):
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    from core.io.dicom_header import read_fast
    from core.io.dicom_scan import read_headers

    hu = phantom(3)
    paths = write_series(tmp_path / "s", hu, padding=-2000)
    # 0: implicit VR little endian
    ds = pydicom.dcmread(paths[0])
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    ds.save_as(paths[0], implicit_vr=True, little_endian=True)
    # 1: nested sequences of undefined length before the pixels
    ds = pydicom.dcmread(paths[1])
    inner = Dataset()
    inner.ReferencedSOPInstanceUID = "1.2.3"
    item = Dataset()
    item.ReferencedSOPClassUID = pydicom.uid.CTImageStorage
    item.DerivationCodeSequence = Sequence([inner])
    ds.SourceImageSequence = Sequence([item, item])
    for elem in (ds["SourceImageSequence"], item["DerivationCodeSequence"]):
        elem.is_undefined_length = True
    item.is_undefined_length_sequence_item = inner.is_undefined_length_sequence_item = True
    ds.save_as(paths[1])
    # 2: a raw data set without preamble or file meta (old exports)
    ds = pydicom.dcmread(paths[2])
    del ds.file_meta
    ds.preamble = None
    ds.save_as(paths[2], enforce_file_format=False, implicit_vr=True, little_endian=True)
    assert paths[2].read_bytes()[:2] == b"\x08\x00"
    assert pydicom.dcmread(paths[1]).SourceImageSequence[0].DerivationCodeSequence
    for k, p in enumerate(paths):
        assert (read_fast(p) is None) == (k == 2)
        assert read_headers(str(p), fast=True) == read_headers(str(p), fast=False)
    s = only(tmp_path / "s")
    assert s.usable and all(o > 0 for o in s.offsets)
    np.testing.assert_allclose(CtVolume(s).hu(), hu)


def test_modality_lut_sequence_goes_through_pydicom(tmp_path):
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    uid = pydicom.uid.generate_uid()
    stored = np.arange(24 * 28, dtype=np.int16).reshape(24, 28) % 200
    lut = (np.arange(256) * 3 - 1000).astype(np.uint16)  # stored v -> 3 v - 1000 (as US)
    for k in range(2):
        ds = ct_dataset(stored, series_uid=uid, position=(0, 0, 2.0 * k), signed=False,
                        instance=k + 1)
        del ds.RescaleSlope, ds.RescaleIntercept
        item = Dataset()
        item.LUTDescriptor = [256, 0, 16]
        item.ModalityLUTType = "HU"
        item.add_new(0x00283006, "US", lut.tolist())  # LUTData
        ds.ModalityLUTSequence = Sequence([item])
        ds.save_as(tmp_path / f"{k}.dcm", enforce_file_format=True)
    s = only(tmp_path)
    assert s.pixel["modality_lut"]
    hu = CtVolume(s).hu()
    ds = pydicom.dcmread(tmp_path / "0.dcm")
    np.testing.assert_array_equal(hu[0], apply_modality_lut(ds.pixel_array, ds))
