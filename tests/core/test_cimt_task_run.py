"""The CIMT task's evaluation (maps -> thinning -> snakes -> errors, IMT, AUC), a training
run end to end through the jobs and the CLI, and the demo's carotid studies."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_cimt_task import cimt_project

from core.events import drain
from core.synth.carotid import CarotidParams
from core.tasks import get_task
from core.tasks.cimt.results import CimtResult

WIDE = CarotidParams(n_frames=1, roi_frames=1, n_rois=2, roi_width=40, roi_margin=8,
                     shadow_probability=0.0)


def _oracle_map(roi, width: float = 1.2) -> np.ndarray:
    """(3, h, w) probabilities peaking on the true LI / MA rows of each column."""
    r0, c0, r1, c1 = roi.box
    rows = np.arange(r0, r1, dtype=float)[:, None]
    cols = np.arange(c0, c1)
    li = np.interp(cols, roi.cols, roi.li_rows)[None, :]
    ma = np.interp(cols, roi.cols, roi.ma_rows)[None, :]
    p_li = np.exp(-0.5 * ((rows - li) / width) ** 2)
    p_ma = np.exp(-0.5 * ((rows - ma) / width) ** 2)
    bg = np.clip(1.0 - p_li - p_ma, 0.01, None)
    p = np.stack([bg, p_li, p_ma])
    return (p / p.sum(0)).astype(np.float32)


def test_evaluation_of_perfect_maps_finds_the_expert_boundaries(tmp_path):
    project, studies = cimt_project(tmp_path / "p", n_train=0, n_test=3, params=WIDE)
    t = get_task("cimt", n_boot=200)
    items = t.labelled_items(project, "test")
    ds = drain(t.dataset(project, items, np.random.default_rng(0), split="test"))
    assert len(ds.rois) == 6
    for k, (_, roi) in enumerate(ds.rois):
        ds.maps[k] = _oracle_map(roi)
    pos, probs = drain(t.predict(None, ds))  # every map is there: no network needed
    res = t.evaluate(items.subset(pos), probs, rng=np.random.default_rng(0), project=project,
                     dataset=ds)
    assert isinstance(res, CimtResult) and res.unit == "mm" and res.n_rois == 6
    for r in res.rois:
        assert r.li_px < 0.5 and r.ma_px < 0.5
        assert r.li_mm == pytest.approx(r.li_px * 0.06)
        assert r.imt_system == pytest.approx(r.imt_expert, abs=0.03)
        assert 0.5 - 0.03 <= r.imt_expert <= 1.2 + 0.03  # the synthetic walls
    assert res.li.n == res.ma.n == 6 and res.li.median < 0.03
    assert res.imt.n == 6 and abs(res.imt.bias) < 0.02
    assert res.auc > 0.99 and res.roc.n_groups == 3
    back = CimtResult.from_dict(json.loads(json.dumps(res.to_dict())))
    assert back.to_dict() == res.to_dict()
    text = res.text()
    assert "LI: median" in text and "MA: median" in text and "IMT system - expert (mm)" in text
    assert "verdict: Only 6 test ROIs" in text


def test_without_spacing_everything_is_in_pixels(tmp_path):
    project, studies = cimt_project(tmp_path / "p", n_train=0, n_test=2, params=WIDE)
    study = studies[0][0]
    meta = {k: v for k, v in study.meta.items()
            if k not in ("us_regions", "pixel_spacing_mm", "spacing_source")}
    project.update_study_meta(study.id, us_regions=[], pixel_spacing_mm=None,
                              spacing_source=None, **meta)
    t = get_task("cimt", n_boot=0)
    items = t.labelled_items(project, "test")
    ds = drain(t.dataset(project, items, np.random.default_rng(0), split="test"))
    for k, (_, roi) in enumerate(ds.rois):
        ds.maps[k] = _oracle_map(roi)
    pos, probs = drain(t.predict(None, ds))
    res = t.evaluate(items.subset(pos), probs, project=project, dataset=ds)
    assert res.unit == "px" and res.rois[0].li_mm is None
    assert any("in pixels" in s for s in res.verdict)
    assert 0.5 / 0.06 - 1 <= res.rois[0].imt_expert <= 1.2 / 0.06 + 1  # pixels


@pytest.mark.slow
def test_train_and_evaluate_a_cimt_run_with_the_cli(tmp_path, capsys):
    from core.cli import main

    cimt_project(tmp_path / "p", n_train=2, n_test=1)
    folder = str(tmp_path / "p")
    rc = main(["train", "--project", folder, "--task", "cimt", "--depth", "scratch",
               "--init", "msra", "--epochs", "1", "--batch-size", "8", "--patches", "24",
               "--device", "cpu", "--precision", "fp32", "--json", "-q"])
    out = capsys.readouterr().out
    assert rc == 0, out
    run = json.loads(out)
    assert run["task"] == "cimt" and run["status"] == "finished"
    assert run["task_options"]["train_patches"] == 24
    rc = main(["evaluate", "--project", folder, "--run", str(run["run"]), "-q"])
    text = capsys.readouterr().out
    assert rc == 0
    assert "1 test ROIs" in text and "LI: median" in text and "pixel AUC" in text
    from core.store import Project

    with Project.open(folder) as project:
        stored = project.run(run["run"]).metrics["test"]
        assert stored["kind"] == "cimt" and stored["n_rois"] == 1
        preds = project.predictions(run["run"], split="test")
        assert preds and preds[0].item_kind == "pixel"


def test_the_demo_gains_carotid_studies(tmp_path):
    pytest.importorskip("core.io.ultrasound")
    from core.demo import SMALL, add_carotid_studies
    from core.store import Project

    with Project.create(tmp_path / "d") as project:
        events = []
        drain(add_carotid_studies(project, tmp_path / "d", SMALL, 0), events.append)
        studies = project.studies()
        assert [s.split for s in studies] == ["train"] * 3 + ["test"]
        assert all(s.kind == "us" and s.task == "cimt" for s in studies)
        assert all(s.meta["spacing_source"] == "dicom regions" for s in studies)
        assert len(project.annotations(kind="roi")) == 4 * SMALL.carotid_rois
        assert len(project.annotations(kind="polyline")) == 8
        assert project.get_info("demo_cimt") == {"studies": 4, "test": 1}
        t = get_task("cimt")
        assert len(t.labelled_items(project, "train")) > 0
        assert len(t.labelled_items(project, "test")) > 0
        assert any("CIMT demo: 4 carotid" in getattr(e, "message", "") for e in events)


def test_snakes_stay_inside_the_roi_and_constraints_are_honoured():
    from core.tasks.cimt.predict import boundaries

    h, w = 40, 30
    ramp = np.tile(np.linspace(0.0, 1.0, h)[:, None], (1, w))  # pulls a snake downwards
    probs = np.stack([1 - ramp, ramp / 2, ramp / 2]).astype(np.float32)
    b = boundaries(probs, (100, 200, 100 + h, 200 + w))
    for snake in (b.li, b.ma):
        assert snake[:, 0].min() >= 100 and snake[:, 0].max() <= 100 + h - 1
        assert snake[:, 1].min() >= 200 and snake[:, 1].max() <= 200 + w - 1
    # a ridge map: the LI snake follows row 110, and passes through a dragged point
    rows = np.arange(h)[:, None]
    li = np.exp(-0.5 * ((rows - 10.0) / 1.5) ** 2) * np.ones((1, w))
    ma = np.exp(-0.5 * ((rows - 25.0) / 1.5) ** 2) * np.ones((1, w))
    p = np.stack([np.clip(1 - li - ma, 0.01, None), li, ma])
    p = (p / p.sum(0)).astype(np.float32)
    b = boundaries(p, (100, 200, 100 + h, 200 + w), spacing=(0.05, 0.05))
    assert np.abs(b.li[:, 0] - 110).max() < 1.0 and np.abs(b.ma[:, 0] - 125).max() < 1.0
    assert b.imt.unit == "mm" and b.imt.value == pytest.approx(15 * 0.05, abs=0.05)
    assert np.allclose(b.li_thin[:, 0], 110)
    c = boundaries(p, (100, 200, 100 + h, 200 + w), constraints={"LI": [(113.0, 215.0)]})
    at = np.argmin(np.abs(c.li[:, 1] - 215))
    assert c.li[at, 0] == pytest.approx(113.0, abs=0.05)
    with pytest.raises(ValueError, match="outside the ROI"):
        boundaries(p, (100, 200, 100 + h, 200 + w), constraints={"MA": [(90.0, 215.0)]})


def test_two_runs_compared_roi_by_roi():
    from core.tasks.cimt.results import RoiResult, compare_runs

    def result(errors, unit="mm"):
        rois = tuple(RoiResult(1, "s", 0, k, (0, 0, 5, 5), 5, e / 0.06, e / 0.06 + 1, e,
                               e + 0.06, 0.8 + e, 0.8, unit) for k, e in enumerate(errors))
        return CimtResult(unit, rois, None, None, None, None)

    good = result([0.05, 0.06, 0.04, 0.07, 0.05, 0.06, 0.05, 0.04])
    bad = result([0.15, 0.2, 0.11, 0.3, 0.25, 0.18, 0.22, 0.16])
    cmp = compare_runs(good, bad)
    assert set(cmp) == {"LI", "MA", "IMT"} and cmp["LI"]["n"] == 8
    assert cmp["LI"]["p"] < 0.05 and cmp["LI"]["median_a"] < cmp["LI"]["median_b"]
    assert compare_runs(good, good)["MA"]["p"] == 1.0
    with pytest.raises(ValueError, match="different units"):
        compare_runs(good, result([0.1], unit="px"))
