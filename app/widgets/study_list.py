"""The project's studies of one task, with their split; right-click moves one between sets
or sets its patient."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QMenu, QWidget

_ID_ROLE = Qt.ItemDataRole.UserRole


class StudyListWidget(QListWidget):
    """Rows ``name  [split]`` + a detail line; the study id rides on each row.

    Signals
    -------
    split_requested(int, str)
        The user asked to move a study (id) to the other set ("train" or "test").
    subject_requested(int)
        The user asked to set the patient (subject) of a study (id).
    """

    split_requested = Signal(int, str)
    subject_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)

    def set_studies(self, rows: list[tuple[int, str, str]], keep: int | None) -> int | None:
        """Replace the rows without emitting row changes.

        Parameters
        ----------
        rows : list of (study id, text, split)
        keep : int or None
            The study whose row to return.

        Returns
        -------
        int or None
            The row of ``keep`` (else 0); None when there are no rows.
        """
        self.blockSignals(True)
        self.clear()
        row = 0
        for i, (sid, text, split) in enumerate(rows):
            item = QListWidgetItem(text)
            item.setData(_ID_ROLE, sid)
            item.setData(_ID_ROLE + 1, split)
            self.addItem(item)
            if sid == keep:
                row = i
        self.blockSignals(False)
        return row if rows else None

    def study_id(self, row: int) -> int:
        return int(self.item(row).data(_ID_ROLE))

    def row_of(self, study_id: int) -> int | None:
        """The row showing ``study_id``, or None."""
        for row in range(self.count()):
            if self.study_id(row) == study_id:
                return row
        return None

    def set_text(self, study_id: int, text: str) -> None:
        """Replace one study's text (its counts changed), keeping the selection."""
        row = self.row_of(study_id)
        if row is not None:
            self.item(row).setText(text)

    def text_of(self, study_id: int) -> str | None:
        row = self.row_of(study_id)
        return None if row is None else self.item(row).text()

    def _menu(self, pos) -> None:
        item = self.itemAt(pos)
        if item is None:
            return
        sid = int(item.data(_ID_ROLE))
        other = "test" if item.data(_ID_ROLE + 1) == "train" else "train"
        menu = QMenu(self)
        act = menu.addAction(f"Use for {'testing' if other == 'test' else 'training'}")
        act.triggered.connect(lambda: self.split_requested.emit(sid, other))
        who = menu.addAction("Set patient…")
        who.triggered.connect(lambda: self.subject_requested.emit(sid))
        menu.exec(self.mapToGlobal(pos))
