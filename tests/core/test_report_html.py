"""The experiment report (core.report.write_report): one HTML file that parses, holds
every figure, references nothing outside itself, and says what the runs were."""

from __future__ import annotations

import base64
import math
from html.parser import HTMLParser

import numpy as np
import pytest
from test_report_figures import cimt_result, froc_result, history, layer_change, png_size

from core.stats.roc import roc_analysis
from core.store import Project
from core.tasks.frame_quality.task import CLASS_NAMES

DEPTHS = ("fc8", "conv3", "scratch")


class Doc(HTMLParser):
    """Collects tags, attributes, text and checks nesting of the report."""

    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.stack: list[str] = []
        self.text: list[str] = []
        self.errors: list[str] = []
        self.style = ""

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1] == "style":
            self.style += data
        self.text.append(data)


def parse(text: str) -> Doc:
    d = Doc()
    d.feed(text)
    d.close()
    assert not d.errors and not d.stack, (d.errors, d.stack)
    return d


def assert_self_contained(doc: Doc) -> None:
    for tag, attrs in doc.tags:
        assert tag not in ("link", "script", "iframe", "object", "embed"), tag
        for key in ("src", "href", "srcset", "data", "poster", "action"):
            v = attrs.get(key)
            if v is not None:
                assert v.startswith("data:") or v.startswith("#"), f"<{tag} {key}={v[:40]}>"
    assert "url(" not in doc.style and "@import" not in doc.style


def figures(doc: Doc) -> dict[str, bytes]:
    out = {}
    for i, (tag, attrs) in enumerate(doc.tags):
        if tag == "figure":
            img = next(a for t, a in doc.tags[i + 1:] if t == "img")
            assert img["src"].startswith("data:image/png;base64,")
            out[attrs["data-figure"]] = base64.b64decode(img["src"].split(",", 1)[1])
    return out


# --------------------------------------------------------------------------- project
def _project(tmp_path, task="frame_quality"):
    p = Project.create(tmp_path / "proj")
    studies = [p.add_study(tmp_path / f"v{i}.avi", f"h{i}", "video", task, 100, 25.0, 350,
                           500, split="test" if i >= 3 else "train", name=f"video{i}")
               for i in range(5)]
    return p, studies


def _label_test_frames(p, studies, rng):
    truth = {}
    for s in studies:
        if s.split != "test":
            continue
        ys = rng.integers(0, 2, 60)
        p.set_labels([(s.id, f, CLASS_NAMES[y]) for f, y in enumerate(ys)])
        truth[s.id] = ys
    return truth


def _add_run(p, exp_id, depth, studies, metrics, init="caffe", fraction=1.0, n_items=300,
             task="frame_quality"):
    cfg = {"depth": depth, "init": init, "epochs": 5, "batch_size": 32, "base_lr": 0.001,
           "seed": 0, "fraction": fraction, "n_items": n_items, "n_patches": 8 * n_items}
    split = {"unit": "subject", "train": [1, 2], "val": [3],
             "test": sorted(s.id for s in studies if s.split == "test")}
    run = p.start_run(task, depth, cfg, seed=0, split=split, device="cpu",
                      versions={"layertune": "0.1.0", "torch": "2.5.0", "python": "3.12.1"},
                      weights_source="torchvision ImageNet AlexNet weights",
                      task_options={"test_crops": 8}, experiment_id=exp_id)
    p.finish_run(run.id, "finished", best_auc=0.8, metrics=metrics)
    return run


