"""Tests for the synthetic CTPA and its DICOM series (core.synth.ctpa)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian
from scipy import ndimage

from core.events import Progress, drain
from core.synth.ctpa import (
    CTPA_SHAPE,
    CTPA_SPACING_MM,
    SynthCtpa,
    render_ctpa,
    write_ctpa_series,
)

SMALL = ((48, 96, 96), (2.5, 1.5, 1.5))  # the same chest on a coarse grid, fast


@pytest.fixture(scope="module")
def series(tmp_path_factory) -> tuple[SynthCtpa, list[Progress]]:
    folder = tmp_path_factory.mktemp("ctpa") / "series"
    gen = write_ctpa_series(folder, seed=0, n_emboli=4)
    events: list[Progress] = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            return stop.value, events


def _read(files) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(f) for f in files]


def test_files_are_valid_ct_slices_of_one_series(series):
    synth, events = series
    z = CTPA_SHAPE[0]
    assert len(synth.files) == z and len(list(Path(synth.folder).glob("*.dcm"))) == z
    assert all(isinstance(e, Progress) and e.stage == "synth" for e in events)
    assert events[-1].done == events[-1].total == z
    for path in synth.files:  # a DICOM file: 128-byte preamble, then "DICM"
        assert Path(path).read_bytes()[128:132] == b"DICM"
    dss = _read(synth.files)
    for ds in dss:
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert ds.file_meta.MediaStorageSOPClassUID == CTImageStorage == ds.SOPClassUID
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.Modality == "CT" and ds.PatientName == "SYNTH^DEMO"
        assert ds.PatientID == "SYNTH-0"
        assert ds.StudyInstanceUID == synth.study_uid
        assert ds.SeriesInstanceUID == synth.series_uid
        assert ds.FrameOfReferenceUID == synth.frame_of_reference_uid
        assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
        assert (ds.Rows, ds.Columns) == CTPA_SHAPE[1:]
        assert [float(v) for v in ds.PixelSpacing] == list(CTPA_SPACING_MM[1:])
        assert float(ds.SliceThickness) == CTPA_SPACING_MM[0]
        assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation) == (
            16, 12, 11, 0)
    uids = {ds.SOPInstanceUID for ds in dss}
    assert len(uids) == z and synth.series_uid not in uids
    assert len({synth.study_uid, synth.series_uid, synth.frame_of_reference_uid}) == 3


def test_positions_follow_the_spacing_and_pixels_give_the_rendered_hu(series):
    synth, _ = series
    vol = synth.volume
    dz, dy, dx = vol.spacing_mm
    dss = _read(synth.files)
    pos = np.array([[float(v) for v in ds.ImagePositionPatient] for ds in dss])
    # files[k] holds plane k: z grows by dz per plane, x and y stay at the origin
    assert np.allclose(pos, vol.geometry.voxel_to_world(
        np.stack([np.arange(len(pos)), np.zeros(len(pos)), np.zeros(len(pos))], axis=1)))
    assert np.allclose(np.diff(pos[:, 2]), dz) and np.ptp(pos[:, :2], axis=0).max() == 0
    assert [int(ds.InstanceNumber) for ds in dss] == list(range(1, len(dss) + 1))
    assert np.allclose([float(ds.SliceLocation) for ds in dss], pos[:, 2])
    # file names do not follow the planes: a reader must sort by position
    names = [Path(f).name for f in synth.files]
    assert names != sorted(names)
    # HU after the modality LUT equal the rendered volume exactly
    for k, ds in enumerate(dss):
        assert float(ds.RescaleSlope) == 1 and float(ds.RescaleIntercept) == -1024
        hu = ds.pixel_array.astype(np.int32) * int(ds.RescaleSlope) + int(ds.RescaleIntercept)
        assert np.array_equal(hu, vol.hu[k])
    # the same through pydicom's own modality LUT
    lut = pydicom.pixels.apply_modality_lut(dss[40].pixel_array, dss[40])
    assert np.array_equal(lut, vol.hu[40])
    assert synth.meta["series_uid"] == synth.series_uid
    assert synth.meta["spacing_mm"] == [dz, dy, dx]


def test_emboli_sit_in_the_artery_lumen_as_dark_defects(series):
    vol = series[0].volume
    assert len(vol.emboli) == 4
    lumen = ndimage.binary_erosion(vol.vessel_mask)
    contrast = np.median(vol.hu[lumen & (vol.emboli_labels == 0)])
    for k, e in enumerate(vol.emboli):
        c = tuple(np.rint(e.centre_vox).astype(int))
        assert vol.vessel_mask[c] and vol.emboli_labels[c] == k + 1
        clot = vol.emboli_labels == k + 1
        assert clot.sum() >= 20
        assert not (clot & ~vol.vessel_mask).any()  # only inside the lumen
        assert np.median(vol.hu[clot]) < min(150, contrast - 200)
        assert e.kind in ("occluding", "partial") and 30 <= e.hu <= 70
        assert e.vessel_radius_mm >= 1.8 and e.half_width_mm <= e.vessel_radius_mm
        assert e.radius_mm >= e.half_length_mm and np.isclose(np.linalg.norm(e.axis_xyz), 1)
        # the mark encloses the clot (to a voxel)
        vox = np.argwhere(clot)
        d = np.linalg.norm(vol.geometry.voxel_to_world(vox) - e.centre_mm, axis=1)
        assert d.max() <= e.radius_mm + max(vol.spacing_mm)
    # world coordinates through the shared geometry, both ways
    centres = np.array([e.centre_vox for e in vol.emboli])
    assert np.allclose(vol.geometry.voxel_to_world(centres), [e.centre_mm for e in vol.emboli])
    assert np.allclose(vol.geometry.world_to_voxel([e.centre_mm for e in vol.emboli]), centres)
    assert np.allclose([e.radius_vox for e in vol.emboli],
                       [[e.radius_mm / s for s in vol.spacing_mm] for e in vol.emboli])


def test_clot_cores_have_clot_hu_without_noise():
    vol = render_ctpa(seed=0, noise_hu=0.0)
    for e in vol.emboli:
        assert abs(vol.hu[tuple(np.rint(e.centre_vox).astype(int))] - e.hu) <= 20


def test_tissues_have_their_hounsfield_units(series):
    vol = series[0].volume
    assert vol.hu.dtype == np.int16 and vol.hu.shape == CTPA_SHAPE
    lumen = ndimage.binary_erosion(vol.vessel_mask) & (vol.emboli_labels == 0)
    assert lumen.sum() > 2000
    assert 320 <= np.median(vol.hu[lumen]) <= 440  # contrast-filled arteries
    assert -880 <= np.median(vol.hu[vol.lung_mask]) <= -820
    assert 12 <= np.std(vol.hu[vol.lung_mask]) <= 40  # noise + texture
    assert np.median(vol.hu[:, :3, :3]) <= -990  # air in the corners
    assert vol.lung_mask.mean() > 0.05
    # the arteries branch: many separate cross-sections in a mid slice, radii shrinking
    _, n = ndimage.label(vol.vessel_mask[48])
    assert n >= 10


def test_only_the_emboli_change_when_they_are_left_out(series):
    vol = series[0].volume
    bare = render_ctpa(seed=0, n_emboli=0)
    assert not bare.emboli and not bare.emboli_labels.any()
    diff = vol.hu != bare.hu
    # clot coverage reaches a voxel past the label, the 0.6 mm blur 3 more (26-connected)
    near = ndimage.binary_dilation(vol.emboli_labels > 0, np.ones((3, 3, 3), bool),
                                   iterations=4)
    assert diff.any() and not (diff & ~near).any()
    assert np.array_equal(vol.vessel_mask, bare.vessel_mask)
    assert [(lk.kind, lk.centre_vox) for lk in bare.lookalikes
            if not near[tuple(np.rint(lk.centre_vox).astype(int))]] == [
        (lk.kind, lk.centre_vox) for lk in vol.lookalikes
        if not near[tuple(np.rint(lk.centre_vox).astype(int))]]


def test_lookalikes_are_present_and_where_they_say(series):
    vol = series[0].volume
    kinds = Counter(lk.kind for lk in vol.lookalikes)
    assert set(kinds) == {"bifurcation", "partial_volume", "vein", "aorta", "lymph_node"}
    assert kinds["lymph_node"] == 6 and kinds["bifurcation"] >= 10
    to_artery = ndimage.distance_transform_edt(~vol.vessel_mask, sampling=vol.spacing_mm)
    for lk in vol.lookalikes:
        c = tuple(np.rint(lk.centre_vox).astype(int))
        assert vol.emboli_labels[c] == 0
        assert np.allclose(vol.geometry.voxel_to_world(lk.centre_vox), lk.centre_mm)
        if lk.kind == "bifurcation":
            assert vol.vessel_mask[c]
        if lk.kind == "lymph_node":  # soft tissue next to, not inside, an artery
            assert not vol.vessel_mask[c] and to_artery[c] <= lk.radius_mm + 1.0
            z, y, x = c
            assert 0 <= np.median(vol.hu[z - 1:z + 2, y - 1:y + 2, x - 1:x + 2]) <= 100
    veins = [lk for lk in vol.lookalikes if lk.kind == "vein" and lk.radius_mm >= 1.5]
    vein_hu = [vol.hu[tuple(np.rint(lk.centre_vox).astype(int))] for lk in veins]
    assert veins and np.median(vein_hu) < np.median(vol.hu[vol.vessel_mask]) + 100
    # dark spots wrapped in contrast outside the emboli exist: tobogganing fodder
    smooth = ndimage.gaussian_filter(vol.hu.astype(np.float32), 1.0)
    bright = smooth >= 200
    dark = (smooth >= -50) & (smooth <= 120) & ndimage.binary_dilation(bright, iterations=2)
    labels, n = ndimage.label(dark & ~ndimage.binary_dilation(vol.emboli_labels > 0,
                                                                 iterations=3))
    assert n >= 20


def test_the_same_seed_gives_the_same_series_and_another_seed_another(tmp_path):
    shape, spacing = SMALL
    a = drain(write_ctpa_series(tmp_path / "a", shape, spacing, seed=3, n_emboli=2))
    b = drain(write_ctpa_series(tmp_path / "b", shape, spacing, seed=3, n_emboli=2))
    assert (a.study_uid, a.series_uid) == (b.study_uid, b.series_uid)
    assert [Path(f).name for f in a.files] == [Path(f).name for f in b.files]
    assert all(Path(f).read_bytes() == Path(g).read_bytes() for f, g in zip(a.files, b.files))
    assert a.emboli == b.emboli and a.lookalikes == b.lookalikes
    d = drain(write_ctpa_series(tmp_path / "d", shape, spacing, seed=4, n_emboli=2))
    assert not np.array_equal(a.volume.hu, d.volume.hu)
    assert [e.centre_vox for e in a.emboli] != [e.centre_vox for e in d.emboli]
    assert d.series_uid != a.series_uid and d.study_uid != a.study_uid
    assert pydicom.dcmread(d.files[0]).PatientID == "SYNTH-4"


def test_bad_arguments_and_a_used_folder_are_refused(tmp_path):
    with pytest.raises(ValueError, match="shape"):
        render_ctpa((8, 64, 64))
    with pytest.raises(ValueError, match="spacing_mm"):
        render_ctpa(spacing_mm=(0.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="n_emboli"):
        render_ctpa(n_emboli=-1)
    with pytest.raises(ValueError, match="110 mm"):
        render_ctpa((32, 64, 64), (1.0, 0.8, 0.8), n_emboli=1)
    with pytest.raises(ValueError, match="emboli fit"):
        render_ctpa(*SMALL, n_emboli=60)
    (tmp_path / "x.dcm").write_bytes(b"")
    with pytest.raises(FileExistsError):
        drain(write_ctpa_series(tmp_path, *SMALL))


def test_stopping_half_way_leaves_no_partial_series(tmp_path):
    gen = write_ctpa_series(tmp_path / "s", *SMALL, seed=1, n_emboli=1)
    for _ in range(6):
        next(gen)
    assert len(list((tmp_path / "s").glob("*.dcm"))) == 5
    gen.close()
    assert not list((tmp_path / "s").glob("*.dcm"))
