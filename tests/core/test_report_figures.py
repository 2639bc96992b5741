"""Headless figures of the report (core.report.figures): every kind renders, for every
task's result, as PNG and SVG; bad input is refused with the valid choices."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

from core.stats.agreement import bland_altman
from core.stats.boxplot import tukey_box
from core.stats.froc import froc_analysis
from core.stats.roc import roc_analysis

LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")


# --------------------------------------------------------------------------- synthetic results
def roc_result(seed: int = 0, separation: float = 1.0, n: int = 200):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = separation * y + rng.normal(0, 1, n)
    return roc_analysis(s, y, n_boot=100, groups=rng.integers(0, 5, n),
                        rng=np.random.default_rng(seed))


def froc_result(seed: int = 0, hit: float = 0.8):
    """20 frames of 5 videos, one lesion each; a hit with probability ``hit`` and 3 false
    positives per frame."""
    rng = np.random.default_rng(seed)
    scores, lesion_ids, image_ids, lesions, groups = [], [], [], [], {}
    for f in range(20):
        key = f"f{f}"
        groups[key] = f"v{f // 4}"
        lesions.append((key, 1))
        if rng.random() < hit:
            scores.append(rng.normal(1.5, 1))
            lesion_ids.append(1)
            image_ids.append(key)
        for _ in range(3):
            scores.append(rng.normal(0, 1))
            lesion_ids.append(None)
            image_ids.append(key)
    return froc_analysis(np.asarray(scores), lesion_ids, image_ids, lesions=lesions,
                         images=list(groups), groups=groups, n_boot=100, seed=seed)


def cimt_result(seed: int = 0, scale: float = 1.0, n: int = 12):
    from core.tasks.cimt.results import CimtResult, RoiResult

    rng = np.random.default_rng(seed)
    li, ma = scale * np.abs(rng.normal(0.1, 0.05, n)), scale * np.abs(rng.normal(0.15, 0.05, n))
    expert = rng.uniform(0.5, 1.0, n)
    system = expert + rng.normal(0.02 * scale, 0.05, n)
    rois = tuple(RoiResult(study_id=1 + i // 3, study=f"s{i // 3}", frame=0, roi_id=i,
                           box=(0, 0, 10, 10), n_cols=10, li_px=li[i] * 10, ma_px=ma[i] * 10,
                           li_mm=float(li[i]), ma_mm=float(ma[i]), imt_system=float(system[i]),
                           imt_expert=float(expert[i]), imt_unit="mm", group=i // 3)
                 for i in range(n))
    return CimtResult("mm", rois, tukey_box(li), tukey_box(ma), bland_altman(system, expert),
                      None)


def history(epochs: int = 5, start: float = 0.6, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"epoch": e, "iteration": 20 * (e + 1), "train_loss": 0.7 / (e + 1),
             "val_auc": min(0.99, start + 0.05 * e + 0.01 * rng.random()),
             "elapsed_s": 3.0 * (e + 1)} for e in range(epochs)]


def layer_change(depth: str, epochs: int = 4) -> list[dict[str, float]]:
    tuned = LAYERS[LAYERS.index(depth):] if depth in LAYERS else LAYERS
    return [{layer: 10.0 ** (-3 + i * 0.4) * (e + 1) for i, layer in enumerate(tuned)}
            for e in range(epochs)]


# --------------------------------------------------------------------------- helpers
def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.fixture(scope="module")
def fig():
    pytest.importorskip("matplotlib")
    from core.report import figures

    return figures


def _ink(png: bytes) -> float:
    """Share of non-white pixels (a figure that drew nothing is almost all white)."""
    import matplotlib.image as mpimg

    img = mpimg.imread(io.BytesIO(png), format="png")[..., :3]
    return float((img.min(axis=2) < 0.9).mean())


# --------------------------------------------------------------------------- tests
def test_the_result_figure_of_each_task_kind_renders(fig):
    from core.report.figures import result_figure_kinds

    results = {"roc": {"fc8": roc_result(0, 2.0), "scratch": roc_result(1, 0.5).to_dict()},
               "froc": {"fc8": froc_result(0, 0.9), "conv1": froc_result(1, 0.5).to_dict()},
               "cimt": {"fc8": cimt_result(0), "scratch": cimt_result(1, 2.0).to_dict()}}
    for task_kind, res in results.items():
        kinds = result_figure_kinds(next(iter(res.values())))
        assert kinds == (("cimt_box", "bland_altman") if task_kind == "cimt" else (task_kind,))
        for kind in kinds:
            png = fig.figure_png(kind, res, width=5, height=4, dpi=50)
            assert png_size(png) == (250, 200), kind
            assert _ink(png) > 0.03, f"{kind}: nothing drawn"


def test_every_kind_renders_png_and_svg(fig):
    data = {
        "roc": roc_result(),
        "froc": froc_result(),
        "cimt_box": cimt_result(),
        "bland_altman": cimt_result().imt,
        "training": {"fc8": history(), "scratch gaussian": history(start=0.5, seed=2),
                     "scratch msra": {"val_curve": [{"iteration": 5 * i, "auc": 0.5 + 0.04 * i,
                                                     "loss": 0.7 - 0.03 * i}
                                                    for i in range(10)]}},
        "budget": {"n": [40, 80, 160, 320], "perf": [0.7, 0.78, 0.83, 0.86],
                   "ci": [[0.6, 0.8], [0.7, 0.85], [0.78, 0.88], [0.82, 0.9]],
                   "fit": {"n": np.geomspace(40, 1280, 30),
                           "perf": 0.92 - 2.5 * np.geomspace(40, 1280, 30) ** -0.5,
                           "lo": 0.88 - 2.5 * np.geomspace(40, 1280, 30) ** -0.5,
                           "hi": 0.96 - 2.5 * np.geomspace(40, 1280, 30) ** -0.5},
                   "target": 0.9, "needed": [900, 500, 2000], "metric": "AUC"},
        "layer_change": {"fc7": layer_change("fc7"), "conv1": layer_change("conv1")},
    }
    assert set(data) == set(fig.FIGURE_KINDS)
    for kind, d in data.items():
        png = fig.figure_png(kind, d, dpi=40)
        w, h = png_size(png)
        assert w > 100 and h > 100, kind
        svg = fig.figure_svg(kind, d)
        assert svg.lstrip().startswith(("<?xml", "<svg")) and svg.rstrip().endswith("</svg>")
        assert "<image" not in svg or "data:image/png;base64," in svg  # nothing linked


def test_roc_figure_reflects_the_data(fig):
    """Two runs draw more than one; a band adds ink (the CI is really drawn)."""
    a, b = roc_result(0, 2.0), roc_result(1, 0.3)
    one = _ink(fig.figure_png("roc", {"a": a}, dpi=40))
    two = _ink(fig.figure_png("roc", {"a": a, "b": b}, dpi=40))
    assert two > one
    bare = roc_analysis(*_xy(0), n_boot=0)
    banded = roc_analysis(*_xy(0), n_boot=100)
    assert _ink(fig.figure_png("roc", banded, dpi=40)) > _ink(fig.figure_png("roc", bare,
                                                                             dpi=40))


def _xy(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 150)
    return y + rng.normal(0, 1, 150), y


def test_layer_change_one_run_per_epoch_and_missing(fig):
    single = fig.figure_png("layer_change", layer_change("conv3", epochs=10), dpi=40)
    assert png_size(single)[0] > 100
    # a run without a record draws a figure saying so rather than failing
    assert png_size(fig.figure_png("layer_change", {"fc8": []}, dpi=40))[0] > 100


def test_budget_not_reachable_and_without_fit(fig):
    d = {"n": [10, 20, 40], "perf": [0.6, 0.65, 0.67], "target": 0.95, "needed": None}
    assert png_size(fig.figure_png("budget", d, dpi=40))[0] > 100
    two = {"fc8": d, "conv1": {**d, "perf": [0.62, 0.7, 0.74]}}
    assert png_size(fig.figure_png("budget", two, dpi=40))[0] > 100


def test_unknown_kind_and_wrong_data_are_refused(fig):
    with pytest.raises(ValueError, match="roc"):
        fig.figure_png("pie", {})
    with pytest.raises(ValueError, match="not a ROC, FROC or CIMT result"):
        fig.figure_png("roc", {"run": {"something": 1}})


def test_layers_match_the_model():
    from core.report.plots_misc import LAYERS as REPORT_LAYERS
    from core.train.model import LAYERS as MODEL_LAYERS

    assert REPORT_LAYERS == MODEL_LAYERS == LAYERS


def test_without_matplotlib_a_clear_message(monkeypatch):
    import builtins

    from core.report import _mpl

    real = builtins.__import__

    def no_mpl(name, *args, **kw):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_mpl)
    with pytest.raises(_mpl.ReportUnavailable, match=r"layertune\[report\]"):
        _mpl.pyplot()
    assert not _mpl.available()
    from core.report.figures import figure_png

    with pytest.raises(ImportError):  # ReportUnavailable is an ImportError
        figure_png("roc", roc_result())


def test_headline_numbers():
    from core.report.results import fmt_ci, headline

    r = roc_result()
    assert headline(r.to_dict()) == ("AUC", r.auc, tuple(r.auc_ci))
    f = froc_result()
    name, value, _ = headline(f)
    assert name == "CPM" and math.isclose(value, f.cpm)
    c = cimt_result()
    name, value, _ = headline(c)
    assert name == "mean distance (mm)"
    assert math.isclose(value, np.mean(c.distances("LI") + c.distances("MA")))
    assert fmt_ci((math.nan, 1.0)) == "–"
