"""Flip review: after a retrain, the items whose decision changed against the previous
model, for one-key accept / reject (issue 10).

``A`` accepts the new model's decision (it becomes the expert's label of the item),
``R`` rejects it (the previous decision becomes the label), ``Enter`` or a double-click
opens the item in its workspace; both keys move on to the next row. The flips are
:func:`app.experiments.review_data.find_flips` of two runs' stored predictions.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .review_data import Flip, find_flips

_ROLE = Qt.ItemDataRole.UserRole
DONE = QColor(220, 240, 220)


class _KeyList(QListWidget):
    key_pressed = Signal(str)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        keys = {Qt.Key.Key_A: "accept", Qt.Key.Key_R: "reject", Qt.Key.Key_Return: "open",
                Qt.Key.Key_Enter: "open"}
        what = keys.get(event.key())
        if what is not None and self.currentItem() is not None:
            self.key_pressed.emit(what)
            event.accept()
            return
        super().keyPressEvent(event)


class FlipReviewWidget(QWidget):
    """The flips between two runs of a task.

    Signals
    -------
    item_requested(int, int)
        Open this (study, item) in the workspace.
    decided(int, int, str)
        (study, item, class name) written as the expert's label.
    """

    item_requested = Signal(int, int)
    decided = Signal(int, int, str)

    def __init__(self, project, owns_task, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project, self.owns_task = project, owns_task
        self.before = QComboBox()
        self.after = QComboBox()
        for box in (self.before, self.after):
            box.activated.connect(lambda _i: self.refresh())
        self.list = _KeyList()
        self.list.key_pressed.connect(self._on_key)
        self.list.itemDoubleClicked.connect(lambda _it: self._on_key("open"))
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("Previous model"))
        top.addWidget(self.before, 1)
        top.addWidget(QLabel("new model"))
        top.addWidget(self.after, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.summary)
        lay.addWidget(self.list, 1)
        lay.addWidget(QLabel("A: accept the new decision · R: keep the previous one "
                             "(either becomes your label) · Enter: open the item"))
        self.flips: list[Flip] = []
        self._names: tuple[str, str] = ("positive", "negative")

    def reload_runs(self, before: int | None = None, after: int | None = None) -> None:
        """Fill the run pickers (runs of the task with a model); default: the last two."""
        runs = [r for r in self.project.runs() if self.owns_task(r.task) and r.best_snapshot]
        for box in (self.before, self.after):
            box.clear()
            for r in runs:
                box.addItem(f"run {r.id} · {r.depth}", r.id)
        if len(runs) >= 2:
            self.before.setCurrentIndex(self.before.findData(before) if before is not None
                                        else len(runs) - 2)
            self.after.setCurrentIndex(self.after.findData(after) if after is not None
                                       else len(runs) - 1)
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        a, b = self.before.currentData(), self.after.currentData()
        if a is None or b is None or a == b:
            self.flips = []
            self.summary.setText("Pick two different runs: flips are the items whose "
                                 "decision changed between them.")
            return
        self._names = self._class_names(b)
        self.flips = find_flips(self.project, a, b)
        labels = {(lb.study_id, lb.frame): lb.value for lb in self.project.labels()}
        for f in self.flips:
            now, was = (self._names[0], self._names[1]) if f.positive_after else \
                (self._names[1], self._names[0])
            mine = labels.get(f.key)
            text = (f"{self.project.study(f.study_id).name} · item {f.item}: was {was} "
                    f"({f.p_before:.2f}) → now {now} ({f.p_after:.2f})"
                    + (f" · your label: {mine}" if mine else ""))
            it = QListWidgetItem(text)
            it.setData(_ROLE, f)
            self.list.addItem(it)
        self.summary.setText(f"{len(self.flips)} item(s) changed decision from run {a} to "
                             f"run {b}." if self.flips else
                             f"No item changed decision from run {a} to run {b}.")
        if self.flips:
            self.list.setCurrentRow(0)

    def _class_names(self, run_id: int) -> tuple[str, str]:
        """(positive class name, negative class name) of the run's task."""
        from core.tasks import get_task

        try:
            t = get_task(self.project.run(run_id).task)
            names = list(t.class_names)
            pos = names[list(t.positive)[0]]
            neg = next(n for i, n in enumerate(names) if i not in t.positive)
            return pos, neg
        except (ValueError, TypeError, IndexError, StopIteration, AttributeError):
            return "positive", "negative"

    def _on_key(self, what: str) -> None:
        it = self.list.currentItem()
        if it is None:
            return
        f: Flip = it.data(_ROLE)
        if what == "open":
            self.item_requested.emit(f.study_id, f.item)
            return
        keep_new = what == "accept"
        positive = f.positive_after if keep_new else not f.positive_after
        value = self._names[0] if positive else self._names[1]
        self.decide(f, value)
        it.setBackground(QBrush(DONE))
        it.setText(it.text().split(" · your label")[0] + f" · your label: {value} ✓")
        row = self.list.currentRow()
        if row + 1 < self.list.count():
            self.list.setCurrentRow(row + 1)

    def decide(self, flip: Flip, value: str) -> None:
        """Write ``value`` as the expert's label of the flipped item (frame tasks)."""
        if self.project.study(flip.study_id).task and self._frame_task():
            self.project.set_label(flip.study_id, flip.item, value)
        self.decided.emit(flip.study_id, flip.item, value)

    def _frame_task(self) -> bool:
        from core.tasks import get_task

        b = self.after.currentData()
        try:
            return get_task(self.project.run(b).task).item_kind == "frame"
        except (ValueError, TypeError):
            return False
