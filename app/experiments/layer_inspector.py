"""The layer-change inspector: on the AlexNet layer stack, how far each tuned layer moved
from its starting weights, ``||W_t - W_0|| / ||W_0||`` per epoch (issue 10).

Drawn like the depth selector (:mod:`app.widgets.layer_stack`): fc8 on top, conv1 at the
bottom, frozen layers grey with a padlock. Each tuned block holds a bar on a log scale
(1e-5 … 1, so a change of 0.1 % in conv1 is as visible as 30 % in fc8) and the value.
A slider picks the epoch; a list picks the run. The numbers are the run's stored
``metrics["layer_change"]`` (one ``{layer: change}`` dict per epoch), recorded by the
training engine (:mod:`core.experiments.layer_change`).
"""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from app.widgets.layer_stack import _FROZEN, _FROZEN_TEXT, _SCRATCH, _TUNED, LayerStackCanvas
from core.train.model import LAYERS

LOG_LO, LOG_HI = -5.0, 0.0  # the bars' scale: 1e-5 … 1


def bar_fraction(change: float) -> float:
    """Share of the block a relative change fills (log scale, clipped to [0, 1])."""
    if not (change > 0 and math.isfinite(change)):
        return 0.0
    return min(max((math.log10(change) - LOG_LO) / (LOG_HI - LOG_LO), 0.0), 1.0)


def fmt_change(v: float) -> str:
    if not math.isfinite(v):
        return "–"
    return f"{v * 100:.3g} %" if v >= 1e-4 else f"{v:.1e}"


class LayerChangeCanvas(QWidget):
    """The painted stack with one bar per layer."""

    _BLOCK_H = LayerStackCanvas._BLOCK_H
    _GAP = LayerStackCanvas._GAP
    _GROUP_GAP = LayerStackCanvas._GROUP_GAP
    _MARGIN = LayerStackCanvas._MARGIN
    _CAPTION_H = LayerStackCanvas._CAPTION_H

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.values: dict[str, float] = {}
        self.scratch = False
        self.caption = ""

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(380, self._height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(260, self._height())

    def _height(self) -> int:
        n = len(LAYERS)
        return (2 * self._MARGIN + 2 * self._CAPTION_H + n * self._BLOCK_H
                + (n - 2) * self._GAP + self._GROUP_GAP)

    def block_rect(self, layer: str) -> QRectF:
        i = LAYERS.index(layer)
        from_top = len(LAYERS) - 1 - i
        y = self._MARGIN + self._CAPTION_H + from_top * (self._BLOCK_H + self._GAP)
        if i <= LAYERS.index("conv5"):
            y += self._GROUP_GAP - self._GAP
        return QRectF(3, y, self.width() - 6, self._BLOCK_H)

    def set_values(self, values: dict[str, float], *, scratch: bool, caption: str) -> None:
        self.values, self.scratch, self.caption = dict(values), scratch, caption
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        base = QFont(self.font())
        bold = QFont(base)
        bold.setBold(True)
        small = QFont(base)
        small.setPointSizeF(base.pointSizeF() * 0.9)
        p.setFont(small)
        p.setPen(self.palette().placeholderText().color())
        p.drawText(QRectF(3, self._MARGIN, self.width() - 6, self._CAPTION_H),
                   Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                   self.caption or "output · class scores")
        last = self.block_rect("conv1")
        p.drawText(QRectF(3, last.bottom() + 4, self.width() - 6, self._CAPTION_H),
                   Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                   "bars: ‖W − W₀‖ / ‖W₀‖ on a log scale, 1e-5 … 1")
        name_w = QFontMetrics(bold).horizontalAdvance("conv5") + 22
        colour = _SCRATCH if self.scratch else _TUNED
        for layer in LAYERS:
            r = self.block_rect(layer)
            v = self.values.get(layer)
            tuned = v is not None and math.isfinite(v)
            fill = QColor(colour).lighter(185) if tuned else _FROZEN
            p.setPen(QPen(fill.darker(125), 1))
            p.setBrush(fill)
            p.drawRoundedRect(r.adjusted(0.5, 0.5, -0.5, -0.5), 5, 5)
            text_col = QColor(20, 30, 60) if tuned else _FROZEN_TEXT
            p.setFont(bold)
            p.setPen(text_col)
            p.drawText(QRectF(r.left() + 10, r.top(), name_w, r.height()),
                       Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, layer)
            p.setFont(small)
            if not tuned:
                p.drawText(r.adjusted(0, 0, -10, 0),
                           Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                           "frozen · unchanged")
                continue
            value_w = QFontMetrics(small).horizontalAdvance("00.0 %") + 16
            track = QRectF(r.left() + 10 + name_w, r.top() + 8,
                           r.width() - name_w - value_w - 20, r.height() - 16)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(255, 255, 255, 180))
            p.drawRoundedRect(track, 3, 3)
            p.setBrush(colour)
            p.drawRoundedRect(QRectF(track.left(), track.top(),
                                     max(track.width() * bar_fraction(v), 2), track.height()),
                              3, 3)
            p.setPen(text_col)
            p.drawText(r.adjusted(0, 0, -10, 0),
                       Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                       fmt_change(v))
        p.end()


