"""Live training curves: batch loss and validation AUC (SPEC §2.2).

Appending a point only writes into a growing numpy buffer; the plots are redrawn at
most ten times a second by a timer, so per-batch updates from a fast trainer never
load the GUI thread.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPalette, QResizeEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

_LOSS = QColor(46, 107, 198)
_EPOCH = QColor(20, 40, 90)
_AUC = QColor(40, 150, 70)
_BEST = QColor(200, 101, 42)


class _Series:
    """An append-only (x, y) buffer that doubles its capacity when full."""

    def __init__(self, capacity: int = 1024) -> None:
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self.n = 0

    def append(self, x: float, y: float) -> None:
        if self.n == self._x.size:
            self._x = np.concatenate([self._x, np.empty_like(self._x)])
            self._y = np.concatenate([self._y, np.empty_like(self._y)])
        self._x[self.n] = x
        self._y[self.n] = y
        self.n += 1

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.n]

    def clear(self) -> None:
        self.n = 0


class TrainingCurvesWidget(QWidget):
    """Training loss per iteration (and per-epoch mean) and validation AUC per epoch.

    The two plots sit side by side when the widget is wide and stacked when it is
    tall. The AUC plot's x axis is the epoch or, for convergence comparisons (paper
    Fig. 9 style), the iteration.
    """

    REDRAW_MS = 100

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._batch = _Series()
        self._epoch_loss = _Series()  # x: iteration at the validation, y: mean loss
        self._auc_epoch = _Series()
        self._auc_iter = _Series()
        self._best: tuple[int, int, float] | None = None  # (iteration, epoch, auc)
        self._last_val_iter = -np.inf
        self._auc_axis = "epoch"
        self._wide: bool | None = None

        self._title = QLabel()
        f = QFont(self._title.font())
        f.setBold(True)
        self._title.setFont(f)
        self._axis_combo = QComboBox()
        self._axis_combo.setObjectName("auc_axis")
        self._axis_combo.addItems(["epoch", "iteration"])
        self._axis_combo.setToolTip(
            "Plot validation AUC against epochs or iterations "
            "(iterations compare runs with different batch counts)."
        )
        self._axis_combo.currentTextChanged.connect(self.set_auc_axis)
        self._status = QLabel()
        self._status.setObjectName("status")
        self._status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._status.setStyleSheet("color: palette(placeholder-text);")
        head = QHBoxLayout()
        head.setSpacing(12)
        head.addWidget(self._title)
        head.addWidget(self._status, 1)
        head.addWidget(QLabel("AUC vs"))
        head.addWidget(self._axis_combo)

        pal = self.palette()
        fg = pal.color(QPalette.ColorRole.WindowText)
        self._view = pg.GraphicsLayoutWidget()
        # Follow the application's palette instead of pyqtgraph's black default.
        self._view.setBackground(pal.color(QPalette.ColorRole.Base))
        self._view.ci.setContentsMargins(2, 2, 2, 2)
        self._loss_plot = pg.PlotItem()
        self._auc_plot = pg.PlotItem()
        for plot, ylabel in ((self._loss_plot, "loss"), (self._auc_plot, "validation AUC")):
            plot.showGrid(x=True, y=True, alpha=0.15)
            for side in ("left", "bottom"):
                ax = plot.getAxis(side)
                ax.setPen(pg.mkPen(fg))
                ax.setTextPen(pg.mkPen(fg))
                ax.enableAutoSIPrefix(False)  # "loss (x0.001)" reads badly
            plot.setLabel("left", ylabel, color=fg.name())
            plot.setMenuEnabled(False)
        self._loss_plot.setLabel("bottom", "iteration", color=fg.name())
        self._loss_plot.setClipToView(True)
        self._loss_plot.setDownsampling(auto=True, mode="peak")
        legend = self._loss_plot.addLegend(offset=(-8, 8), labelTextColor=fg, brush=None)
        batch_pen = QColor(_LOSS)
        batch_pen.setAlpha(140)
        self._batch_curve = self._loss_plot.plot(pen=pg.mkPen(batch_pen, width=1), name="batch")
        self._epoch_curve = self._loss_plot.plot(
            pen=pg.mkPen(_EPOCH, width=2),
            symbol="o",
            symbolSize=6,
            symbolBrush=_EPOCH,
            symbolPen=None,
            name="epoch mean",
        )
        legend.setVisible(True)

        self._auc_plot.setYRange(0.5, 1.0, padding=0.02)
        self._auc_plot.enableAutoRange(axis="y", enable=False)
        self._auc_plot.setLimits(yMin=-0.02, yMax=1.02)
        self._auc_curve = self._auc_plot.plot(
            pen=pg.mkPen(_AUC, width=2), symbol="o", symbolSize=6, symbolBrush=_AUC, symbolPen=None
        )
        self._best_line = pg.InfiniteLine(
            angle=90, movable=False, pen=pg.mkPen(_BEST, width=1, style=Qt.PenStyle.DashLine)
        )
        self._best_point = pg.ScatterPlotItem(
            symbol="star", size=16, brush=_BEST, pen=pg.mkPen(_BEST.darker(130))
        )
        for item in (self._best_line, self._best_point):
            self._auc_plot.addItem(item)
            item.setVisible(False)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(head)
        lay.addWidget(self._view, 1)
        self._arrange(wide=True)
        self._update_axis_label()

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.REDRAW_MS)
        self._timer.timeout.connect(self.flush)

    # -------------------------------------------------------------------- API
    def set_title(self, title: str) -> None:
        self._title.setText(title)

    def add_batch(self, iteration: int, loss: float) -> None:
        """Record the loss of one mini-batch (cheap; drawn within ~0.1 s)."""
        self._batch.append(float(iteration), float(loss))
        self._schedule_redraw()

    def add_validation(self, iteration: int, epoch: int, auc: float, is_best: bool) -> None:
        """Record the validation AUC measured after ``epoch`` (at ``iteration``).

        Also closes the epoch's mean training loss: the mean of the batch losses since
        the previous validation.
        """
        xs, ys = self._batch.x, self._batch.y
        sel = (xs > self._last_val_iter) & (xs <= iteration)
        if sel.any():
            self._epoch_loss.append(float(iteration), float(ys[sel].mean()))
        self._last_val_iter = float(iteration)
        self._auc_epoch.append(float(epoch + 1), float(auc))  # epochs counted from 1
        self._auc_iter.append(float(iteration), float(auc))
        if is_best:
            self._best = (int(iteration), int(epoch), float(auc))
        self._schedule_redraw()

    def set_history(self, history: list[dict], best_epoch: int | None = None) -> None:
        """Draw a finished run's stored per-epoch history (``TrainResult.history``).

        Each entry has ``epoch`` (from 0), ``iteration``, ``train_loss`` and ``val_auc``;
        only the per-epoch means are stored, so the batch curve stays empty.
        """
        self.clear()
        for h in history:
            it, ep = int(h.get("iteration", 0)), int(h.get("epoch", 0))
            self._epoch_loss.append(float(it), float(h.get("train_loss", np.nan)))
            auc = h.get("val_auc")
            if auc is None or not np.isfinite(auc):
                continue
            self._auc_epoch.append(float(ep + 1), float(auc))
            self._auc_iter.append(float(it), float(auc))
            if best_epoch is not None and ep == best_epoch:
                self._best = (it, ep, float(auc))
        self._last_val_iter = float(history[-1].get("iteration", 0)) if history else -np.inf
        self.flush()

    def title(self) -> str:
        return self._title.text()

    def best_title(self) -> str:
        """The AUC plot's title (names the best epoch, counted from 1)."""
        return self._auc_plot.titleLabel.text

    def clear(self) -> None:
        for s in (self._batch, self._epoch_loss, self._auc_epoch, self._auc_iter):
            s.clear()
        self._best = None
        self._last_val_iter = -np.inf
        self.flush()

    def set_auc_axis(self, axis: str) -> None:
        """``"epoch"`` or ``"iteration"``: the x axis of the AUC plot."""
        if axis not in ("epoch", "iteration"):
            raise ValueError(f"unknown axis {axis!r}; choose epoch or iteration")
        self._auc_axis = axis
        if self._axis_combo.currentText() != axis:
            self._axis_combo.setCurrentText(axis)
        self._update_axis_label()
        self.flush()

    def n_batches(self) -> int:
        return self._batch.n

    def n_validations(self) -> int:
        return self._auc_epoch.n

    def plotted(self, curve: str) -> tuple[np.ndarray, np.ndarray]:
        """The (x, y) data currently handed to ``curve``: batch, epoch or auc."""
        items = {"batch": self._batch_curve, "epoch": self._epoch_curve, "auc": self._auc_curve}
        if curve not in items:
            raise ValueError(f"unknown curve {curve!r}; choose one of {', '.join(items)}")
        item = items[curve]
        if item.xData is None:
            return np.zeros(0), np.zeros(0)
        return np.asarray(item.xData), np.asarray(item.yData)

    def best(self) -> tuple[int, int, float] | None:
        """(iteration, epoch counted from 0, AUC) of the best validation so far."""
        return self._best

    # ---------------------------------------------------------------- drawing
    def _schedule_redraw(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Redraw now (otherwise done at most every ``REDRAW_MS``)."""
        self._timer.stop()
        self._batch_curve.setData(self._batch.x, self._batch.y)
        self._epoch_curve.setData(self._epoch_loss.x, self._epoch_loss.y)
        auc = self._auc_epoch if self._auc_axis == "epoch" else self._auc_iter
        self._auc_curve.setData(auc.x, auc.y)
        if auc.n:
            lo = min(0.5, float(auc.y.min()) - 0.02)
            self._auc_plot.setYRange(max(lo, 0.0), 1.0, padding=0.02)
        visible = self._best is not None
        for item in (self._best_line, self._best_point):
            item.setVisible(visible)
        if self._best is not None:
            it, ep, a = self._best
            x = float(ep + 1 if self._auc_axis == "epoch" else it)
            self._best_line.setPos(x)
            self._best_point.setData([x], [a])
            self._auc_plot.setTitle(
                f"★ best AUC {a:.3f} · epoch {ep + 1}", color=_BEST.name(), size="9pt"
            )
        else:
            self._auc_plot.setTitle(None)
        self._status.setText(self._status_text())

    def _status_text(self) -> str:
        parts = []
        if self._batch.n:
            parts.append(f"iteration {int(self._batch.x[-1])} · loss {self._batch.y[-1]:.4f}")
        if self._auc_epoch.n:
            parts.append(f"AUC {self._auc_epoch.y[-1]:.3f}")
        return "   ".join(parts)

    def _update_axis_label(self) -> None:
        fg = self.palette().color(QPalette.ColorRole.WindowText)
        self._auc_plot.setLabel("bottom", self._auc_axis, color=fg.name())

    def _arrange(self, wide: bool) -> None:
        if wide == self._wide:
            return
        self._wide = wide
        ci = self._view.ci
        for plot in (self._loss_plot, self._auc_plot):
            if plot.scene() is not None and plot in ci.items:
                ci.removeItem(plot)
        ci.addItem(self._loss_plot, row=0, col=0)
        if wide:
            ci.addItem(self._auc_plot, row=0, col=1)
        else:
            ci.addItem(self._auc_plot, row=1, col=0)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        s = event.size()
        self._arrange(wide=s.width() >= 1.4 * s.height())
