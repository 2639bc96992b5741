"""FrocPlotWidget: curve, points with CIs, band, CPM title; PNG, SVG and CSV export."""

from __future__ import annotations

import csv
import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PySide6.QtGui import QImage

from app.widgets.froc_plot import CSV_HEADER, FrocPlotWidget, fp_label, froc_view

# A result in the to_dict() form of core.stats.froc.FrocResult, numbers by hand.
RESULT = {
    "points": [{"fp_rate": 0.5, "sensitivity": 0.25, "ci": [0.1, 0.4], "threshold": 0.8},
               {"fp_rate": 1.0, "sensitivity": 0.5, "ci": [0.3, 0.7], "threshold": 0.6},
               {"fp_rate": 2.0, "sensitivity": 0.75, "ci": [0.5, 0.9], "threshold": 0.3}],
    "cpm": 0.5, "cpm_ci": [0.32, 0.66],
    "curve_fps": [0.0, 0.0, 0.5, 1.0, 1.5, 3.0], "curve_sens": [0.0, 0.25, 0.25, 0.5, 0.75, 0.75],
    "curve_thresholds": [None, 0.9, 0.8, 0.6, 0.3, 0.1],
    "band_fps": [0.5, 1.0, 2.0], "band_lo": [0.1, 0.3, 0.5], "band_hi": [0.4, 0.7, 0.9],
    "n_lesions": 4, "n_images": 2, "n_groups": 2, "n_tp": 3, "n_fp": 6, "n_ignored": 0,
    "n_duplicates": 0, "n_boot": 100, "n_boot_valid": 100, "seed": 0, "per": "image",
    "alpha": 0.05, "resampled": "image", "verdict": ["A sentence."],
}


@pytest.fixture
def plot(qtbot):
    w = FrocPlotWidget()
    qtbot.addWidget(w)
    w.resize(640, 460)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_draws_points_band_curve_and_cpm(plot):
    assert not plot.export_button.isEnabled()
    plot.set_result(RESULT)
    x, y = plot.points.getData()
    assert np.allclose(x, np.log2([0.5, 1.0, 2.0])) and np.allclose(y, [0.25, 0.5, 0.75])
    bx, lo = plot.band_lo.getData()
    _, hi = plot.band_hi.getData()
    assert np.allclose(bx, np.log2([0.5, 1.0, 2.0]))
    assert np.allclose(lo, [0.1, 0.3, 0.5]) and np.allclose(hi, [0.4, 0.7, 0.9])
    cx, cy = plot.curve.getData()
    assert np.allclose(cy, RESULT["curve_sens"])
    x0 = plot.plot.viewRange()[0][0]  # FP rates of 0 sit on the axis' left end
    assert np.allclose(cx, [x0, x0, -1, 0, math.log2(1.5), math.log2(3)])
    assert np.allclose(plot.bars.opts["top"], [0.15, 0.2, 0.15])
    assert np.allclose(plot.bars.opts["bottom"], [0.15, 0.2, 0.25])
    title = plot.plot.plotItem.titleLabel.text
    assert "CPM 0.500" in title and "0.320–0.660" in title and "4 polyps" in title
    assert "A sentence." in plot.plot.toolTip()
    assert plot.export_button.isEnabled()
    assert [lbl.text for _, lbl in plot.legend.items] == [
        "FROC curve", "at the FP rates, 95% CI", "95% CI band"]


def test_log2_axis_labels():
    assert [fp_label(v) for v in (-3, -2, -1, 0, 1, 3)] == ["1/8", "1/4", "1/2", "1", "2", "8"]


def test_without_bootstrap_the_band_is_empty_and_csv_cells_blank(plot, tmp_path):
    d = dict(RESULT, band_fps=[], band_lo=[], band_hi=[], cpm_ci=[None, None],
             points=[dict(p, ci=[None, None]) for p in RESULT["points"]])
    plot.set_result(d)
    assert plot.band_lo.getData()[0] is None or len(plot.band_lo.getData()[0]) == 0
    assert "95% CI" not in plot.plot.plotItem.titleLabel.text
    rows = list(csv.reader(open(plot.export(tmp_path / "f.csv"), encoding="utf-8")))
    assert rows[1] == ["point", "0.5", "0.25", "", ""]
    assert rows[4] == ["cpm", "", "0.5", "", ""]


def test_export_png_svg_csv(plot, tmp_path):
    plot.set_result(RESULT)
    written = []
    plot.exported.connect(written.append)
    png = plot.export(tmp_path / "froc.png", width=900)
    img = QImage(str(png))
    assert not img.isNull() and img.width() == 900 and img.height() > 300
    svg = plot.export(tmp_path / "froc.svg")
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert any(el.tag.endswith("path") for el in root.iter())
    assert "CPM 0.500" in svg.read_text(encoding="utf-8")
    rows = list(csv.reader(open(plot.export(tmp_path / "froc.CSV"), encoding="utf-8")))
    assert tuple(rows[0]) == CSV_HEADER
    points = [r for r in rows if r[0] == "point"]
    assert [[float(v) for v in r[1:]] for r in points] == [
        [0.5, 0.25, 0.1, 0.4], [1.0, 0.5, 0.3, 0.7], [2.0, 0.75, 0.5, 0.9]]
    assert [r for r in rows if r[0] == "cpm"] == [["cpm", "", "0.5", "0.32", "0.66"]]
    curve = [(float(r[1]), float(r[2])) for r in rows if r[0] == "curve"]
    assert curve == list(zip(RESULT["curve_fps"], RESULT["curve_sens"]))
    assert len([r for r in rows if r[0] == "band"]) == 3
    assert len(written) == 3
    with pytest.raises(ValueError, match=r"\.png"):
        plot.export(tmp_path / "froc.jpg")
    plot.clear_result()
    with pytest.raises(ValueError, match="no FROC result"):
        plot.export(tmp_path / "again.csv")


def test_reads_a_froc_result_and_its_dict_alike(plot):
    froc = pytest.importorskip("core.stats.froc")
    res = froc.froc_analysis([0.9, 0.8, 0.7, 0.4, 0.3, 0.2], [1, None, 1, None, 2, None],
                             ["a", "a", "b", "b", "c", "c"],
                             lesions=[("a", 1), ("b", 1), ("c", 2), ("c", 3)],
                             n_boot=50, seed=1)
    a, b = froc_view(res), froc_view(res.to_dict())
    assert np.allclose(a.points, b.points, equal_nan=True)
    assert np.allclose(a.curve_fps, res.curve_fps) and np.allclose(a.curve_sens, res.curve_sens)
    assert a.cpm == pytest.approx(res.cpm) and a.counts["n_lesions"] == 4
    assert a.points[:, 1] == pytest.approx([p.sensitivity for p in res.points])
    plot.set_result(res)
    assert np.allclose(plot.points.getData()[1], [p.sensitivity for p in res.points])


def test_per_group_axis_label(plot):
    plot.set_result(dict(RESULT, per="group"))
    assert "per video" in plot.plot.getAxis("bottom").labelText