class LayerChangeWidget(QWidget):
    """Run picker, epoch slider and the stack (see the module docstring)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_box = QComboBox()
        self.run_box.currentIndexChanged.connect(self._on_run)
        self.epoch = QSlider(Qt.Orientation.Horizontal)
        self.epoch.setMinimum(0)
        self.epoch.valueChanged.connect(self._draw)
        self.epoch_label = QLabel("")
        self.canvas = LayerChangeCanvas()
        self.note = QLabel("")
        self.note.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("Run"))
        top.addWidget(self.run_box, 1)
        top.addWidget(QLabel("Epoch"))
        top.addWidget(self.epoch, 1)
        top.addWidget(self.epoch_label)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.canvas)
        lay.addWidget(self.note)
        lay.addStretch(1)
        self.runs: list = []

    def set_runs(self, runs: list) -> None:
        """``runs``: :class:`app.experiments.api.RunResult` (their ``layer_change``)."""
        self.runs = list(runs)
        self.run_box.blockSignals(True)
        self.run_box.clear()
        for r in self.runs:
            self.run_box.addItem(f"run {r.run_id} · {r.label}", r.run_id)
        self.run_box.blockSignals(False)
        deepest = next((i for i, r in enumerate(self.runs) if r.layer_change), 0)
        self.run_box.setCurrentIndex(deepest if self.runs else -1)
        self._on_run()

    def _on_run(self, _i: int = -1) -> None:
        r = self._run()
        n = len(r.layer_change) if r is not None else 0
        self.epoch.setMaximum(max(n - 1, 0))
        self.epoch.setValue(max(n - 1, 0))
        self.epoch.setEnabled(n > 1)
        self._draw()

    def _run(self):
        i = self.run_box.currentIndex()
        return self.runs[i] if 0 <= i < len(self.runs) else None

    def _draw(self, _v: int = 0) -> None:
        r = self._run()
        if r is None or not r.layer_change:
            self.canvas.set_values({}, scratch=False, caption="no run with a recorded "
                                                               "layer change")
            self.epoch_label.setText("")
            self.note.setText("Runs record how far each tuned layer moved once training "
                              "measures it (metrics['layer_change']).")
            return
        e = self.epoch.value()
        values = {k: float(v) for k, v in r.layer_change[e].items()
                  if v is not None and k in LAYERS}
        self.canvas.set_values(values, scratch=r.depth == "scratch",
                               caption=f"run {r.run_id} · {r.label} · after epoch {e + 1}")
        self.epoch_label.setText(f"{e + 1} of {len(r.layer_change)}")
        tuned = [k for k in LAYERS if k in values]
        if tuned:
            lo, hi = tuned[0], tuned[-1]
            self.note.setText(f"{lo} moved {fmt_change(values[lo])} from its "
                              f"{'initial' if r.depth == 'scratch' else 'ImageNet'} weights; "
                              f"{hi} moved {fmt_change(values[hi])}.")
