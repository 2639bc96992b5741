"""Tracings in and out of the CIMT workspace: the CUBS layout and the JSON of polylines.

Import matches entries to the project's studies by name (:mod:`core.io.tracings_store`);
what cannot be used (an unknown study, crossing or backwards tracings) is listed with
the file, line or entry and the reason, and the rest is stored. Export writes every
study's tracings and ROIs.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox


def _store():
    from core.io import tracings_store

    return tracings_store


def import_text(report) -> str:
    """A tracings import report for people: the counts, then every problem."""
    lines = [f"{report.imported} tracings imported ({report.added} added, {report.replaced} "
             f"replaced, {report.unchanged} unchanged), {report.rois_added} ROIs added, "
             f"{len(report.refused)} refused"]
    if report.calibrated:
        lines[0] += f"; {len(report.calibrated)} studies calibrated from the file"
    lines += [f"{'note' if p.imported else 'refused'}: {p.entry}: {p.message}"
              for p in report.problems]
    return "\n".join(lines)


class FilesMixin:
    """Import and export of LI / MA tracings (mixed into CimtWorkspace)."""

    def import_tracings(self, path: str | None = None) -> object | None:
        """Ask for a JSON file (or a CUBS folder) and import its tracings; the report."""
        from core.events import drain

        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Import LI/MA tracings", "",
                                                  "Tracings JSON (*.json);;All files (*)")
            if not path:
                path = QFileDialog.getExistingDirectory(
                    self, "…or a CUBS folder (<id>-LI.txt, <id>-MA.txt, CF/)")
            if not path:
                return None
        try:  # one undo step for the whole import
            report = drain(_store().import_tracings(self.project, Path(path),
                                                    history=self.history))
        except (OSError, ValueError) as exc:
            QMessageBox.warning(self, "Tracings not imported", str(exc))
            return None
        self.reload()
        self.undo_state_changed.emit()
        text = import_text(report)
        self._say(f"tracings: {text.splitlines()[0]}")
        if report.problems:
            QMessageBox.information(self, "Tracings imported with problems", text)
        return report

    def export_tracings(self, fmt: str = "json", path: str | None = None) -> Path | None:
        """Write every study's tracings as ``fmt`` ("json" or "cubs") to ``path``."""
        if path is None:
            if fmt == "json":
                path, _ = QFileDialog.getSaveFileName(self, "Export LI/MA tracings",
                                                      "tracings.json", "JSON (*.json)")
            else:
                path = QFileDialog.getExistingDirectory(self, "Export LI/MA tracings (CUBS)")
            if not path:
                return None
        from core.events import drain

        try:
            report = drain(_store().export_tracings(self.project, Path(path), fmt=fmt))
        except (OSError, ValueError) as exc:
            QMessageBox.warning(self, "Tracings not exported", str(exc))
            return None
        n = report.n_frames
        self._say(f"exported {n} traced frame{'s' if n != 1 else ''} of {report.n_studies} "
                  f"stud{'ies' if report.n_studies != 1 else 'y'} to {path}")
        return Path(path)
