"""Frames where the model and the expert disagree, strongest disagreement first.

A reviewing aid (SPEC §1.6: labels are reviewed and corrected): the frames at the top
are those where a label is most likely wrong, or the model most confidently so.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

_FRAME_ROLE = Qt.ItemDataRole.UserRole


class _ListWidget(QListWidget):
    """A list whose Enter/Return activates the current row on every platform."""

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentItem():
            self.itemActivated.emit(self.currentItem())
            event.accept()
            return
        super().keyPressEvent(event)


class DisagreementListWidget(QWidget):
    """Rows ``frame 123 · label informative · model 0.08``, sorted by ``|p − label|``.

    Parameters
    ----------
    positive_label : str
        The label value that means class 1 (the model's probability is of this class).
    threshold : float or None
        Rows whose model decision (``p >= threshold``) agrees with the label are left
        out; ``None`` keeps every row given.

    Signals
    -------
    frame_requested(int)
        The frame of a row activated by double-click or Enter.
    """

    frame_requested = Signal(int)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        positive_label: str = "informative",
        threshold: float | None = 0.5,
    ) -> None:
        super().__init__(parent)
        self._positive = positive_label
        self._threshold = threshold
        self._rule = ""
        self._hidden: str | None = None
        self._header = QLabel()
        self._header.setObjectName("header")
        self._header.setWordWrap(True)
        self._list = _ListWidget()
        self._list.setObjectName("rows")
        self._list.setUniformItemSizes(True)  # keeps thousands of rows fast
        self._list.setAlternatingRowColors(True)
        self._list.setToolTip("Double-click or press Enter to go to the frame.")
        self._list.itemActivated.connect(self._on_activated)
        self.setFocusProxy(self._list)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        lay.addWidget(self._header)
        lay.addWidget(self._list, 1)
        self.set_items([])

    # -------------------------------------------------------------------- API
    def set_threshold(self, threshold: float | None, rule: str = "") -> None:
        """Decide with ``p >= threshold`` (None: list every row); ``rule`` says how the
        threshold was chosen (shown in the header). Call :meth:`set_items` after."""
        self._threshold = threshold
        self._rule = rule

    def threshold(self) -> float | None:
        return self._threshold

    def set_hidden(self, reason: str | None) -> None:
        """Hide every row and show ``reason`` instead (None: show rows again). Call
        :meth:`set_items` after."""
        self._hidden = reason

    def header_text(self) -> str:
        """The header and, when a rule was given, how the threshold was chosen."""
        tip = self._header.toolTip()
        return self._header.text() + (f" — {tip}" if tip else "")

    def set_items(self, rows: list[tuple[int, str, float]]) -> None:
        """Show ``rows`` of (frame, expert label, model probability of the positive class)."""
        if self._hidden is not None:
            rows = []
        kept = []
        for frame, label, p in rows:
            target = 1.0 if label == self._positive else 0.0
            if self._threshold is not None and (p >= self._threshold) == (target == 1.0):
                continue
            kept.append((abs(float(p) - target), int(frame), str(label), float(p)))
        kept.sort(key=lambda r: (-r[0], r[1]))

        self._list.setUpdatesEnabled(False)
        self._list.clear()
        strong = self.palette().color(self.palette().ColorRole.Text)
        weak = QColor(strong)
        weak.setAlphaF(0.6)
        for gap, frame, label, p in kept:
            item = QListWidgetItem(f"frame {frame} · label {label} · model {p:.2f}")
            item.setData(_FRAME_ROLE, frame)
            tip = f"|p − label| = {gap:.2f}"
            if self._threshold is not None:
                side = "above" if p >= self._threshold else "below"
                tip += f"; p is {side} the threshold {self._threshold:.2f}"
            item.setToolTip(tip)
            # Mild disagreements (near the threshold) are drawn fainter.
            if gap < 0.75:
                item.setForeground(weak)
            self._list.addItem(item)
        self._list.setUpdatesEnabled(True)
        if kept:
            self._list.setCurrentRow(0)
        n, total = len(kept), len(rows)
        noun = "disagreement" if n == 1 else "disagreements"
        text = f"{n} {noun}"
        if self._threshold is not None:
            text += f" of {total} labelled frames"
            if self._rule:
                text += f" at threshold {self._threshold:.2f}"
        self._header.setText(self._hidden if self._hidden is not None else text)
        self._header.setToolTip(f"The model says informative when p ≥ {self._threshold:.2f} "
                                f"({self._rule})." if self._rule and self._threshold is not
                                None else "")

    def count(self) -> int:
        return self._list.count()

    def frame_at_row(self, row: int) -> int:
        return int(self._list.item(row).data(_FRAME_ROLE))

    def current_frame(self) -> int | None:
        item = self._list.currentItem()
        return None if item is None else int(item.data(_FRAME_ROLE))

    def activate_next(self, step: int = 1) -> None:
        """Move to the next (``step=-1``: previous) row and request its frame."""
        n = self._list.count()
        if n == 0:
            return
        row = min(max(self._list.currentRow() + step, 0), n - 1)
        self._list.setCurrentRow(row)
        self._on_activated(self._list.item(row))

    # ---------------------------------------------------------------- private
    def _on_activated(self, item: QListWidgetItem) -> None:
        self.frame_requested.emit(int(item.data(_FRAME_ROLE)))
