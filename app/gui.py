"""Start the window: ``layertune``, ``layertune gui [--project P]``, ``layertune demo``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QSettings, Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QProgressDialog


def make_app(argv=None) -> QApplication:
    import pyqtgraph as pg

    app = QApplication.instance() or QApplication(list(argv or sys.argv[:1]))
    QCoreApplication.setOrganizationName(QCoreApplication.organizationName() or "LayerTune")
    QCoreApplication.setApplicationName("LayerTune")
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    icon = Path(__file__).resolve().parents[1] / "resources" / "layertune.svg"
    if icon.is_file():
        from PySide6.QtGui import QIcon

        app.setWindowIcon(QIcon(str(icon)))
    return app


def create_demo_with_progress(folder: Path, parent=None, small: bool = False):
    """Build (or reuse) the demo project, showing progress; returns the Project."""
    from core.demo import SMALL, DemoSize, make_demo_project
    from core.events import Progress, drain

    dlg = QProgressDialog("Preparing the demo project…", None, 0, 0, parent)
    dlg.setWindowTitle("LayerTune")
    dlg.setWindowModality(Qt.WindowModality.ApplicationModal)
    dlg.setMinimumDuration(300)
    def show(ev) -> None:
        if isinstance(ev, Progress):
            dlg.setMaximum(ev.total)
            dlg.setValue(ev.done)
            dlg.setLabelText(demo_progress_text(ev))
        QApplication.processEvents()

    try:
        return drain(make_demo_project(folder, SMALL if small else DemoSize()), show)
    finally:
        dlg.close()


_DEMO_STAGES = {"synth": "Rendering a synthetic colonoscopy video",
                "scan": "Reading a video into the project"}


def demo_progress_text(ev) -> str:
    """The demo dialog's line for a :class:`core.events.Progress` (the synthesiser's
    internal notes, such as the artefact drawn, are not for people)."""
    what = _DEMO_STAGES.get(ev.stage, f"Preparing the demo ({ev.stage})")
    return f"{what}: {ev.done} of {ev.total}" if ev.total else f"{what}…"


def choose_project_at_start(asked: str | None):
    """The project to open at start-up: ``--project``, else the most recent one that is
    still a project, else the welcome dialog's choice. A Project, or None to quit."""
    from core.demo import default_demo_folder
    from core.store import Project

    from .dialogs.projects import ask_start, check_place, recent_projects, vet_project_folder

    if asked:
        folder = vet_project_folder(None, asked)
        if folder is None:
            return None
    else:
        folder = next((p for p in recent_projects() if check_place(p).is_project), None)
        if folder is None:
            legacy = QSettings().value("recent/project")
            folder = Path(legacy) if legacy and check_place(legacy).is_project else None
        if folder is None:
            folder = ask_start()
            if folder is None:
                return None
            if folder == default_demo_folder():
                return create_demo_with_progress(folder)
    return Project.open_or_create(folder)


def run_gui(argv: list[str]) -> int:
    from core.demo import default_demo_folder
    from core.store import ProjectError

    p = argparse.ArgumentParser(prog="layertune")
    p.add_argument("command", nargs="?", default="gui", choices=("gui", "demo"))
    p.add_argument("--project")
    p.add_argument("--small", action="store_true")
    args, _ = p.parse_known_args(argv)
    app = make_app()
    from .main_window import MainWindow

    try:
        if args.command == "demo":
            folder = Path(args.project) if args.project else default_demo_folder()
            project = create_demo_with_progress(folder, small=args.small)
        else:
            project = choose_project_at_start(args.project)
            if project is None:
                return 0
    except (ProjectError, OSError) as exc:
        QMessageBox.critical(None, "LayerTune", str(exc))
        return 4
    win = MainWindow(project)
    win.show()
    rc = app.exec()
    project.close()
    return rc