def _roc_experiment(tmp_path):
    p, studies = _project(tmp_path)
    rng = np.random.default_rng(0)
    truth = _label_test_frames(p, studies, rng)
    exp = p.add_experiment("depth", "frame_quality", {"depths": list(DEPTHS), "seed": 0})
    for k, depth in enumerate(DEPTHS):
        sep = (2.5, 2.4, 0.3)[k]  # two alike, scratch clearly worse
        scores, labels = [], []
        run = _add_run(p, exp.id, depth, studies, {})
        for sid, ys in truth.items():
            s = 1 / (1 + np.exp(-(sep * ys + rng.normal(0, 1, ys.size))))
            p.put_predictions(run.id, "test", sid, "frame", np.arange(ys.size),
                              np.stack([1 - s, s], 1))
            scores.append(s)
            labels.append(ys)
        res = roc_analysis(np.concatenate(scores), np.concatenate(labels), n_boot=50)
        extra = {"val_curve": [{"epoch": e, "iteration": 10 * e, "auc": 0.6 + 0.03 * e,
                                "loss": 0.7 - 0.05 * e} for e in range(8)],
                 "train_time_s": 125.0, "images_per_s": 1234.0} if k == 0 else {}
        p.finish_run(run.id, "finished", best_auc=0.8, metrics={
            "history": history(seed=k), "device": "cpu", "test": res.to_dict(),
            "layer_change": layer_change(depth if depth != "scratch" else "conv1"), **extra})
    return p, exp


# --------------------------------------------------------------------------- tests
def test_depth_sweep_report_is_one_self_contained_file(tmp_path):
    pytest.importorskip("matplotlib")
    from core.report import write_report

    p, exp = _roc_experiment(tmp_path)
    out = write_report(p, exp.id, tmp_path / "out" / "report")
    assert out == tmp_path / "out" / "report.html" and out.is_file()
    assert [f.name for f in out.parent.iterdir()] == ["report.html"]  # nothing beside it
    doc = parse(out.read_text("utf-8"))
    assert_self_contained(doc)
    figs = figures(doc)
    assert set(figs) == {"roc", "training", "layer_change"}
    for png in figs.values():
        w, h = png_size(png)
        assert w > 200 and h > 200
    text = " ".join(doc.text)
    for needle in ("Depth sweep", "frame_quality", "fc8", "conv3", "scratch",
                   "video3", "video4",  # the test studies
                   "Pairwise significance", "DeLong", "torch", "2.5.0", "python",
                   "torchvision ImageNet AlexNet weights", "AUC (95 % CI)"):
        assert needle in text, needle
    assert "Recommended depth" in text and "Recommended depth: scratch" not in text
    assert "Labelled items" in text  # per class on each side
    assert "2:05" in text and "1234" in text  # the queue's wall time and images/s
    # every run has its row with its AUC
    for rid in p.experiment(exp.id).runs:
        auc = p.run(rid).metrics["test"]["auc"]
        assert f"{auc:.3f}" in text


def test_pairwise_delong_uses_the_stored_test_predictions(tmp_path):
    from core.report.collect import collect
    from core.report.evidence import gather

    p, exp = _roc_experiment(tmp_path)
    rep = collect(p, exp.id)
    ev = gather(p, rep)
    (table,) = ev.tables
    assert table.labels == [s.label for s in rep.runs]
    fc8_conv3, fc8_scratch = table.cells[(0, 1)], table.cells[(0, 2)]
    assert fc8_scratch["p"] < 0.001 and fc8_scratch["diff"] > 0.2  # scratch clearly worse
    assert fc8_conv3["p"] > 0.05  # alike
    # the difference is that of the runs' own AUCs (same items, same labels)
    aucs = [s.value for s in rep.runs]
    assert math.isclose(fc8_scratch["diff"], aucs[0] - aucs[2], abs_tol=1e-9)


def test_cimt_and_froc_reports(tmp_path):
    pytest.importorskip("matplotlib")
    from core.report import write_report

    for task, make, want in (("cimt", cimt_result, {"cimt_box", "bland_altman"}),
                             ("polyps", froc_result, {"froc"})):
        p, studies = _project(tmp_path / task, task)
        exp = p.add_experiment("depth", task, {"depths": ["fc8", "conv1"]})
        for k, depth in enumerate(("fc8", "conv1")):
            run = _add_run(p, exp.id, depth, studies, {}, task=task)
            p.finish_run(run.id, "finished", metrics={"test": make(k).to_dict()})
        doc = parse(write_report(p, exp.id, tmp_path / f"{task}.html").read_text("utf-8"))
        assert_self_contained(doc)
        assert set(figures(doc)) == want
        text = " ".join(doc.text)
        if task == "cimt":
            assert "Wilcoxon" in text and "mean distance (mm)" in text
        else:
            assert "CPM" in text and "false positives per frame" in text  # polyps: per frame
            assert "sens @ 1 FP/frame" in text


