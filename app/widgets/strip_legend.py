"""The legend under the probability strip: what its colours, ticks and marks mean.

A colour bar shows the strip's scale (red → amber → green) with the decision threshold
marked and the lowest and highest probability at its ends; beside it the threshold's
value and rule, and swatches for the label ticks, the marked range and the sampled
frames. When the model's output is hidden (a test video) it says so instead.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from .probability_strip import DEFAULT_LABEL_COLORS, probability_rgb


class _ColourBarWidget(QWidget):
    """The strip's colour scale, 0 (left) to 1 (right), a line at the threshold."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.marker: float | None = 0.5  # position of the threshold line, None: none
        self.setFixedSize(QSize(120, 12))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        r = QRectF(self.rect()).adjusted(0, 1, -1, -1)
        grad = QLinearGradient(r.topLeft(), r.topRight())
        for pos in (0.0, 0.25, 0.5, 0.75, 1.0):
            grad.setColorAt(pos, QColor(*probability_rgb(pos).tolist()))
        p.fillRect(r, grad)
        p.setPen(QPen(self.palette().mid().color(), 1))
        p.drawRect(r)
        if self.marker is not None:
            x = r.left() + self.marker * r.width()
            p.setPen(QPen(QColor(20, 20, 20), 2))
            p.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        p.end()


def _swatch(rgb: tuple[int, int, int], text: str) -> str:
    return f'<span style="color: rgb{tuple(rgb)}">■</span> {text}'


class StripLegendWidget(QWidget):
    """Two lines: ``model p 0.31 [colour bar] 0.67  colour = rank; line = threshold 0.48
    (rule)``, then ``ticks: ■ informative ■ non-informative…``.

    Call :meth:`set_rank_scale` when the strip colours by rank around a threshold,
    :meth:`set_probability_scale` when it colours by probability, :meth:`set_hidden`
    when the model's output is not shown and :meth:`set_unscored` when there is none.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.low = QLabel()
        self.bar = _ColourBarWidget()
        self.high = QLabel()
        self.head_label = QLabel()
        self.text = QLabel()
        self.text.setTextFormat(Qt.TextFormat.RichText)
        for w in (self.head_label, self.text):  # one line each; the tooltip has it all
            w.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.setSpacing(4)
        for w in (self.low, self.bar, self.high):
            top.addWidget(w)
        top.addWidget(self.head_label, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(1)
        lay.addLayout(top)
        lay.addWidget(self.text)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._marks = ""
        self.set_unscored()

    def _keys(self) -> str:
        ticks = " ".join(_swatch(c, n) for n, c in DEFAULT_LABEL_COLORS.items())
        return f"ticks: {ticks} (your labels){self._marks}"

    def set_marks(self, *, range_shown: bool, sample_seconds: float | None) -> None:
        """Name the range span and the sampled-frame notches when the strip shows them."""
        parts = []
        if range_shown:
            parts.append(_swatch((40, 90, 220), "marked range"))
        if sample_seconds:
            parts.append(f"notches: one frame every {sample_seconds:g} s")
        self._marks = "".join(f" · {p}" for p in parts)
        self._render()

    def _render(self) -> None:
        self.head_label.setText(self._head)
        self.text.setText(self._keys())
        self.setToolTip(self._tip)

    def _show_bar(self, shown: bool) -> None:
        for w in (self.low, self.bar, self.high):
            w.setVisible(shown)

    def set_rank_scale(self, lowest: float, threshold: float, highest: float,
                       rule: str) -> None:
        """The strip colours frames by rank: amber at ``threshold``, red the lowest
        probability (``lowest``), green the highest (``highest``)."""
        self._show_bar(True)
        self.bar.marker = 0.5
        self.bar.update()
        self.low.setText(f"model p {lowest:.2f}")
        self.high.setText(f"{highest:.2f}")
        self._head = f"colour = rank; line = threshold {threshold:.2f} ({rule})"
        self._tip = ("The bar colours each frame by the rank of the model's probability "
                     "that it is informative: amber at the decision threshold, deeper red "
                     "the lower it ranks below it, deeper green the higher above it. "
                     f"Threshold {threshold:.2f}: {rule}.")
        self._render()

    def set_probability_scale(self, threshold: float | None = None) -> None:
        """The strip colours frames by probability, 0 red to 1 green."""
        self._show_bar(True)
        self.bar.marker = threshold
        self.bar.update()
        self.low.setText("model p 0")
        self.high.setText("1")
        self._head = "colour = probability"
        self._tip = "The bar colours each frame by the model's probability (0 red, 1 green)."
        self._render()

    def set_hidden(self, reason: str) -> None:
        """The model's output is not drawn; say why."""
        self._show_bar(False)
        self._head = reason
        self._tip = reason
        self._render()

    def set_unscored(self) -> None:
        """No model output for this video yet (the bar is grey)."""
        self._show_bar(False)
        self._head = "no model output for this video yet (grey)"
        self._tip = "Train a model to see its per-frame probability on the bar."
        self._render()

    def head(self) -> str:
        """The legend's first part (scale or reason), as plain text."""
        return self._head
