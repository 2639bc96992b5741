"""The CIMT task: truth, pixel items, stratified sampling, patches, scoring, evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from core.events import drain
from core.store.geometry import Box, Polyline
from core.synth.carotid import CarotidParams
from core.tasks import get_task
from core.tasks.cimt.sampling import (
    BACKGROUND,
    LI,
    MA,
    decode_index,
    encode_index,
    roi_pixel_items,
    stratified_subset,
)
from core.tasks.cimt.truth import check_polyline, pixel_box, roi_truth

TINY = CarotidParams(n_frames=1, roi_frames=1, n_rois=1, roi_width=8, roi_margin=3,
                     shadow_probability=0.0)


def cimt_project(folder, n_train: int = 2, n_test: int = 1, params: CarotidParams = TINY):
    """A project of synthetic carotid DICOM US studies with the expert's ROIs and tracings;
    returns (project, [(study, synth), ...])."""
    pytest.importorskip("core.io.ultrasound")
    import core.io.ultrasound  # noqa: F401  (registers the reader)
    from core.io.importer import import_study
    from core.store import Project
    from core.synth.carotid_dicom import write_carotid_study

    project = Project.create(folder)
    out = []
    for k in range(n_train + n_test):
        path = folder / f"carotid-{k}.dcm"
        synth = drain(write_carotid_study(path, 10 + k, params))
        study = drain(import_study(project, path, split="test" if k >= n_train else "train",
                                   task="cimt"))
        for f, tr in synth.tracings.items():
            for name in ("LI", "MA"):
                project.add_annotation(study.id, "polyline", Polyline(tr[name]), frame=f,
                                       value=name)
        for f, box in synth.rois:
            project.add_annotation(study.id, "roi", Box(*box), frame=f)
        out.append((study, synth))
    return project, out


def _roi(cols, li, ma, box, frame=0):
    return roi_truth(1, frame, 5, box, [np.column_stack([li, cols])],
                     [np.column_stack([ma, cols])])


# ---------------------------------------------------------------- indices and truth


def test_index_encoding_round_trips_and_checks_its_range():
    f, r, c = np.array([0, 3, 2**31 - 1]), np.array([0, 65535, 17]), np.array([9, 0, 65535])
    idx = encode_index(f, r, c)
    assert idx.dtype == np.int64 and len(set(idx.tolist())) == 3
    for a, b in zip(decode_index(idx), (f, r, c)):
        assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="0..65535"):
        encode_index(0, 65536, 0)
    with pytest.raises(ValueError, match="frame"):
        encode_index(-1, 0, 0)


def test_pixel_box_bounds_and_bad_rois():
    assert pixel_box(Box(10.0, 20.0, 30.0, 40.0)) == (10, 20, 30, 40)
    assert pixel_box((10.2, 20.5, 30.2, 40.5)) == (11, 21, 31, 41)  # pixels r >= row0
    with pytest.raises(ValueError, match=r"not inside the 50 x 60 image"):
        pixel_box(Box(40, 10, 55, 20), (50, 60), where="ROI 3")
    with pytest.raises(ValueError, match="holds no pixel"):
        pixel_box((3.2, 0, 3.9, 5))


def test_backwards_and_crossing_tracings_are_refused_with_where():
    with pytest.raises(ValueError, match=r"runs backwards at point 3 \(column 4"):
        check_polyline([[1, 2], [1, 5], [1, 4]], where="LI")
    cols = np.arange(10, 20, dtype=float)
    with pytest.raises(ValueError, match="cross on frame 0 of study 1 at column 15"):
        _roi(cols, np.full(10, 30.0), np.where(cols < 15, 40.0, 29.0), (20, 10, 50, 20))


def test_roi_pixel_items_interfaces_and_far_background():
    cols = np.arange(0, 40, dtype=float)
    li = 20.3 + 0.1 * cols
    ma = li + 9.6
    roi = _roi(cols, li, ma, (10, 5, 45, 35))  # ROI cols 5..34
    assert roi.traced and np.array_equal(roi.cols, np.arange(5, 35))
    idx, lab = roi_pixel_items(roi, min_distance_px=3.0, background_ratio=2.0)
    assert np.all(np.diff(idx) > 0)
    f, r, c = decode_index(idx)
    assert np.all(f == 0)
    for k, rows in ((LI, li), (MA, ma)):
        sel = lab == k
        assert np.array_equal(np.sort(c[sel]), np.arange(5, 35))  # one pixel per column
        assert np.array_equal(r[sel][np.argsort(c[sel])], np.rint(rows[5:35]).astype(int))
    bg = lab == BACKGROUND
    assert bg.sum() == 60  # twice the larger interface
    # every background pixel at least 3 px (Euclidean) from every interface pixel
    iface = np.column_stack([r[~bg], c[~bg]]).astype(float)
    d = np.sqrt(((np.column_stack([r[bg], c[bg]])[:, None, :] - iface[None]) ** 2).sum(-1))
    assert d.min() >= 3.0
    # deterministic (seeded by the ROI)
    idx2, _ = roi_pixel_items(roi, min_distance_px=3.0, background_ratio=2.0)
    assert np.array_equal(idx, idx2)


def test_untraced_roi_gives_no_items():
    roi = roi_truth(1, 0, 2, (0, 0, 10, 10), [], [np.array([[5.0, 0], [5.0, 9]])])
    assert not roi.traced
    assert len(roi_pixel_items(roi)[0]) == 0


def test_stratified_subset_balances_and_caps():
    labels = np.array([0] * 50 + [1] * 12 + [2] * 15)
    rng = np.random.default_rng(0)
    keep = stratified_subset(labels, 0, rng)
    assert np.bincount(labels[keep]).tolist() == [12, 12, 12]
    keep = stratified_subset(labels, 9, rng)
    assert np.bincount(labels[keep]).tolist() == [3, 3, 3] and np.all(np.diff(keep) > 0)


# ---------------------------------------------------------------- the task


def test_task_registered_with_its_protocol():
    t = get_task("cimt", train_patches=300, min_distance_px=4)
    assert t.class_names == ("background", "LI", "MA") and t.positive == (1, 2)
    assert t.item_kind == "pixel" and set(t.annotation_kinds) == {"roi", "polyline"}
    assert "us" in t.study_kinds
    assert get_task("cimt", **t.options).options == t.options
    with pytest.raises(ValueError, match="min_distance_px"):
        get_task("cimt", min_distance_px=0)
    probs = np.array([[0.5, 0.2, 0.3], [0.9, 0.05, 0.05]])
    assert np.allclose(t.scores(probs), [0.5, 0.1])  # LI + MA merged


def test_adapt_model_gives_the_context_net_with_the_same_state_dict():
    from core.tasks.cimt.network import is_context_net
    from core.train.model import build_alexnet

    m = build_alexnet(3)
    net = get_task("cimt").adapt_model(m)
    assert is_context_net(net) and net.state_dict().keys() == m.state_dict().keys()


def test_items_sampling_and_patches_from_a_project(tmp_path):
    from core.tasks.cimt.pixels import centred_patches

    project, studies = cimt_project(tmp_path / "p")
    t = get_task("cimt", train_patches=30)
    items = t.labelled_items(project, "train")
    assert np.bincount(items.labels).tolist() == [10, 10, 10]
    all_items = t.items(project, t.studies(project, "train"))
    assert len(all_items) > len(items) and set(all_items.labels.tolist()) == {0, 1, 2}
    ds = drain(t.dataset(project, items, np.random.default_rng(0), split="train"))
    assert len(ds) == 30 and len(ds.rois) == 2
    assert np.array_equal(ds.items, np.arange(30)) and np.array_equal(ds.labels, items.labels)
    pick = np.array([0, 17, 29])
    batch = ds.batch(pick)
    f, r, c = decode_index(items.indices[pick])
    study_of = dict((s.id, syn) for s, syn in studies)
    for k, i in enumerate(pick):
        grey = study_of[int(items.study_ids[i])].frames[int(f[k])]
        assert np.array_equal(batch[k], centred_patches(grey, [r[k]], [c[k]])[0])
    # LI items lie on the synthetic truth's rounded LI row
    li = items.labels == LI
    fr, rr, cc = decode_index(items.indices[li])
    truth = np.array([study_of[int(s)].li[int(a), int(b)]
                      for s, a, b in zip(items.study_ids[li], fr, cc)])
    assert np.array_equal(rr, np.rint(truth).astype(int))
    preview = t.preview_items(project, studies[0][0])
    assert 0 < len(preview) <= t.config.preview_items and preview.kind == "pixel"


def test_bad_roi_in_the_project_is_reported(tmp_path):
    project, studies = cimt_project(tmp_path / "p", n_train=1, n_test=0)
    study = studies[0][0]
    project.add_annotation(study.id, "roi", Box(280, 10, 320, 30), frame=0)
    with pytest.raises(ValueError, match=r"ROI \d+ on frame 0 of carotid-0 .* not inside"):
        get_task("cimt").items(project, [study])


def test_predict_reads_the_dense_maps_as_per_pixel_classification(tmp_path):
    import torch

    from core.tasks.cimt.network import context_net
    from core.train.model import build_alexnet
    from core.train.predict import predict

    project, _ = cimt_project(tmp_path / "p", n_train=0, n_test=1)
    t = get_task("cimt")
    items = t.labelled_items(project, "test")
    torch.manual_seed(0)
    model = build_alexnet(3).eval()
    ds = drain(t.dataset(project, items, np.random.default_rng(0), split="test"))
    pos, probs = drain(t.predict(model, ds, device="cpu", precision="fp32"))
    assert np.array_equal(pos, np.arange(len(items))) and probs.shape == (len(items), 3)
    assert len(ds.maps) == 1 and ds.maps[0].shape[0] == 3
    pick = np.array([0, len(items) // 2, len(items) - 1])
    _, ref = drain(predict(context_net(model), ds.subset(pick), device="cpu",
                           precision="fp32"))
    assert np.abs(probs[pick] - ref).max() < 1e-4