def test_budget_experiment_draws_the_label_curve(tmp_path):
    pytest.importorskip("matplotlib")
    from core.report import write_report
    from core.report.collect import collect
    from core.report.evidence import gather

    p, studies = _project(tmp_path)
    exp = p.add_experiment("budget", "frame_quality", {"depths": ["fc8"], "target": 0.9,
                                                       "fractions": [0.25, 0.5, 1.0]})
    rng = np.random.default_rng(3)
    for frac, sep in ((0.25, 0.8), (0.5, 1.2), (1.0, 1.5)):
        y = rng.integers(0, 2, 200)
        res = roc_analysis(sep * y + rng.normal(0, 1, 200), y, n_boot=200)
        run = _add_run(p, exp.id, "fc8", studies, {}, fraction=frac, n_items=int(400 * frac))
        p.finish_run(run.id, "finished", metrics={"test": res.to_dict()})
    ev = gather(p, collect(p, exp.id))
    (curve,) = ev.budget.values()
    assert list(curve["n"]) == [100, 200, 400] and curve["target"] == 0.9
    doc = parse(write_report(p, exp.id, tmp_path / "b.html").read_text("utf-8"))
    assert "budget" in figures(doc)
    assert "25 %" in " ".join(doc.text)

    # the plan's own form of a target: the curve is of that metric, extrapolated to it
    runs = [p.run(r) for r in p.experiment(exp.id).runs]
    for metric, value in (("sensitivity@0.1", 0.8), ("auc", 0.95), ("cpm", 0.8)):
        ex2 = p.add_experiment("budget", "frame_quality", {
            "depths": ["fc8"], "target": {"metric": metric, "value": value},
            "fractions": [0.25, 0.5, 1.0]})
        for r in runs:
            run = _add_run(p, ex2.id, "fc8", studies, {}, fraction=r.config["fraction"],
                           n_items=r.config["n_items"])
            p.finish_run(run.id, "finished", metrics={"test": r.metrics["test"]})
        ev = gather(p, collect(p, ex2.id))
        (curve,) = ev.budget.values()
        tests = [r.metrics["test"] for r in runs]
        if metric == "cpm":  # a ROC result has no CPM: the headline, no target, a note
            assert curve["metric"] == "AUC" and curve["target"] is None
            assert any("do not hold the target" in n for n in ev.notes)
            continue
        want = ([t["auc"] for t in tests] if metric == "auc" else
                [next(op["tpr"] for op in t["operating_points"] if op["fpr"] == 0.1)
                 for t in tests])
        assert np.allclose(curve["perf"], want) and curve["target"] == value
        assert curve["metric"] == ("AUC" if metric == "auc" else "sensitivity at 0.1 FPR")
        assert curve["fit"] is not None, ev.notes


def test_unfinished_experiment_and_no_matplotlib_still_write(tmp_path, monkeypatch):
    from core.report import _mpl, write_report

    p, studies = _project(tmp_path)
    exp = p.add_experiment("convergence", "frame_quality", {})
    empty = parse(write_report(p, exp.id, tmp_path / "e.html").read_text("utf-8"))
    assert "no runs yet" in " ".join(empty.text)

    run = _add_run(p, exp.id, "scratch", studies, {}, init="msra")
    p.finish_run(run.id, "finished", metrics={"history": history()})

    def missing():
        raise _mpl.ReportUnavailable(_mpl.INSTALL_HINT)

    monkeypatch.setattr(_mpl, "pyplot", missing)
    monkeypatch.setattr("core.report.figures.pyplot", missing)
    doc = parse(write_report(p, exp.id, tmp_path / "n.html").read_text("utf-8"))
    text = " ".join(doc.text)
    assert not figures(doc) and "layertune[report]" in text
    assert "scratch msra" in text and "Not evaluated on the test studies yet" in text


def test_unknown_experiment_is_a_clear_error(tmp_path):
    from core.report import write_report
    from core.store.db import ProjectError

    p, _ = _project(tmp_path)
    with pytest.raises(ProjectError, match="no experiment number 7"):
        write_report(p, 7, tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()
