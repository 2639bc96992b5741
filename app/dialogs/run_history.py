"""The project's runs: settings, AUCs, time and device; one can be shown again.

*Show this run* draws its curves and test result in the training panel, makes it the
run that Evaluate and the strips use, and shows its predictions (scoring the videos in
the background where it has none yet).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..session import run_row

COLUMNS = [("run", "Run"), ("started", "Started"), ("depth", "Depth"), ("init", "Start from"),
           ("epochs", "Epochs"), ("crops", "Crops"), ("status", "Outcome"),
           ("val_auc", "Val. AUC"), ("test_auc", "Test AUC (95% CI)"), ("time", "Time"),
           ("device", "Device")]


class RunHistoryDialog(QDialog):
    """A table of runs, newest first.

    Signals
    -------
    show_requested(int)
        The user asked to show a run (its id) again.
    """

    show_requested = Signal(int)

    def __init__(self, runs: list, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Run history")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([title for _, title in COLUMNS])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.table.doubleClicked.connect(lambda _i: self._show())
        self.set_runs(runs)
        self.show_button = QPushButton("Show this run")
        self.show_button.setToolTip("Draw its curves and test result, make it the run that "
                                    "Evaluate and the strips use, and show its predictions")
        self.show_button.clicked.connect(self._show)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.show_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        empty = "No runs yet: label some frames and press Train (Ctrl+T)."
        lay.addWidget(QLabel(empty if not runs else
                             f"{len(runs)} run(s) of this task, newest first. Double-click "
                             "one (or select it and press Show this run) to see it again."))
        lay.addWidget(self.table, 1)
        lay.addWidget(buttons)
        self.resize(980, 360)
        self.table.selectionModel().selectionChanged.connect(self._update)
        if runs:
            self.table.selectRow(0)
        self._update()

    def set_runs(self, runs: list) -> None:
        rows = [run_row(r) for r in sorted(runs, key=lambda r: r.id, reverse=True)]
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            for j, (key, _) in enumerate(COLUMNS):
                item = QTableWidgetItem(row[key])
                item.setData(Qt.ItemDataRole.UserRole, row["id"])
                if key in ("val_auc", "test_auc", "run", "epochs", "crops", "time"):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, j, item)

    def selected_run(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return int(self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole))

    def row_texts(self, row: int) -> dict[str, str]:
        return {key: self.table.item(row, j).text() for j, (key, _) in enumerate(COLUMNS)}

    def _update(self, *_args) -> None:
        self.show_button.setEnabled(self.selected_run() is not None)

    def _show(self) -> None:
        run_id = self.selected_run()
        if run_id is not None:
            self.show_requested.emit(run_id)
