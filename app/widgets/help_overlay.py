"""A translucent sheet of keyboard shortcuts laid over its parent (toggled with ? / F1)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QRect, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import QWidget

_SHADE = QColor(10, 14, 22, 190)
_PANEL = QColor(32, 38, 50, 235)
_TEXT = QColor(235, 238, 244)
_MUTED = QColor(160, 168, 182)
_KEY_FILL = QColor(62, 72, 92)
_KEY_EDGE = QColor(110, 122, 146)


class HelpOverlayWidget(QWidget):
    """Keyboard shortcuts over the whole of the parent widget.

    The owner installs the ``?``/F1 shortcut and calls :meth:`toggle`; Esc or a click
    closes the sheet. It follows the parent's size while shown.
    """

    _PAD = 28
    _ROW_GAP = 8
    _COL_GAP = 40

    def __init__(
        self,
        parent: QWidget | None = None,
        shortcuts: list[tuple[str, str]] | None = None,
        title: str = "Keyboard shortcuts",
    ) -> None:
        super().__init__(parent)
        self._shortcuts: list[tuple[str, str]] = list(shortcuts or [])
        self._title = title
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.hide()
        if parent is not None:
            parent.installEventFilter(self)

    # -------------------------------------------------------------------- API
    def set_shortcuts(self, shortcuts: list[tuple[str, str]]) -> None:
        """``[(keys, description), ...]``, e.g. ``("Space", "Play / pause")``."""
        self._shortcuts = list(shortcuts)
        self.update()

    def shortcuts(self) -> list[tuple[str, str]]:
        return list(self._shortcuts)

    def toggle(self) -> None:
        if self.isVisible():
            self.hide()
        else:
            self.open()

    def open(self) -> None:
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect())
        self.show()
        self.raise_()
        self.setFocus(Qt.FocusReason.OtherFocusReason)

    # ----------------------------------------------------------------- events
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize:
            self.setGeometry(self.parentWidget().rect())
        return False

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Escape, Qt.Key.Key_F1, Qt.Key.Key_Question):
            self.hide()
            event.accept()
            return
        super().keyPressEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.hide()
        event.accept()

    # ------------------------------------------------------------------ paint
    def _fonts(self) -> tuple[QFont, QFont, QFont]:
        body = QFont(self.font())
        body.setPointSizeF(max(body.pointSizeF(), 10.0))
        title = QFont(body)
        title.setPointSizeF(body.pointSizeF() * 1.4)
        title.setBold(True)
        key = QFont(body)
        key.setBold(True)
        key.setPointSizeF(body.pointSizeF() * 0.92)
        return title, body, key

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), _SHADE)
        title_f, body_f, key_f = self._fonts()
        fm_t, fm_b, fm_k = QFontMetrics(title_f), QFontMetrics(body_f), QFontMetrics(key_f)

        row_h = max(fm_b.height(), fm_k.height() + 8) + self._ROW_GAP
        key_w = max((fm_k.horizontalAdvance(k) + 18 for k, _ in self._shortcuts), default=0)
        desc_w = max((fm_b.horizontalAdvance(d) for _, d in self._shortcuts), default=0)
        col_w = key_w + 16 + desc_w
        head_h = fm_t.height() + 18
        foot_h = fm_b.height() + 14
        avail_h = self.height() - 2 * self._PAD - head_h - foot_h - 40
        n = len(self._shortcuts)
        # Two columns when one would not fit the height and two fit the width.
        n_cols = 1
        if n * row_h > avail_h and 2 * col_w + self._COL_GAP + 2 * self._PAD < self.width() - 40:
            n_cols = 2
        per_col = -(-n // n_cols) if n else 0
        panel_w = min(
            n_cols * col_w + (n_cols - 1) * self._COL_GAP + 2 * self._PAD, self.width() - 20
        )
        panel_w = max(panel_w, fm_t.horizontalAdvance(self._title) + 2 * self._PAD)
        panel_h = min(
            head_h + per_col * row_h + foot_h + 2 * self._PAD - self._ROW_GAP, self.height() - 20
        )
        panel = QRect(
            (self.width() - panel_w) // 2, (self.height() - panel_h) // 2, panel_w, panel_h
        )
        p.setPen(QPen(_KEY_EDGE, 1))
        p.setBrush(_PANEL)
        p.drawRoundedRect(QRectF(panel), 10, 10)

        inner = panel.adjusted(self._PAD, self._PAD, -self._PAD, -self._PAD)
        p.setFont(title_f)
        p.setPen(_TEXT)
        p.drawText(
            QRect(inner.left(), inner.top(), inner.width(), fm_t.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            self._title,
        )
        top = inner.top() + head_h
        bottom_limit = inner.top() + inner.height() - foot_h
        for i, (keys, desc) in enumerate(self._shortcuts):
            col, row = divmod(i, per_col)
            x = inner.left() + col * (col_w + self._COL_GAP)
            y = top + row * row_h
            if y + row_h - self._ROW_GAP > bottom_limit:
                continue  # no room: a window this small shows what fits
            cap_h = fm_k.height() + 8
            cap = QRectF(
                x, y + (row_h - self._ROW_GAP - cap_h) / 2, fm_k.horizontalAdvance(keys) + 18, cap_h
            )
            p.setPen(QPen(_KEY_EDGE, 1))
            p.setBrush(_KEY_FILL)
            p.drawRoundedRect(cap, 4, 4)
            p.setFont(key_f)
            p.setPen(_TEXT)
            p.drawText(cap, Qt.AlignmentFlag.AlignCenter, keys)
            p.setFont(body_f)
            p.drawText(
                QRect(x + key_w + 16, y, desc_w + 4, row_h - self._ROW_GAP),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                desc,
            )
        p.setFont(body_f)
        p.setPen(_MUTED)
        p.drawText(
            QRect(inner.left(), inner.bottom() - fm_b.height(), inner.width(), fm_b.height()),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            "Esc or click to close",
        )
        p.end()
