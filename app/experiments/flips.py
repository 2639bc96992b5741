"""Flip review: after a retrain, the items whose decision changed against the previous
model, for one-key accept / reject (issue 10).

``A`` accepts the new model's decision (it becomes the expert's answer on the item),
``R`` rejects it (the previous decision becomes the answer), ``Enter`` or a double-click
opens the item in its workspace; both keys move on to the next row. The flips are
:func:`app.experiments.review_data.find_flips` of two runs' stored predictions.

The answer is the frame's label for a frame task (frame quality). For a candidate task
(polyps, emboli) it is the candidate's decision, stored as the task's workspace stores
its A / R (:func:`app.experiments.review_data.store_candidate_decision`), through the
workspace's undo history when the widget knows the workspace (one Edit > Undo step
there), which then redraws the candidate. Other items (CIMT pixels) are listed and
opened but not answered from here.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
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

from core.store import ProjectError

from .review_data import (
    Flip,
    StudyCandidates,
    decision_values,
    find_flips,
    item_kind,
    item_text,
    positive_scores,
    store_candidate_decision,
    study_candidates,
)

_ROLE = Qt.ItemDataRole.UserRole
DONE = QColor(220, 240, 220)


_KEYS = {Qt.Key.Key_A: "accept", Qt.Key.Key_R: "reject", Qt.Key.Key_Return: "open",
         Qt.Key.Key_Enter: "open"}


class _KeyList(QListWidget):
    key_pressed = Signal(str)

    def event(self, event: QEvent) -> bool:
        # A / R / Enter are this list's own while it has focus: a workspace's shortcut
        # of the same key (A accepts its selected candidate) must not take them.
        if event.type() == QEvent.Type.ShortcutOverride and event.key() in _KEYS and \
                not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        what = _KEYS.get(event.key())
        if what is not None and self.currentItem() is not None:
            self.key_pressed.emit(what)
            event.accept()
            return
        super().keyPressEvent(event)


class FlipReviewWidget(QWidget):
    """The flips between two runs of a task.

    Parameters
    ----------
    project : core.store.Project
    owns_task : callable
        Whether a run's ``task`` is the workspace's task (``Workspace.owns_task``).
    workspace : app.workspaces.base.Workspace, optional
        The task's workspace: candidate decisions go through its ``history`` (undoable
        there) and it is told to redraw (``decision_stored``). By default the object
        ``owns_task`` is bound to, when it is a workspace.

    Signals
    -------
    item_requested(int, int)
        Open this (study, item) in the workspace.
    decided(int, int, str)
        (study, item, value) written as the expert's label (frames) or decision
        (candidates).
    """

    item_requested = Signal(int, int)
    decided = Signal(int, int, str)

    def __init__(self, project, owns_task, parent: QWidget | None = None, *,
                 workspace=None) -> None:
        super().__init__(parent)
        self.project, self.owns_task = project, owns_task
        if workspace is None:
            bound = getattr(owns_task, "__self__", None)
            workspace = bound if hasattr(bound, "task_name") else None
        self.workspace = workspace
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
        self.keys_help = QLabel("")
        self.keys_help.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.summary)
        lay.addWidget(self.list, 1)
        lay.addWidget(self.keys_help)
        self.flips: list[Flip] = []
        self._names: tuple[str, str] = ("positive", "negative")
        self._task = ""
        self._kind = "frame"
        self._cands: dict[int, StudyCandidates] = {}
        self._set_help()

    # ------------------------------------------------------------------ fill
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
        self._cands = {}
        a, b = self.before.currentData(), self.after.currentData()
        if a is None or b is None or a == b:
            self.flips = []
            self.summary.setText("Pick two different runs: flips are the items whose "
                                 "decision changed between them.")
            return
        self._task = self.project.run(b).task
        self._kind = item_kind(self._task)
        self._names = self._class_names(b)
        self._set_help()
        self.flips = find_flips(self.project, a, b)
        labels = {}
        if self._kind == "frame":
            labels = {(lb.study_id, lb.frame): lb.value for lb in self.project.labels()}
        names: dict[int, str] = {}
        for f in self.flips:
            now, was = (self._names[0], self._names[1]) if f.positive_after else \
                (self._names[1], self._names[0])
            name = names.setdefault(f.study_id, self.project.study(f.study_id).name)
            mine = self._candidates(f.study_id).decision(f.item) \
                if self._kind == "candidate" else labels.get(f.key)
            text = (f"{name} · {self._item_text(f)}: was {was} ({f.p_before:.2f}) → now "
                    f"{now} ({f.p_after:.2f})" + (f"{self._mine()}{mine}" if mine else ""))
            it = QListWidgetItem(text)
            it.setData(_ROLE, f)
            self.list.addItem(it)
        n_compared = 0 if self.flips else self._n_compared(a, b)
        if self.flips:
            self.summary.setText(f"{len(self.flips)} item(s) changed decision from run {a} "
                                 f"to run {b}.")
        elif not n_compared:
            self.summary.setText(f"Runs {a} and {b} have not both scored a study yet (runs "
                                 "trained from the command line score none): Score the "
                                 "studies with every run in the Disagreement tab, then "
                                 "come back.")
        else:
            self.summary.setText(f"No item changed decision from run {a} to run {b} "
                                 f"({n_compared} items scored by both).")
        if self.flips:
            self.list.setCurrentRow(0)

    def _n_compared(self, a: int, b: int) -> int:
        """Items both runs scored (the ones a flip could be found among)."""
        sa = positive_scores(self.project, self.project.run(a))
        sb = positive_scores(self.project, self.project.run(b))
        return len(sa.keys() & sb.keys())

    def _candidates(self, study_id: int) -> StudyCandidates:
        sc = self._cands.get(study_id)
        if sc is None:
            sc = self._cands[study_id] = study_candidates(self.project, self._task, study_id)
        return sc

    def _item_text(self, f: Flip) -> str:
        cands = self._candidates(f.study_id) if self._kind == "candidate" else None
        return item_text(self._kind, f.item, task_name=self._task, cands=cands)

    def _mine(self) -> str:
        return " · your decision: " if self._kind == "candidate" else " · your label: "

    def _set_help(self) -> None:
        if self._kind in ("frame", "candidate"):
            what = "your decision" if self._kind == "candidate" else "your label"
            self.keys_help.setText(f"A: accept the new decision · R: keep the previous one "
                                   f"(either becomes {what}) · Enter: open the item")
        else:
            self.keys_help.setText(f"Enter: open the item (a {self._kind} is not labelled "
                                   "from here)")

    def _class_names(self, run_id: int) -> tuple[str, str]:
        """(positive, negative) answer of the run's task: class names for a frame task,
        the decision values (accept, reject) for a candidate task."""
        from core.tasks import get_task

        try:
            task = self.project.run(run_id).task
            if item_kind(task) == "candidate":
                return decision_values(task)
            t = get_task(task)
            names = list(t.class_names)
            pos = names[list(t.positive)[0]]
            neg = next(n for i, n in enumerate(names) if i not in t.positive)
            return pos, neg
        except (ValueError, TypeError, IndexError, StopIteration, AttributeError):
            return "positive", "negative"

    # ------------------------------------------------------------------ keys
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
        if not self.decide(f, value):
            return
        it.setBackground(QBrush(DONE))
        it.setText(it.text().split(" · your ")[0] + f"{self._mine()}{value} ✓")
        row = self.list.currentRow()
        if row + 1 < self.list.count():
            self.list.setCurrentRow(row + 1)

    def decide(self, flip: Flip, value: str) -> bool:
        """Write ``value`` as the expert's answer on the flipped item: the frame's label
        (frame tasks), the candidate's decision (candidate tasks). Returns whether it
        was written; the summary line says why not."""
        kind = self._kind
        if kind == "frame":
            if self.project.study(flip.study_id).task:
                self.project.set_label(flip.study_id, flip.item, value)
        elif kind == "candidate":
            ws = self.workspace
            history = getattr(ws, "history", None) if ws is not None else None
            try:
                store_candidate_decision(self.project, self._task,
                                         flip.study_id, flip.item, value, history=history)
            except (ValueError, ProjectError) as exc:
                self.summary.setText(str(exc))
                return False
            self._cands.pop(flip.study_id, None)
            stored = getattr(ws, "decision_stored", None)
            if callable(stored):
                stored(flip.study_id)
        else:
            self.summary.setText(f"A {kind} is not labelled from the flip review: open it "
                                 "(Enter) and correct it in its workspace.")
            return False
        self.decided.emit(flip.study_id, flip.item, value)
        return True
