"""The AlexNet layer stack drawn for the depth selector: blocks, padlocks, hover, keys.

A view of :class:`app.widgets.depth_stack.DepthStackWidget`'s state; clicking a block
asks the owner to tune from that layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QHelpEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import (
    QSizePolicy,
    QToolTip,
    QWidget,
)

from core.train import model as core_model
from core.train.model import DEPTHS, LAYERS

if TYPE_CHECKING:
    from app.widgets.depth_stack import DepthStackWidget

# Shapes of torchvision's AlexNet (the "one weird trick" variant LayerTune loads, SPEC
# §1.1): short label drawn in the block, longer text for the tooltip.
LAYER_INFO: dict[str, tuple[str, str]] = {
    "conv1": ("11×11/4 · 64", "11×11 convolution, stride 4, 64 filters → 64×55×55, max-pool"),
    "conv2": ("5×5 · 192", "5×5 convolution, 192 filters → 192×27×27, max-pool"),
    "conv3": ("3×3 · 384", "3×3 convolution, 384 filters → 384×13×13"),
    "conv4": ("3×3 · 256", "3×3 convolution, 256 filters → 256×13×13"),
    "conv5": ("3×3 · 256", "3×3 convolution, 256 filters → 256×13×13, max-pool → 256×6×6"),
    "fc6": ("4096", "fully connected 9216 → 4096 (dropout in front)"),
    "fc7": ("4096", "fully connected 4096 → 4096 (dropout in front)"),
    "fc8": (
        "{c} classes",
        "fully connected 4096 → {c}, new layer (replaces ImageNet's 1000-way fc8)",
    ),
}


def fmt_rate(x: float) -> str:
    return f"{x:g}"


_TUNED = QColor("#2e6bc6")
_SCRATCH = QColor("#c8652a")
_FROZEN = QColor("#dcdfe4")
_FROZEN_TEXT = QColor("#6b7280")


class LayerStackCanvas(QWidget):
    """The painted stack: fc8 on top, conv1 at the bottom; a click picks the depth."""

    layer_clicked = Signal(str)
    step_requested = Signal(int)

    _BLOCK_H = 30
    _GAP = 4
    _GROUP_GAP = 10  # between the conv and the fc groups
    _MARGIN = 8  # above and below the stack
    _SIDE = 3  # left and right: room for the focus ring only, so blocks align with the form
    _CAPTION_H = 18

    def __init__(self, owner: DepthStackWidget) -> None:
        super().__init__(owner)
        self._owner = owner
        self._hover: str | None = None
        self.input_text = "input · 3×227×227 image patch"  # the caption under conv1
        self.setObjectName("layer_stack")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    # ---------------------------------------------------------------- geometry
    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(340, self._stack_height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(220, self._stack_height())

    def _stack_height(self) -> int:
        n = len(LAYERS)
        return (
            2 * self._MARGIN
            + 2 * self._CAPTION_H
            + n * self._BLOCK_H
            + (n - 2) * self._GAP
            + self._GROUP_GAP
        )

    def block_rect(self, layer: str) -> QRect:
        """The block of ``layer`` in this widget's coordinates."""
        i = LAYERS.index(layer)
        from_top = len(LAYERS) - 1 - i  # fc8 is drawn first, at the top
        y = self._MARGIN + self._CAPTION_H + from_top * (self._BLOCK_H + self._GAP)
        if i <= LAYERS.index("conv5"):
            y += self._GROUP_GAP - self._GAP
        return QRect(self._SIDE, y, self.width() - 2 * self._SIDE, self._BLOCK_H)

    def layer_at(self, pos: QPoint) -> str | None:
        for name in LAYERS:
            if self.block_rect(name).contains(pos):
                return name
        return None

    # ------------------------------------------------------------------ events
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        name = self.layer_at(event.position().toPoint())
        if event.button() == Qt.MouseButton.LeftButton and name is not None:
            self.setFocus(Qt.FocusReason.MouseFocusReason)
            self.layer_clicked.emit(name)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        name = self.layer_at(event.position().toPoint())
        if name != self._hover:
            self._hover = name
            self.setCursor(
                Qt.CursorShape.PointingHandCursor if name else Qt.CursorShape.ArrowCursor
            )
            self.update()
        super().mouseMoveEvent(event)

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802
        self._hover = None
        self.update()
        super().leaveEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        steps = {
            Qt.Key.Key_Up: -1,
            Qt.Key.Key_Down: +1,
            Qt.Key.Key_Home: -len(DEPTHS),
            Qt.Key.Key_End: len(DEPTHS),
        }
        if event.key() in steps:
            self.step_requested.emit(steps[event.key()])
            event.accept()
            return
        super().keyPressEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            assert isinstance(event, QHelpEvent)
            name = self.layer_at(event.pos())
            if name is None:
                QToolTip.hideText()
                event.ignore()
            else:
                QToolTip.showText(event.globalPos(), self._owner._layer_tooltip(name), self)
            return True
        return super().event(event)

    # ------------------------------------------------------------------- paint
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        sched = self._owner.schedule()
        scratch = sched.depth == "scratch"
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if not self.isEnabled():
            p.setOpacity(0.55)
        pal = self.palette()
        base = QFont(self.font())
        small = QFont(base)
        small.setPointSizeF(base.pointSizeF() * 0.9)
        bold = QFont(base)
        bold.setBold(True)

        # Captions: which end is the output, which the input.
        p.setFont(small)
        p.setPen(pal.placeholderText().color())
        top = QRect(self._SIDE, self._MARGIN, self.width() - 2 * self._SIDE, self._CAPTION_H)
        caption = "output · class scores"
        if not self.isEnabled():
            caption += "   —   locked while training"
        p.drawText(top, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, caption)
        last = self.block_rect("conv1")
        bottom = QRect(last.left(), last.bottom() + 4, last.width(), self._CAPTION_H)
        p.drawText(
            bottom,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            self.input_text,
        )

        for ls in sched.layers:
            r = self.block_rect(ls.layer)
            rf = QRectF(r).adjusted(0.5, 0.5, -0.5, -0.5)
            fill = (_SCRATCH if scratch else _TUNED) if ls.tuned else _FROZEN
            if ls.layer == self._hover and self.isEnabled():
                fill = fill.lighter(112) if ls.tuned else fill.darker(106)
            p.setPen(QPen(fill.darker(125), 1))
            p.setBrush(fill)
            p.drawRoundedRect(rf, 5, 5)
            self._draw_block_text(p, r, ls, bold, small)

        # The tuned/frozen boundary, and the keyboard focus on it.
        if not scratch:
            first = sched.first_tuned
            r = self.block_rect(first)
            if first != "conv1":
                y = (
                    r.bottom()
                    + 1
                    + (self.block_rect(LAYERS[LAYERS.index(first) - 1]).top() - r.bottom() - 1) / 2
                )
                p.setPen(QPen(_TUNED.darker(110), 1.5, Qt.PenStyle.DashLine))
                p.drawLine(0, int(y), self.width(), int(y))
        if self.hasFocus():
            target = self.block_rect("conv1" if scratch else sched.first_tuned)
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.setPen(QPen(pal.highlight().color(), 2))
            p.drawRoundedRect(QRectF(target).adjusted(-2, -2, 2, 2), 6, 6)
        p.end()

    def _draw_block_text(
        self, p: QPainter, r: QRect, ls: core_model.LayerSchedule, bold: QFont, small: QFont
    ) -> None:
        pad = 10
        inner = r.adjusted(pad, 0, -pad, 0)
        text_col = QColor("white") if ls.tuned else _FROZEN_TEXT
        center = Qt.AlignmentFlag.AlignVCenter
        # Layer name in a fixed column so the shapes line up.
        p.setFont(bold)
        p.setPen(text_col)
        name_w = QFontMetrics(bold).horizontalAdvance("conv5") + 12
        p.drawText(
            QRect(inner.left(), inner.top(), name_w, inner.height()),
            center | Qt.AlignmentFlag.AlignLeft,
            ls.layer,
        )
        # Right: the rates when tuned, a padlock when frozen.
        p.setFont(small)
        fm = QFontMetrics(small)
        if ls.tuned:
            right = f"w {fmt_rate(ls.weight_lr)} · b {fmt_rate(ls.bias_lr)}"
            right_w = fm.horizontalAdvance(right)
            p.drawText(inner, center | Qt.AlignmentFlag.AlignRight, right)
        else:
            right = "frozen"
            right_w = fm.horizontalAdvance(right) + 16
            p.drawText(inner, center | Qt.AlignmentFlag.AlignRight, right)
            lock_x = inner.right() - right_w + 1
            self._draw_padlock(p, lock_x, r.center().y(), text_col)
        # Middle: the layer's shape, dropped when it would collide (it is in the tooltip).
        shape = LAYER_INFO[ls.layer][0].format(c=self._owner.n_classes())
        mid = QRect(
            inner.left() + name_w,
            inner.top(),
            inner.width() - name_w - right_w - 12,
            inner.height(),
        )
        if fm.horizontalAdvance(shape) <= mid.width():
            col = QColor(text_col)
            col.setAlphaF(0.85)
            p.setPen(col)
            p.drawText(mid, center | Qt.AlignmentFlag.AlignLeft, shape)

    @staticmethod
    def _draw_padlock(p: QPainter, x: int, cy: int, col: QColor) -> None:
        p.save()
        p.setPen(QPen(col, 1.4))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawArc(QRectF(x + 1.5, cy - 6.5, 6, 7), 0, 180 * 16)
        p.drawLine(int(x + 1.5), int(cy - 3), int(x + 1.5), int(cy - 1))
        p.drawLine(int(x + 7.5), int(cy - 3), int(x + 7.5), int(cy - 1))
        p.setBrush(col)
        p.drawRoundedRect(QRectF(x, cy - 1, 9, 7), 1.5, 1.5)
        p.restore()
