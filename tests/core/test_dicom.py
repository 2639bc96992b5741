"""The DICOM CT series reader on real files: series assembly, HU, geometry, odd files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_modality_lut
from test_dicom_cases import phantom, write_series

import core.io.dicom_pixels as dicom_pixels
from core.events import Notice, drain
from core.io.dicom import CtVolume, DicomError, DicomSeriesReader
from core.io.dicom_pixels import PADDING_HU
from core.io.dicom_scan import pseudonym, scan_series
from core.io.registry import reader_for, reader_for_kind

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"
CT3 = DATA / "ct_3slice"
MISC = DATA / "dicom_misc"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"test data {path} not present")
    return path


def reference_hu(path: Path, frame: int | None = None) -> np.ndarray:
    """pydicom's own decode + modality LUT, padding set to air: what ours must equal."""
    ds = pydicom.dcmread(path)
    arr = ds.pixel_array if frame is None else ds.pixel_array[frame]
    if frame is None:
        hu = apply_modality_lut(arr, ds).astype(np.float32)
    else:  # enhanced: the rescale lives in the functional groups
        pvt = ds.SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence[0]
        hu = (arr * float(pvt.RescaleSlope) + float(pvt.RescaleIntercept)).astype(np.float32)
    pad = ds.get("PixelPaddingValue")
    if pad is not None:
        hu[arr == pad] = PADDING_HU
    return hu


def test_ct_3slice_assembly_spacing_from_positions_and_hu():
    root = need(CT3)
    series = drain(scan_series(root))
    ct = [s for s in series if s.modality == "CT"]
    assert len(ct) == 1 and ct[0].usable
    s = ct[0]
    thickness = float(pydicom.dcmread(root / "01.dcm", stop_before_pixels=True).SliceThickness)
    assert thickness == 1.25
    assert s.spacing_mm[0] == pytest.approx(1.0, abs=1e-6)  # from positions, not 1.25
    assert s.spacing_mm[1:] == pytest.approx((0.810547, 0.810547))
    # z = -126.69 / -127.69 / -128.69 for files 01/02/03: ascending along the normal (+z)
    assert s.files == ("03.dcm", "02.dcm", "01.dcm")
    assert s.shape == (3, 512, 512) and not s.problems
    seg = [x for x in series if x.modality == "SEG"]
    assert len(seg) == 1 and not seg[0].usable and seg[0].problems[0].code == "not_ct"

    vol = CtVolume(s)
    hu = vol.hu()
    assert hu.dtype == np.float32 and hu.shape == (3, 512, 512)
    for k, name in enumerate(s.files):
        np.testing.assert_array_equal(hu[k], reference_hu(root / name))
    assert hu.min() == PADDING_HU  # -2000 padding (-3024 HU) clipped to air
    assert -1050 < float(np.median(hu[:, 30:60, 220:290])) < -950  # air in front of the body
    assert 0 < float(np.median(hu[:, 180:240, 200:312])) < 100  # soft tissue
    assert vol.hu() is hu and not hu.flags.writeable


def test_reader_registered_and_patient_safe():
    root = need(CT3)
    reader = reader_for(root)
    assert reader.name == "dicom" and reader_for_kind("ct_series") is reader
    events: list = []
    infos = drain(reader.scan(root), events.append)
    assert len(infos) == 1
    info = infos[0]
    assert info.kind == "ct_series" and (info.n_frames, info.height, info.width) == (3, 512, 512)
    assert info.subject == pseudonym("99000") and info.subject.startswith("P")
    meta = info.meta
    assert meta["spacing_mm"] == pytest.approx([1.0, 0.810547, 0.810547])
    assert meta["shape"] == [3, 512, 512] and meta["orientation"] == [1, 0, 0, 0, 1, 0]
    assert meta["origin"] == pytest.approx([-235.199997, -226.800003, -128.690002])
    assert meta["series_uid"].endswith("23430.1") and meta["problems"] == []
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert any("SEG" in m and "Left out" in m for m in notices)
    text = json.dumps([meta, info.name, info.index, notices])
    name = str(pydicom.dcmread(root / "01.dcm", stop_before_pixels=True).PatientName)
    assert name not in text and "99000" not in text


def test_open_from_index_and_after_a_move(tmp_path):
    root = need(CT3)
    reader = DicomSeriesReader()
    info = drain(reader.scan(root))[0]
    with reader.open(info) as vol:
        hu = vol.hu().copy()
    moved = tmp_path / "moved"
    shutil.copytree(root, moved)
    study = type("S", (), {"path": str(moved), "meta": info.meta, "index": None})()
    with reader.open(study, index=info.index) as vol2:  # stored index, new place
        np.testing.assert_array_equal(vol2.hu(), hu)
    with reader.open(study) as vol3:  # no index: scanned again, series picked by UID
        np.testing.assert_array_equal(vol3.hu(), hu)
    vol3.close()
    with pytest.raises(ValueError, match="closed"):
        vol3.hu()


