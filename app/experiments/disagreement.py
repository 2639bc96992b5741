"""The disagreement queue: items ordered by how much the models of different depths
disagree, for labelling next (issue 10).

Rows read "colonoscopy-04 · frame 12, candidate 345 · 4 of 9 models say positive ·
spread 0.31" (a frame task: "frame 17"; emboli: "candidate 345 at plane 40"); the order is :func:`app.experiments.review_data.rank_disagreement` (vote entropy, then the
spread of the probabilities). ``Enter`` or a double-click opens the item in its
workspace. *Score studies with every run* scores the studies each run has not scored
yet (in the background, :func:`app.study_scoring.score_studies`).
"""

from __future__ import annotations

from collections.abc import Generator

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.widgets.disagreement_list import _ListWidget

from .review_data import (
    Disagreement,
    StudyCandidates,
    item_kind,
    item_text,
    rank_disagreement,
    study_candidates,
)

_ROLE = Qt.ItemDataRole.UserRole


def score_every_run(project, run_ids: list[int], owns_task) -> Generator:
    """Score the task's studies with each run that has not scored them (a generator for
    the worker); returns the number of studies scored."""
    from app.study_scoring import score_studies

    n = 0
    studies = [s.id for s in project.studies() if owns_task(s.task)]
    for run_id in run_ids:
        if not project.run(run_id).best_snapshot:
            continue
        todo = [s for s in studies
                if not project.predictions(run_id, split="preview", study_id=s)]
        if todo:
            n += (yield from score_studies(project, run_id, todo)) or 0
    return n


class DisagreementQueueWidget(QWidget):
    """Items of the runs' studies, most disagreed-on first.

    Signals
    -------
    item_requested(int, int)
        Open this (study, item) in the workspace.
    score_requested()
        The user asked to score the studies with every run (the board runs it).
    """

    item_requested = Signal(int, int)
    score_requested = Signal()

    def __init__(self, project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.run_ids: list[int] = []
        self.rows: list[Disagreement] = []
        self.unlabelled = QCheckBox("only items without a label")
        self.unlabelled.setChecked(True)
        self.unlabelled.toggled.connect(lambda _c: self.refresh())
        self.score_button = QPushButton("Score studies with every run")
        self.score_button.setToolTip("Each run's model scores the studies it has not seen, "
                                     "so that every item can be compared across depths")
        self.score_button.clicked.connect(self.score_requested)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.list = _ListWidget()
        self.list.itemActivated.connect(self._open)
        top = QHBoxLayout()
        top.addWidget(self.unlabelled)
        top.addStretch(1)
        top.addWidget(self.score_button)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.summary)
        lay.addWidget(self.list, 1)

    def set_runs(self, run_ids: list[int]) -> None:
        self.run_ids = [r for r in run_ids if self.project.run(r).best_snapshot]
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        if len(self.run_ids) < 2:
            self.rows = []
            self.summary.setText("The queue needs the models of two runs or more.")
            return
        task = self.project.run(self.run_ids[-1]).task
        kind = item_kind(task)
        self.unlabelled.setText("only candidates without a decision" if kind == "candidate"
                                else "only items without a label")
        self.rows = rank_disagreement(self.project, self.run_ids,
                                      unlabelled_only=self.unlabelled.isChecked())
        names: dict[int, str] = {}
        cands: dict[int, StudyCandidates] = {}
        for d in self.rows:
            name = names.setdefault(d.study_id, self.project.study(d.study_id).name)
            sc = None
            if kind == "candidate":
                sc = cands.get(d.study_id)
                if sc is None:
                    sc = cands[d.study_id] = study_candidates(self.project, task, d.study_id)
            what = item_text(kind, d.item, task_name=task, cands=sc)
            it = QListWidgetItem(f"{name} · {what} · {d.n_positive} of {d.n_models} "
                                 f"models say positive · spread {d.spread:.2f}")
            it.setData(_ROLE, d)
            it.setToolTip(f"mean probability {d.mean:.2f}; vote entropy "
                          f"{d.vote_entropy:.2f} bit")
            self.list.addItem(it)
        split = sum(1 for d in self.rows if 0 < d.n_positive < d.n_models)
        self.summary.setText(
            f"{len(self.rows)} item(s) scored by two models or more; the models' decisions "
            f"split on {split}. Label the top ones next." if self.rows else
            "No item was scored by two of these runs yet: score the studies with every run.")
        if self.rows:
            self.list.setCurrentRow(0)

    def _open(self, item: QListWidgetItem) -> None:
        d: Disagreement = item.data(_ROLE)
        self.item_requested.emit(d.study_id, d.item)
