"""The task's result figure for every run of an experiment, overlaid, with 95 % CIs.

Frame quality: ROC curves with their pointwise bootstrap bands and the sensitivities at
the operating points (10/15/20 % FPR) with their CIs; polyps and emboli: FROC curves on a
log2 axis with the sensitivities at the FP rates and their CIs; CIMT: one box plot of the
boundary distances per run (Tukey whiskers, :func:`core.stats.boxplot.tukey_box`).
Exports the figure as PNG or SVG and its numbers as CSV.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.widgets.froc_plot import Log2AxisItem, _svg_closed_paths, froc_view

from .api import RunResult
from .live_curves import run_colour

FIGURE_SUFFIXES = (".png", ".svg", ".csv")


def _legend(plot) -> pg.LegendItem:
    return plot.addLegend(offset=(-8, -8), labelTextSize="8pt",
                          brush=pg.mkBrush(255, 255, 255, 220), pen=pg.mkPen(200, 200, 200),
                          labelTextColor=(40, 40, 40))


class ResultFigureWidget(QWidget):
    """Draws a list of :class:`app.experiments.api.RunResult` as one figure."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = ""
        self.fp_unit = "image"  # what a FROC's "image" is: frame (polyps), volume (emboli)
        self.runs: list[RunResult] = []
        self.rows: list[tuple] = []  # the CSV: (run, kind, x, y, lo, hi)
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self.plot: pg.PlotWidget | None = None
        self._new_plot("roc")

    def _new_plot(self, kind: str) -> None:
        if self.plot is not None:
            self._lay.removeWidget(self.plot)
            self.plot.deleteLater()
        axes = {"bottom": Log2AxisItem("bottom")} if kind == "froc" else None
        self.plot = pg.PlotWidget(background="w", axisItems=axes)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        for side in ("left", "bottom"):
            self.plot.getAxis(side).setPen(pg.mkPen(110, 110, 110))
            self.plot.getAxis(side).setTextPen(pg.mkPen(40, 40, 40))
        self._lay.addWidget(self.plot)
        self.kind = kind

    # ------------------------------------------------------------------ drawing
    def set_runs(self, runs: list[RunResult]) -> None:
        """Draw the evaluated runs (those with a result); the others are skipped."""
        self.runs = [r for r in runs if r.result is not None]
        self.rows = []
        kinds = {r.metric_name for r in self.runs}
        kind = ("froc" if kinds == {"CPM"} else "box" if kinds == {"mean distance"}
                else "roc")
        self._new_plot(kind)
        if not self.runs:
            self.plot.setTitle("no evaluated runs yet", color="#666", size="9pt")
            return
        colours = {r.run_id: run_colour(i) for i, r in enumerate(runs)}
        getattr(self, f"_draw_{kind}")(colours)

    def _draw_roc(self, colours) -> None:
        p = self.plot
        p.setLabel("bottom", "false-positive rate")
        p.setLabel("left", "sensitivity")
        p.plot([0, 1], [0, 1], pen=pg.mkPen((170, 170, 170), style=pg.QtCore.Qt.PenStyle.DashLine))
        legend = _legend(p)
        for r in self.runs:
            c, res = colours[r.run_id], r.result
            bf = np.asarray(getattr(res, "band_fpr", ()), float)
            if bf.size:
                lo = pg.PlotDataItem(bf, np.nan_to_num(np.asarray(res.band_lo, float)),
                                     pen=pg.mkPen(None))
                hi = pg.PlotDataItem(bf, np.nan_to_num(np.asarray(res.band_hi, float)),
                                     pen=pg.mkPen(None))
                p.addItem(pg.FillBetweenItem(lo, hi, brush=pg.mkBrush(*c, 28)))
                for x, a, b in zip(bf, res.band_lo, res.band_hi):
                    self.rows.append((r.label, "band", x, math.nan, a, b))
            curve = p.plot(np.asarray(res.fpr, float), np.asarray(res.tpr, float),
                           pen=pg.mkPen(c, width=2))
            lo_ci, hi_ci = r.metric_ci
            legend.addItem(curve, f"{r.label}: AUC {r.metric:.3f} ({lo_ci:.3f}–{hi_ci:.3f})")
            for x, y in zip(res.fpr, res.tpr):
                self.rows.append((r.label, "curve", x, y, math.nan, math.nan))
            k = self.runs.index(r) - (len(self.runs) - 1) / 2  # side by side, not on top
            self._points(r, c, lambda v, k=k: v + 0.006 * k)
        p.setXRange(0, 1, padding=0.02)
        p.setYRange(0, 1, padding=0.02)
        p.setTitle("ROC on the test set, 95 % CIs (bands: bootstrap; bars: operating points)",
                   color="#333", size="9pt")

    def _points(self, r: RunResult, c, fx) -> None:
        if not r.points:
            return
        a = np.asarray(r.points, float).reshape(-1, 4)
        x, y = fx(a[:, 0]), a[:, 1]
        self.plot.addItem(pg.ErrorBarItem(x=x, y=y, top=np.nan_to_num(a[:, 3] - y),
                                          bottom=np.nan_to_num(y - a[:, 2]), beam=0.015,
                                          pen=pg.mkPen(c, width=1.5)))
        self.plot.addItem(pg.ScatterPlotItem(x, y, size=7, brush=pg.mkBrush(*c),
                                             pen=pg.mkPen("w")))
        for fp, s, lo, hi in a:
            self.rows.append((r.label, "point", fp, s, lo, hi))

    def _draw_froc(self, colours) -> None:
        p = self.plot
        views = [(r, froc_view(r.result)) for r in self.runs]
        rates = np.concatenate([v.points[:, 0] for _, v in views] + [np.zeros(0)])
        rates = rates[rates > 0]
        x0, x1 = ((math.log2(rates.min()) - 0.5, math.log2(rates.max()) + 0.5)
                  if rates.size else (-3.5, 3.5))
        lx = lambda f: np.log2(np.maximum(np.asarray(f, float), 2.0 ** x0))  # noqa: E731
        per = views[0][1].per
        unit = "video" if per == "group" else self.fp_unit if per == "image" else per
        p.setLabel("bottom", f"false positives per {unit}")
        p.setLabel("left", "sensitivity")
        legend = _legend(p)
        for r, v in views:
            c = colours[r.run_id]
            if v.band is not None and np.isfinite(v.band[1]).any():
                lo = pg.PlotDataItem(lx(v.band[0]), np.nan_to_num(v.band[1]), pen=pg.mkPen(None))
                hi = pg.PlotDataItem(lx(v.band[0]), np.nan_to_num(v.band[2]), pen=pg.mkPen(None))
                p.addItem(pg.FillBetweenItem(lo, hi, brush=pg.mkBrush(*c, 40)))
            curve = p.plot(lx(v.curve_fps), v.curve_sens, pen=pg.mkPen(c, width=2))
            legend.addItem(curve, f"{r.label}: CPM {v.cpm:.3f} "
                                  f"({v.cpm_ci[0]:.3f}–{v.cpm_ci[1]:.3f})")
            for x, y in zip(v.curve_fps, v.curve_sens):
                self.rows.append((r.label, "curve", x, y, math.nan, math.nan))
            k = self.runs.index(r) - (len(self.runs) - 1) / 2
            self._points(r, c, lambda v, k=k: lx(v) + 0.04 * k)
        p.setXRange(x0, x1, padding=0)
        p.setYRange(0, 1, padding=0.02)
        p.setTitle("FROC on the test set, 95 % CIs at the FP rates", color="#333", size="9pt")

    def _draw_box(self, colours) -> None:
        from app.widgets.cimt_results import cimt_view
        from core.stats.boxplot import tukey_box

        p = self.plot
        unit = "mm"
        ticks = []
        for i, r in enumerate(self.runs):
            v = cimt_view(r.result)
            unit = v.unit
            d = np.concatenate([v.distances["LI"], v.distances["MA"]])
            d = d[np.isfinite(d)]
            ticks.append((i, r.label))
            if d.size == 0:
                continue
            b = tukey_box(d)
            c = colours[r.run_id]
            w = 0.25
            p.addItem(pg.BarGraphItem(x0=[i - w], x1=[i + w], y0=[b.q1], y1=[b.q3],
                                      brush=pg.mkBrush(*c, 90), pen=pg.mkPen(c, width=1.5)))
            p.plot([i - w, i + w], [b.median] * 2, pen=pg.mkPen(c, width=2.5))
            p.plot([i, i], [b.whisker_low, b.q1], pen=pg.mkPen(c))
            p.plot([i, i], [b.q3, b.whisker_high], pen=pg.mkPen(c))
            if b.outliers:
                p.addItem(pg.ScatterPlotItem([i] * len(b.outliers), list(b.outliers), size=5,
                                             brush=pg.mkBrush(*c)))
            self.rows.append((r.label, "box", i, b.median, b.q1, b.q3))
            self.rows.append((r.label, "whiskers", i, b.mean, b.whisker_low, b.whisker_high))
        p.getAxis("bottom").setTicks([ticks])
        p.setLabel("left", f"expert–system boundary distance ({unit})")
        p.setXRange(-0.6, len(self.runs) - 0.4, padding=0)
        p.setTitle("Boundary distance per ROI (LI and MA), Tukey box plots", color="#333",
                   size="9pt")

    # ------------------------------------------------------------------ export
    def export(self, path: str | Path, *, width: int | None = None) -> Path:
        """Write the figure (``.png``, ``.svg``) or its numbers (``.csv``: columns run,
        kind, x, y, ci_low, ci_high) to ``path``."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in FIGURE_SUFFIXES:
            raise ValueError(f"cannot export to {path.name!r}: the name must end in one of "
                             f"{', '.join(FIGURE_SUFFIXES)}")
        if not self.runs:
            raise ValueError("no evaluated run to export")
        if suffix == ".csv":
            with open(path, "w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(("run", "kind", "x", "y", "ci_low", "ci_high"))
                for row in self.rows:
                    w.writerow([row[0], row[1], *(repr(float(v)) if math.isfinite(v) else ""
                                                 for v in row[2:])])
        elif suffix == ".svg":
            from pyqtgraph.exporters import SVGExporter

            with _svg_closed_paths():
                SVGExporter(self.plot.plotItem).export(str(path))
        else:
            write_png(self.plot, path, width)
        return path


def write_png(plot: pg.PlotWidget, path: Path, width: int | None = None) -> None:
    """The plot's scene at a higher pixel ratio, legend and symbols scaled alike."""
    src = plot.plotItem.sceneBoundingRect()
    w = int(width or max(1200, 2 * round(src.width())))
    ratio = w / max(src.width(), 1.0)
    img = QImage(w, max(1, round(src.height() * ratio)), QImage.Format.Format_ARGB32)
    img.setDevicePixelRatio(ratio)
    img.fill(QColor(255, 255, 255))
    painter = QPainter(img)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        plot.scene().render(painter, QRectF(0, 0, src.width(), src.height()), src)
    finally:
        painter.end()
    if not img.save(str(path), "PNG"):
        raise OSError(f"could not write {path}")
