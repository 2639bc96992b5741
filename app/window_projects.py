"""The main window's projects: New project, Open project, Recent projects, switching.

A mixin of :class:`app.main_window.MainWindow`; the dialogs and the checks are in
:mod:`app.dialogs.projects`.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from core.store import Project, ProjectError

from .dialogs import projects


class ProjectsMixin:
    """File > New project, Open project, Recent projects."""

    def new_project(self) -> None:
        folder = projects.ask_new_project(self)
        if folder is not None:
            self.switch_project(folder, vetted=True)

    def open_project(self) -> None:
        folder = projects.ask_open_project(self)
        if folder is not None:
            self.switch_project(folder, vetted=True)

    def fill_recent_menu(self) -> None:
        m = self.recent_menu
        m.clear()
        for folder in projects.recent_projects():
            ok = projects.check_place(folder).is_project
            a = m.addAction(str(folder) if ok else f"{folder} (moved or deleted)")
            a.setEnabled(ok and folder != self.project.folder.absolute())
            a.triggered.connect(lambda _c=False, f=folder: self.switch_project(f))
        if m.isEmpty():
            m.addAction("No recent projects").setEnabled(False)
        m.addSeparator()
        m.addAction("Clear the list", projects.forget_projects)

    def switch_project(self, folder, vetted: bool = False) -> None:
        """Open (or make) the project in ``folder`` in a new window, closing this one;
        ``folder`` is checked first unless the dialog that chose it (``vetted``) did."""
        if not vetted and projects.vet_project_folder(self, folder) is None:
            return
        try:
            project = Project.open_or_create(folder)
        except ProjectError as exc:
            QMessageBox.warning(self, "Cannot open project", str(exc))
            return
        if not self.close():  # training still stopping: keep this window
            project.close()
            return
        self._next = type(self)(project)  # the new window owns the new project
        self._next.show()
