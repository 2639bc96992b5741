"""Live curves of every run of an experiment, overlaid: validation AUC and training loss
against iterations, one colour per run (paper Fig. 9 style for convergence).

Appending only writes into lists; the plots are redrawn by a timer at most ten times a
second, so per-batch events of a fast trainer never load the GUI thread.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QVBoxLayout, QWidget

#: Distinct colours (Okabe-Ito, then Tableau), readable on white and for colour-blind eyes.
PALETTE = ((0, 114, 178), (213, 94, 0), (0, 158, 115), (204, 121, 167), (230, 159, 0),
           (86, 180, 233), (120, 120, 120), (140, 86, 75), (148, 103, 189), (23, 190, 207),
           (188, 189, 34), (214, 39, 40))


def run_colour(i: int) -> tuple[int, int, int]:
    return PALETTE[i % len(PALETTE)]


class _RunCurves:
    def __init__(self, name: str, colour, auc_plot, loss_plot) -> None:
        self.name = name
        self.auc_x: list[float] = []
        self.auc_y: list[float] = []
        self.loss_x: list[float] = []
        self.loss_y: list[float] = []
        self.auc = auc_plot.plot(pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=5,
                                 symbolBrush=pg.mkBrush(colour), symbolPen=None, name=name)
        faded = (*colour, 150)
        # symbols too: a one-epoch run has a single per-epoch point
        self.loss = loss_plot.plot(pen=pg.mkPen(faded, width=1), symbol="o", symbolSize=3,
                                   symbolBrush=pg.mkBrush(faded), symbolPen=None, name=name)
        self.dirty = True

    def flush(self) -> None:
        if self.dirty:
            self.auc.setData(self.auc_x, self.auc_y)
            self.loss.setData(self.loss_x, self.loss_y)
            self.dirty = False


class ExperimentCurvesWidget(QWidget):
    """Validation AUC (top) and training loss (bottom) of every run against iterations.

    Call :meth:`begin_run` when a run starts, then :meth:`add_batches` /
    :meth:`add_validation`; :meth:`set_history` draws a finished run from its stored
    per-epoch history.
    """

    REDRAW_MS = 100

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("w")
        self.auc_plot = self.view.addPlot(row=0, col=0)
        self.loss_plot = self.view.addPlot(row=1, col=0)
        for plot, ylabel in ((self.auc_plot, "validation AUC"), (self.loss_plot, "loss")):
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.setLabel("left", ylabel)
            plot.setLabel("bottom", "iteration")
            plot.setMenuEnabled(False)
            for side in ("left", "bottom"):
                plot.getAxis(side).setPen(pg.mkPen(110, 110, 110))
                plot.getAxis(side).setTextPen(pg.mkPen(40, 40, 40))
                plot.getAxis(side).enableAutoSIPrefix(False)
        self.loss_plot.setXLink(self.auc_plot)
        self.legend = self.auc_plot.addLegend(offset=(-8, -8), labelTextSize="8pt",
                                              brush=pg.mkBrush(255, 255, 255, 220),
                                              pen=pg.mkPen(200, 200, 200),
                                              labelTextColor=(40, 40, 40))
        self.view.ci.layout.setRowStretchFactor(0, 3)
        self.view.ci.layout.setRowStretchFactor(1, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.view)
        self.runs: dict[object, _RunCurves] = {}
        self.current: object | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(self.REDRAW_MS)
        self._timer.timeout.connect(self.flush)
        self._timer.start()

    # ------------------------------------------------------------------ data
    def clear(self) -> None:
        for rc in self.runs.values():
            self.auc_plot.removeItem(rc.auc)
            self.loss_plot.removeItem(rc.loss)
        self.legend.clear()
        self.runs.clear()
        self.current = None

    def begin_run(self, key: object, name: str) -> None:
        """A new run (``key``: its id or queue position) drawn in the next colour."""
        if key not in self.runs:
            self.runs[key] = _RunCurves(name, run_colour(len(self.runs)), self.auc_plot,
                                        self.loss_plot)
        self.current = key

    def add_batches(self, batches) -> None:
        """BatchEnd events of the current run (a tuple of them, as the worker sends)."""
        rc = self.runs.get(self.current)
        if rc is None:
            return
        for b in batches:
            if math.isfinite(b.loss):
                rc.loss_x.append(float(b.iteration))
                rc.loss_y.append(float(b.loss))
        rc.dirty = True

    def add_validation(self, iteration: int, auc: float) -> None:
        rc = self.runs.get(self.current)
        if rc is None or not math.isfinite(auc):
            return
        rc.auc_x.append(float(iteration))
        rc.auc_y.append(float(auc))
        rc.dirty = True

    def set_history(self, key: object, name: str, history: list[dict]) -> None:
        """Draw a finished run's per-epoch means (``iteration``, ``train_loss``,
        ``val_auc``)."""
        self.begin_run(key, name)
        rc = self.runs[key]
        rc.auc_x, rc.auc_y, rc.loss_x, rc.loss_y = [], [], [], []
        for h in history:
            it = float(h.get("iteration", 0))
            loss, auc = h.get("train_loss"), h.get("val_auc")
            if loss is not None and math.isfinite(loss):
                rc.loss_x.append(it)
                rc.loss_y.append(float(loss))
            if auc is not None and math.isfinite(auc):
                rc.auc_x.append(it)
                rc.auc_y.append(float(auc))
        rc.dirty = True
        self.flush()

    def flush(self) -> None:
        for rc in self.runs.values():
            rc.flush()

    def n_points(self, key: object) -> tuple[int, int]:
        """(validation points, loss points) drawn for a run (tests, status lines)."""
        rc = self.runs.get(key)
        return (0, 0) if rc is None else (len(rc.auc_x), len(rc.loss_x))
