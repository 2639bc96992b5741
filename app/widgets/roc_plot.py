"""ROC curve of an evaluation: the curve, the chance line, and the operating points
(10 %, 15 %, 20 % FPR) with their 95 % confidence intervals as error bars."""

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
        self.addItem(self.bars)
        self.addItem(self.points)
        self.setMinimumHeight(160)

    def set_result(self, res) -> None:
        """Draw a :class:`core.stats.RocResult`."""
        self.curve.setData(np.asarray(res.fpr, float), np.asarray(res.tpr, float))
        ops = res.operating_points
        x = np.array([op.fpr for op in ops], float)
        y = np.array([op.tpr for op in ops], float)
        lo = np.array([op.tpr - op.tpr_ci[0] for op in ops], float)
        hi = np.array([op.tpr_ci[1] - op.tpr for op in ops], float)
        self.points.setData(x, y)
        self.bars.setData(x=x, y=y, top=np.nan_to_num(hi), bottom=np.nan_to_num(lo))
        self.setTitle(f"AUC {res.auc:.3f} (95% CI {res.auc_ci[0]:.3f}–{res.auc_ci[1]:.3f}), "
                      f"{res.n_pos} + {res.n_neg} frames", color="#333", size="10pt")
        self.setXRange(0, 1, padding=0.02)
        self.setYRange(0, 1, padding=0.02)

    def clear_result(self) -> None:
        self.curve.setData([], [])
        self.points.setData([], [])
        self.setTitle("")
