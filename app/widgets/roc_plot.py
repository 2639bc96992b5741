"""ROC curve of an evaluation: the curve, its pointwise 95 % band (video-grouped bootstrap,
when the result has one), the chance line, the operating points (10 %, 15 %, 20 % FPR)
with their 95 % confidence intervals as error bars, and the plain verdict of
:func:`core.stats.verdict` (no better than chance, a CI from one video...)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget


class RocPlotWidget(pg.PlotWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w")
        self.setLabel("bottom", "false-positive rate")
        self.setLabel("left", "sensitivity")
        self.setXRange(0, 1, padding=0.02)
        self.setYRange(0, 1, padding=0.02)
        self.showGrid(x=True, y=True, alpha=0.2)
        self.setMouseEnabled(x=False, y=False)
        self.plot([0, 1], [0, 1], pen=pg.mkPen((150, 150, 150), style=pg.QtCore.Qt.PenStyle.DashLine))
        self.curve = self.plot([], [], pen=pg.mkPen((37, 99, 235), width=2))
        self.points = pg.ScatterPlotItem(size=8, brush=pg.mkBrush(245, 158, 11))
        self.bars = pg.ErrorBarItem(pen=pg.mkPen(245, 158, 11, width=2), beam=0.02)
        self._band_lo = pg.PlotDataItem([], [], pen=pg.mkPen(None))
        self._band_hi = pg.PlotDataItem([], [], pen=pg.mkPen(None))
        self.band = pg.FillBetweenItem(self._band_lo, self._band_hi,
                                       brush=pg.mkBrush(37, 99, 235, 50))
        self.addItem(self.band)
        self.addItem(self.bars)
        self.addItem(self.points)
        self.verdict_item = pg.TextItem(anchor=(1, 1), fill=pg.mkBrush(255, 255, 255, 220),
                                        border=pg.mkPen(200, 200, 200))
        self.verdict_item.setPos(0.99, 0.01)
        self.verdict_item.setTextWidth(230)
        self.addItem(self.verdict_item)
        self.verdict_lines: list[str] = []
        self.setMinimumHeight(160)

    def set_result(self, res, n_test_groups: int | None = None) -> None:
        """Draw a :class:`core.stats.RocResult`; ``n_test_groups`` (test videos) defaults
        to the result's ``n_groups``."""
        from core.stats import verdict

        self.curve.setData(np.asarray(res.fpr, float), np.asarray(res.tpr, float))
        bf = np.asarray(getattr(res, "band_fpr", ()), float)
        if bf.size:
            self._band_lo.setData(bf, np.nan_to_num(np.asarray(res.band_lo, float)))
            self._band_hi.setData(bf, np.nan_to_num(np.asarray(res.band_hi, float)))
        else:
            self._band_lo.setData([], [])
            self._band_hi.setData([], [])
        n = int(getattr(res, "n_groups", 0)) if n_test_groups is None else int(n_test_groups)
        self.verdict_lines = verdict(res, n)
        # on the plot the gist of each sentence (the panel beside it has them whole)
        gist = [line.split(":")[0].rstrip(".") + "." for line in self.verdict_lines]
        self.verdict_item.setHtml("<div style='color:#333; font-size:9pt'>"
                                  + "<br>".join(gist) + "</div>")
        ops = res.operating_points
        x = np.array([op.fpr for op in ops], float)
        y = np.array([op.tpr for op in ops], float)
        lo = np.array([op.tpr - op.tpr_ci[0] for op in ops], float)
        hi = np.array([op.tpr_ci[1] - op.tpr for op in ops], float)
        self.points.setData(x, y)
        self.bars.setData(x=x, y=y, top=np.nan_to_num(hi), bottom=np.nan_to_num(lo))
        ci = f"95% CI {res.auc_ci[0]:.3f}–{res.auc_ci[1]:.3f} DeLong"
        boot = tuple(getattr(res, "auc_ci_boot", (np.nan, np.nan)))
        if all(np.isfinite(boot)):
            ci += f", {boot[0]:.3f}–{boot[1]:.3f} by video" if getattr(res, "grouped", False) \
                else f", {boot[0]:.3f}–{boot[1]:.3f} bootstrap"
        self.setTitle(f"<b>AUC {res.auc:.3f}</b> · {res.n_pos} + {res.n_neg} frames<br>{ci}",
                      color="#333", size="9pt")
        self.setXRange(0, 1, padding=0.02)
        self.setYRange(0, 1, padding=0.02)

    def clear_result(self) -> None:
        self.curve.setData([], [])
        self.points.setData([], [])
        self._band_lo.setData([], [])
        self._band_hi.setData([], [])
        self.verdict_lines = []
        self.verdict_item.setHtml("")
        self.setTitle("")