def test_world_voxel_round_trip_matches_dicom_positions():
    root = need(CT3)
    s = drain(scan_series(root))[-1]
    vol = CtVolume(s)
    for k, name in enumerate(s.files):
        ds = pydicom.dcmread(root / name, stop_before_pixels=True)
        ipp = np.array([float(v) for v in ds.ImagePositionPatient])
        np.testing.assert_allclose(vol.voxel_to_world([k, 0, 0]), ipp, atol=1e-6)
        # one column step = +x by PixelSpacing[1], one row step = +y by PixelSpacing[0]
        np.testing.assert_allclose(vol.voxel_to_world([k, 10, 20]),
                                   ipp + [20 * 0.810547, 10 * 0.810547, 0], atol=1e-6)
    rng = np.random.default_rng(1)
    ijk = rng.uniform(-5, 515, (200, 3))
    np.testing.assert_allclose(vol.world_to_voxel(vol.voxel_to_world(ijk)), ijk, atol=1e-9)


def test_enhanced_multiframe_ct():
    path = need(MISC) / "eCT_Supplemental.dcm"
    s = drain(scan_series(path))[0]
    assert s.usable and s.enhanced and s.shape == (2, 512, 512)
    assert s.spacing_mm == pytest.approx((10.0, 0.388672, 0.388672))
    # orientation (-1,0,0, 0,1,0): normal -z, so frame 1 (z -149) comes before frame 0 (-159)
    assert s.frames == (1, 0)
    hu = CtVolume(s).hu()
    for k, f in enumerate(s.frames):
        np.testing.assert_array_equal(hu[k], reference_hu(path, frame=f))
    info = drain(DicomSeriesReader().scan(path))[0]
    assert info.meta["enhanced_multiframe"] is True


def _two_slice_copy(src: Path, folder: Path) -> list[Path]:
    """Two files of one series from one slice: the second moved 5 mm along z."""
    folder.mkdir(parents=True)
    out = []
    for k in range(2):
        ds = pydicom.dcmread(src)
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
        z = float(ds.ImagePositionPatient[2]) + 5.0 * k
        ds.ImagePositionPatient = [ds.ImagePositionPatient[0], ds.ImagePositionPatient[1], z]
        ds.save_as(folder / f"s{k}.dcm")
        out.append(folder / f"s{k}.dcm")
    return out


def test_jpeg2000_with_decoder(tmp_path):
    pytest.importorskip("openjpeg")  # pylibjpeg-openjpeg
    src = need(MISC) / "693_J2KR.dcm"
    files = _two_slice_copy(src, tmp_path / "j2k")
    s = drain(scan_series(tmp_path / "j2k"))[0]
    assert s.usable and s.offsets == (-1, -1)  # encapsulated: decoded through pydicom
    hu = CtVolume(s).hu()
    ref = reference_hu(files[0])
    np.testing.assert_array_equal(hu[0], ref)
    np.testing.assert_array_equal(hu[1], ref)


def test_jpeg2000_without_decoder_is_reported_and_the_valid_series_loads(tmp_path, monkeypatch):
    src = need(MISC) / "693_J2KR.dcm"
    _two_slice_copy(src, tmp_path / "mixed" / "j2k")
    write_series(tmp_path / "mixed" / "plain", phantom(4))
    monkeypatch.setattr(dicom_pixels, "decoder_available", lambda ts: False)
    events: list = []
    infos = drain(DicomSeriesReader().scan(tmp_path / "mixed"), events.append)
    assert len(infos) == 1 and infos[0].meta["description"] == "CTPA test"
    msg = " ".join(e.message for e in events if isinstance(e, Notice))
    assert "JPEG 2000" in msg and "pylibjpeg-openjpeg" in msg and "Left out" in msg
    with pytest.raises(DicomError, match="pylibjpeg-openjpeg"):
        drain(DicomSeriesReader().scan(tmp_path / "mixed" / "j2k"))


def test_misc_folder_reports_every_non_volume():
    root = need(MISC)
    events: list = []
    infos = drain(DicomSeriesReader().scan(root), events.append)
    assert [i.meta["enhanced_multiframe"] for i in infos] == [True]
    msg = "\n".join(e.message for e in events if isinstance(e, Notice))
    assert msg.count("modality is US") == 3 and "modality is MR" in msg
    assert "single 2-D slice" in msg  # the two 693 files: one slice position


def test_dicomdir(tmp_path):
    from pydicom.fileset import FileSet

    paths = write_series(tmp_path / "src", phantom(5))
    fs = FileSet()
    for p in paths:
        fs.add(pydicom.dcmread(p))
    fs.write(tmp_path / "media")
    dicomdir = tmp_path / "media" / "DICOMDIR"
    reader = reader_for(dicomdir)
    assert reader.name == "dicom"
    infos = drain(reader.scan(dicomdir))
    assert len(infos) == 1 and infos[0].n_frames == 5
    with reader.open(infos[0]) as vol:
        np.testing.assert_allclose(vol.hu(), phantom(5))


def test_can_read_is_precise(tmp_path):
    reader = DicomSeriesReader()
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (tmp_path / "frames" / "notes").write_bytes(b"hello" * 40)
    assert not reader.can_read(tmp_path / "frames")
    write_series(tmp_path / "deep" / "patient" / "study" / "series", phantom(2))
    assert reader.can_read(tmp_path / "deep")
    assert not reader.can_read(tmp_path / "missing")


def test_fast_header_reader_equals_pydicom_on_real_files():
    from core.io.dicom_header import read_fast
    from core.io.dicom_scan import read_headers

    files = sorted(need(CT3).glob("*.dcm")) + sorted(need(MISC).glob("*.dcm"))
    fast = 0
    for f in files:
        fast += read_fast(f) is not None
        assert read_headers(str(f), fast=True) == read_headers(str(f), fast=False), f.name
    assert fast >= 7  # the single-frame files; multi-frame and SEG go through pydicom
