"""The ultrasound DICOM reader and the single still image reader."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pydicom
import pytest
from pydicom.pixels import convert_color_space
from test_ultrasound_cases import need, region, write_us

import core.io.ultrasound  # noqa: F401  (registers the readers)
from core.events import Notice, drain
from core.io.base import FrameSource
from core.io.dicom_pixels import DicomError
from core.io.importer import import_path, open_study
from core.io.registry import reader_for, reader_for_kind, readers
from core.io.ultrasound import UltrasoundReader
from core.io.ultrasound_pixels import to_grey
from core.io.ultrasound_still import StillImageReader
from core.store import Project

RNG = np.random.default_rng(7)


def scan(path):
    events = []
    gen = UltrasoundReader().scan(path)
    try:
        while True:
            events.append(next(gen))
    except StopIteration as stop:
        return stop.value, [e for e in events if isinstance(e, Notice)]


def luma(rgb: np.ndarray) -> np.ndarray:
    return np.rint(rgb.astype(np.float64) @ [0.299, 0.587, 0.114])


def test_registry_asks_ultrasound_before_ct_and_still_before_frames():
    names = [r.name for r in readers()]
    assert names.index("ultrasound") < names.index("dicom")
    assert names.index("image") < names.index("frames")
    assert reader_for_kind("us").name == "ultrasound"
    assert reader_for_kind("image").name == "image"


def test_multiframe_monochrome_with_regions(tmp_path):
    frames = RNG.integers(0, 256, (4, 40, 60), dtype=np.uint8)
    f = write_us(tmp_path / "clip.dcm", frames, frame_time_ms=40.0,
                 regions=[region(0, 0, 59, 39, 0.006)])
    assert reader_for(f).name == "ultrasound"
    (info,), notices = scan(f)
    assert (info.kind, info.n_frames, info.height, info.width) == ("us", 4, 40, 60)
    assert info.fps == pytest.approx(25.0)
    assert info.meta["pixel_spacing_mm"] == pytest.approx([0.06, 0.06])
    assert info.meta["spacing_source"] == "dicom regions"
    assert info.meta["us_regions"][0]["dx_mm"] == pytest.approx(0.06)
    assert info.subject and info.subject.startswith("P") and "PAT" not in info.subject
    assert not notices
    with UltrasoundReader().open(info) as src:
        assert isinstance(src, FrameSource)
        assert (src.n_frames, src.shape) == (4, (40, 60))
        for k in range(4):
            rgb = src.read(k)
            assert rgb.shape == (40, 60, 3) and rgb.dtype == np.uint8
            assert np.array_equal(rgb[..., 0], frames[k])
            assert np.array_equal(rgb[..., 0], rgb[..., 2])
        assert np.array_equal(src.read_many([3, 1])[:, :, :, 1], frames[[3, 1]])
        with pytest.raises(IndexError):
            src.read(4)
    with pytest.raises(ValueError, match="closed"):
        src.read(0)


def test_monochrome1_inverted_and_16_bit_scaled(tmp_path):
    frame = RNG.integers(0, 4096, (1, 20, 30)).astype(np.uint16)
    f = write_us(tmp_path / "m1.dcm", frame[0], photometric="MONOCHROME1", bits=12)
    (info,), notices = scan(f)
    with UltrasoundReader().open(info) as src:
        grey = src.read_grey(0)
    expect = 255 - np.clip(np.rint(frame[0] * (255 / 4095)), 0, 255)
    assert np.array_equal(grey, expect.astype(np.uint8))
    assert any("no ultrasound regions nor pixel spacing" in n.message for n in notices)
    assert "pixel_spacing_mm" not in info.meta


def test_rgb_and_ybr_become_luma(tmp_path):
    rgb = RNG.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    f_rgb = write_us(tmp_path / "rgb.dcm", rgb, photometric="RGB")
    ybr = convert_color_space(rgb, "RGB", "YBR_FULL")
    f_ybr = write_us(tmp_path / "ybr.dcm", ybr, photometric="YBR_FULL")
    reader = UltrasoundReader()
    for f, tol in ((f_rgb, 1), (f_ybr, 3)):  # YBR: two 8-bit roundings on the way
        (info,), _ = scan(f)
        with reader.open(info) as src:
            grey = src.read_grey(0)
        assert np.abs(grey - luma(rgb)).max() <= tol


def test_palette_through_its_lut(tmp_path):
    idx = RNG.integers(0, 256, (16, 20), dtype=np.uint8)
    pal = np.zeros((256, 3), np.uint16)
    pal[:, 0] = np.arange(256) * 257  # red ramp only
    pal[:, 2] = 65535 - np.arange(256) * 257
    f = write_us(tmp_path / "pal.dcm", idx, photometric="PALETTE COLOR", palette=pal)
    (info,), _ = scan(f)
    with UltrasoundReader().open(info) as src:
        grey = src.read_grey(0)
    expect = luma(np.stack([idx, np.zeros_like(idx), 255 - idx], -1))
    assert np.abs(grey - expect).max() <= 1


def test_compressed_without_decoder_names_the_install(tmp_path):
    f = write_us(tmp_path / "mpeg.dcm", np.zeros((8, 8), np.uint8),
                 transfer_syntax="1.2.840.10008.1.2.4.100")  # MPEG2: no pydicom decoder
    with pytest.raises(DicomError, match=r'pip install "layertune\[dicom\]"'):
        scan(f)
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(f, folder / "a.dcm")
    write_us(folder / "b.dcm", np.zeros((8, 8), np.uint8))
    infos, notices = scan(folder)
    assert [i.name for i in infos] == ["b"]
    assert any("Left out a.dcm" in n.message for n in notices)


def test_folder_of_us_files_one_study_each_and_ct_folder_not_taken(tmp_path):
    for k in range(3):
        write_us(tmp_path / f"us{k}.dcm", np.full((10, 12), 40 * k, np.uint8))
    (tmp_path / "notes.txt").write_text("not dicom")
    assert UltrasoundReader().can_read(tmp_path)
    infos, _ = scan(tmp_path)
    assert [i.name for i in infos] == ["us0", "us1", "us2"]
    assert len({i.content_hash for i in infos}) == 3
    ct = tmp_path / "ct"
    ct.mkdir()
    write_us(ct / "x.dcm", np.zeros((8, 8), np.uint8), modality="CT")
    assert not UltrasoundReader().can_read(ct)
    assert not UltrasoundReader().can_read(tmp_path)  # a sub-folder: a tree, not ours


def test_not_ultrasound_file_refused_by_scan(tmp_path):
    f = write_us(tmp_path / "ct.dcm", np.zeros((8, 8), np.uint8), modality="CT")
    assert not UltrasoundReader().can_read(f)
    with pytest.raises(DicomError, match="not an ultrasound image"):
        scan(f)
    with pytest.raises(DicomError, match="gone.dcm.*was not found"):
        scan(tmp_path / "gone.dcm")


def test_import_into_project_and_open_again(tmp_path):
    frames = RNG.integers(0, 256, (3, 16, 24), dtype=np.uint8)
    f = write_us(tmp_path / "clip.dcm", frames, regions=[region(0, 0, 23, 15, 0.01)])
    with Project.create(tmp_path / "proj") as project:
        (study,) = drain(import_path(project, f, task="frame_quality"))
        assert study.kind == "us" and study.meta["spacing_source"] == "dicom regions"
        with open_study(project, study) as src:
            assert np.array_equal(src.read(2)[..., 0], frames[2])
    with open(f, "ab") as fh:  # the file changes after import
        fh.write(b"\0" * 16)
    with Project.open(tmp_path / "proj") as project, pytest.raises(DicomError, match="changed"):
        open_study(project, project.studies()[0])


def test_real_rgb_us_without_spacing():
    f = need("US1_UNCR.dcm")
    assert reader_for(f).name == "ultrasound"
    (info,), notices = scan(f)
    assert (info.height, info.width, info.n_frames) == (480, 640, 1)
    assert "pixel_spacing_mm" not in info.meta and info.meta["us_regions"] == []
    assert any("calibration" in n.message for n in notices)
    ds = pydicom.dcmread(f)
    with UltrasoundReader().open(info) as src:
        grey = src.read_grey(0)
    assert np.abs(grey - luma(ds.pixel_array)).max() <= 1


def test_real_palette_us_with_two_panes():
    f = need("gdcm-US-ALOKA-16.dcm")
    (info,), _ = scan(f)
    tissue = [r for r in info.meta["us_regions"] if r["spatial_format"] == 1]
    assert len(tissue) == 2
    # PhysicalDeltaX = 0.0382653... cm -> mm
    assert info.meta["pixel_spacing_mm"] == pytest.approx([0.3826530650258064] * 2)
    ds = pydicom.dcmread(f)
    with UltrasoundReader().open(info) as src:
        grey = src.read_grey(0)
    assert np.array_equal(grey, to_grey(ds.pixel_array, ds))
    assert grey.std() > 10  # an image, not a constant


def test_real_jpeg_lossless_us():
    f = need("JPGLosslessP14SV1_1s_1f_8b.dcm")
    (info,), _ = scan(f)
    assert (info.height, info.width) == (768, 1024)
    assert info.meta["pixel_spacing_mm"] == pytest.approx([0.25476696592378157] * 2)
    with UltrasoundReader().open(info) as src:
        grey = src.read_grey(0)
    assert np.array_equal(grey, pydicom.dcmread(f).pixel_array)


def test_still_image_reader(tmp_path):
    img = RNG.integers(0, 256, (30, 50, 3), dtype=np.uint8)
    f = tmp_path / "still.png"
    cv2.imwrite(str(f), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    assert reader_for(f).name == "image"
    (info,) = drain(StillImageReader().scan(f))
    assert (info.kind, info.n_frames, info.height, info.width) == ("image", 1, 30, 50)
    with StillImageReader().open(info) as src:
        assert np.array_equal(src.read(0), img)
    (tmp_path / "fake.png").write_bytes(b"not an image at all")
    assert not StillImageReader().can_read(tmp_path / "fake.png")
    moved = tmp_path / "moved.png"
    shutil.copy(f, moved)
    info2 = type(info)(str(moved), "image", "moved", 1, 30, 50, 0.0, info.content_hash,
                       index=info.index)
    with StillImageReader().open(info2) as src:
        assert np.array_equal(src.read(0), img)
