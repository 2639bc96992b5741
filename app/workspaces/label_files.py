"""File dialogs for the frame-label CSV (import and export), shared by frame-label workspaces."""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget


def import_labels_dialog(parent: QWidget, project) -> int | None:
    """Ask for a label CSV and import it; the number of labels, or None (cancelled/refused).

    A refused file is explained in a message box (the message names file and line) and
    leaves the project unchanged.
    """
    from core.io.labels_csv import import_labels_csv

    path, _ = QFileDialog.getOpenFileName(parent, "Import labels", "", "CSV (*.csv)")
    if not path:
        return None
    try:
        return import_labels_csv(project, path)
    except Exception as exc:  # noqa: BLE001  (any refusal is shown, nothing is half-done)
        QMessageBox.warning(parent, "Labels not imported", str(exc))
        return None


def export_labels_dialog(parent: QWidget, project) -> str | None:
    """Ask for a file and write every expert label to it; a status line, or None."""
    from core.io.labels_csv import export_labels_csv

    path, _ = QFileDialog.getSaveFileName(parent, "Export labels", "labels.csv", "CSV (*.csv)")
    if not path:
        return None
    n = export_labels_csv(project, path)
    return f"{n} labels written to {path}"
