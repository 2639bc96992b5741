"""Every notice of the session, with its time, to read back after the status bar moved on.

The window feeds it the core's :class:`core.events.Notice` (from training, evaluation,
import, scoring) and every workspace message; newest first. Warnings are marked.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtGui import QBrush, QColor, QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

_WARN = QColor(179, 38, 30)


class NoticesWidget(QWidget):
    """A list of (time, level, source, message), newest on top.

    Signals
    -------
    count_changed(int, int)
        Entries in the list, and how many of them are warnings.
    """

    count_changed = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Time", "Kind", "From", "Message"])
        self.tree.setRootIsDecorated(False)
        self.tree.setWordWrap(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(False)
        for col, width in ((0, 70), (1, 64), (2, 110)):
            self.tree.setColumnWidth(col, width)
        copy = QPushButton("Copy all")
        copy.setToolTip("Copy every notice as text (for a report or an e-mail)")
        copy.clicked.connect(self.copy_all)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.clear)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(copy)
        row.addWidget(clear)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.tree, 1)
        lay.addLayout(row)
        self._entries: list[tuple[str, str, str, str]] = []

    def add(self, message: str, level: str = "info", source: str = "") -> None:
        """Record one notice (``level``: "info" or "warning")."""
        stamp = time.strftime("%H:%M:%S")
        self._entries.append((stamp, level, source, message))
        item = QTreeWidgetItem([stamp, level, source, message])
        item.setToolTip(3, message)
        if level == "warning":
            for col in range(4):
                item.setForeground(col, QBrush(_WARN))
        self.tree.insertTopLevelItem(0, item)
        self._emit()

    def entries(self) -> list[tuple[str, str, str, str]]:
        """(time, level, source, message), oldest first."""
        return list(self._entries)

    def n_warnings(self) -> int:
        return sum(1 for e in self._entries if e[1] == "warning")

    def clear(self) -> None:
        self._entries.clear()
        self.tree.clear()
        self._emit()

    def text(self) -> str:
        return "\n".join(f"{t}  {lvl:<7}  {src}: {msg}" if src else f"{t}  {lvl:<7}  {msg}"
                         for t, lvl, src, msg in self._entries)

    def copy_all(self) -> None:
        QGuiApplication.clipboard().setText(self.text())

    def _emit(self) -> None:
        self.count_changed.emit(len(self._entries), self.n_warnings())

    def sizeHint(self):  # noqa: N802
        hint = super().sizeHint()
        hint.setWidth(max(hint.width(), 560))
        return hint


def notices_button_text(n: int, n_warn: int) -> str:
    """The status bar button's text: how many notices, and warnings among them."""
    if not n:
        return "Notices"
    return f"Notices ({n}, {n_warn} warning{'s' if n_warn != 1 else ''})" if n_warn \
        else f"Notices ({n})"


__all__ = ["NoticesWidget", "notices_button_text"]
