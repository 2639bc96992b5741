"""The Emboli workspace's File menu: a DICOM folder in, emboli marks in and out.

A DICOM folder (or a tree of them) is handed to the main window's background import,
which lists every series found and keeps the CT volumes (:mod:`core.io.dicom`). Marks
are LUNA16-style CSV files (``seriesuid,coordX,coordY,coordZ,diameter_mm``, patient
coordinates in mm; :mod:`core.io.marks`): an import is one undo step and ends with a
report naming each row left out and why; an export writes the marks of every CT study
of the task (series UIDs only: nothing that names a patient).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from core.events import drain

PROBLEMS_SHOWN = 12


def marks_report_text(report) -> tuple[str, str]:
    """(summary, details) of a :class:`core.io.marks.MarksImportReport`."""
    summary = (f"{report.added} emboli marks imported from {report.source} "
               f"({report.unchanged} already there)")
    if report.refused:
        summary += f"; {len(report.refused)} rows left out"
    lines = [f"line {p.line}: {p.message}" for p in report.problems[:PROBLEMS_SHOWN]]
    if len(report.problems) > PROBLEMS_SHOWN:
        lines.append(f"… and {len(report.problems) - PROBLEMS_SHOWN} more")
    return summary, "\n".join(lines)


class FilesMixin:
    """DICOM import, marks CSV import / export (mixed into EmboliWorkspace)."""

    def choose_study_path(self) -> str | None:
        path = QFileDialog.getExistingDirectory(
            self, "Import a DICOM folder (every CT series in it and below)")
        return path or None

    def import_dicom_folder(self) -> None:
        """Ask for a folder of DICOM files and import its series in the background."""
        self.request_study_import()

    def _busy(self, gen):
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            return drain(gen)
        finally:
            QApplication.restoreOverrideCursor()

    def import_marks(self, path: str | None = None) -> object | None:
        """Import emboli marks from a LUNA16-style CSV file (one undo step)."""
        from core.io.marks import MarksFileError, import_marks_csv

        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Import emboli marks (LUNA16 CSV)", "", "CSV files (*.csv);;All files (*)")
        if not path:
            return None
        try:
            report = self._busy(import_marks_csv(self.project, path, task=self.task_name,
                                                 history=self.history))
        except (MarksFileError, OSError, ValueError) as exc:
            QMessageBox.warning(self, "Marks not imported", str(exc))
            return None
        summary, details = marks_report_text(report)
        self.message.emit(summary)
        if report.refused and self.isVisible():
            box = QMessageBox(QMessageBox.Icon.Warning, "Marks imported", summary, parent=self)
            box.setDetailedText(details)
            box.exec()
        if self.study is not None and self.volume is not None:
            self._after_edit()
        self.undo_state_changed.emit()
        return report

    def export_marks(self, path: str | None = None) -> object | None:
        """Write the emboli marks of every CT study of the task as a LUNA16 CSV file."""
        from core.io.marks import export_marks_csv

        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export emboli marks (LUNA16 CSV)",
                                                  "emboli_marks.csv", "CSV files (*.csv)")
        if not path:
            return None
        try:
            rep = self._busy(export_marks_csv(self.project, path,
                                              study_ids=[s.id for s in self._studies]))
        except (OSError, ValueError) as exc:
            QMessageBox.warning(self, "Marks not exported", str(exc))
            return None
        skipped = (f"; {len(rep.skipped_study_ids)} studies without a series UID skipped"
                   if rep.skipped_study_ids else "")
        self._say(f"{rep.n_marks} marks of {rep.n_studies} volumes written to {path}{skipped}")
        return rep
