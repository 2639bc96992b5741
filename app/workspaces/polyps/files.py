"""Mask folders and COCO JSON in the Polyps workspace (File menu).

Imports go through the workspace's undo history (one import = one undo step) and end
with a report: how many masks came in, and each file that did not, with why.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from core.events import drain

PROBLEMS_SHOWN = 12


def report_text(report) -> tuple[str, str]:
    """(summary, details) of a :class:`core.io.masks_store.MaskImportReport`."""
    summary = (f"{report.imported} masks imported ({report.added} new, {report.replaced} "
               f"replaced, {report.unchanged} unchanged; {report.empty} say 'no polyp')")
    refused = report.refused
    if refused:
        summary += f"; {len(refused)} left out"
    lines = [f"{p.entry}: {p.message}" for p in report.problems[:PROBLEMS_SHOWN]]
    if len(report.problems) > PROBLEMS_SHOWN:
        lines.append(f"… and {len(report.problems) - PROBLEMS_SHOWN} more")
    return summary, "\n".join(lines)


class FilesMixin:
    """Import / export of masks and COCO JSON (mixed into PolypsWorkspace)."""

    def _busy(self, gen):
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            return drain(gen)
        finally:
            QApplication.restoreOverrideCursor()

    def _show_import(self, title: str, report) -> None:
        summary, details = report_text(report)
        box = QMessageBox(QMessageBox.Icon.Warning if report.refused else
                          QMessageBox.Icon.Information, title, summary, parent=self)
        if details:
            box.setDetailedText(details)
        box.exec()
        self.message.emit(summary)
        self.reload()
        self.undo_state_changed.emit()

    def import_masks(self) -> None:
        """Masks of the open study from a folder (names matching its frames)."""
        from core.io.masks import import_mask_folder
        from core.io.video import VideoError

        if self.study is None:
            self._say("open a study first: masks are imported onto it")
            return
        folder = QFileDialog.getExistingDirectory(
            self, f"Masks for {self.study.name} (files named by frame number or image name)")
        if not folder:
            return
        try:
            report = self._busy(import_mask_folder(self.project, self.study, folder,
                                                   history=self.history))
        except (OSError, ValueError, VideoError) as exc:
            QMessageBox.warning(self, "Masks not imported", str(exc))
            return
        self._show_import("Masks imported", report)

    def import_coco(self) -> None:
        """Polyp masks from a COCO JSON file, matched to the project's studies."""
        from core.io.coco import CocoError, import_coco

        path, _ = QFileDialog.getOpenFileName(self, "Import COCO JSON", "",
                                              "COCO JSON (*.json);;All files (*)")
        if not path:
            return
        ids = [s.id for s in self._studies]
        try:
            report = self._busy(import_coco(self.project, path, study_ids=ids,
                                            history=self.history))
        except (CocoError, OSError, ValueError) as exc:
            QMessageBox.warning(self, "COCO file not imported", str(exc))
            return
        self._show_import("COCO masks imported", report)

    def export_masks(self) -> None:
        from core.io.masks import export_mask_folder

        folder = QFileDialog.getExistingDirectory(self, "Export polyp masks to a folder")
        if not folder:
            return
        try:
            rep = self._busy(export_mask_folder(self.project, [s.id for s in self._studies],
                                                folder))
        except (OSError, ValueError) as exc:
            QMessageBox.warning(self, "Masks not exported", str(exc))
            return
        self._say(f"{rep.n_masks} masks written to {folder} (one sub-folder per study)")

    def export_coco(self) -> None:
        from core.io.coco import export_coco

        path, _ = QFileDialog.getSaveFileName(self, "Export COCO JSON", "polyps_coco.json",
                                              "COCO JSON (*.json)")
        if not path:
            return
        try:
            rep = self._busy(export_coco(self.project, [s.id for s in self._studies], path))
        except (OSError, ValueError) as exc:
            QMessageBox.warning(self, "COCO not exported", str(exc))
            return
        self._say(f"COCO written to {path}: {rep.n_images} frames, {rep.n_polyps} polyps, "
                  f"{rep.n_candidates} candidates (de-identified: study names only)")
