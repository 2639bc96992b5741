"""Projects: New project (name and place), Open project, Recent projects, and the checks
that keep a project out of unsuitable places.

A project is a folder holding ``layertune.sqlite``. :func:`check_place` says whether a
folder is one, may become one (an empty or new folder), needs the user's confirmation
(a non-empty folder that is not a project) or is refused (a file, the root of a drive,
the home folder itself, a folder inside another project, a folder that cannot be
written). The recent list lives in QSettings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.store import DB_NAME

RECENT_KEY = "recent/projects"
PLACE_KEY = "projects/place"
MAX_RECENT = 8


class Place(NamedTuple):
    """What :func:`check_place` found: ``ok`` (may be used), ``is_project`` (holds one),
    ``confirm`` (non-empty, not a project: ask first) and a sentence for the user."""

    ok: bool
    is_project: bool
    confirm: bool
    message: str


def check_place(folder: str | os.PathLike[str]) -> Place:
    """Whether ``folder`` is, or may become, a LayerTune project (never creates anything)."""
    folder = Path(folder).expanduser().absolute()
    if (folder / DB_NAME).is_file():
        return Place(True, True, False, f"{folder} is a LayerTune project.")
    if folder.exists() and not folder.is_dir():
        return Place(False, False, False, f"{folder} is a file, not a folder. A project is a "
                     "folder: choose or create one.")
    if folder == Path(folder.anchor):
        return Place(False, False, False, f"{folder} is the top of the drive. Choose or "
                     "create a folder for the project inside it.")
    if folder == Path.home().absolute():
        return Place(False, False, False, f"{folder} is your home folder. Create a folder "
                     "for the project inside it (New project… does).")
    for parent in folder.parents:
        if (parent / DB_NAME).is_file():
            return Place(False, False, False, f"{folder} is inside the project {parent}. "
                         "Open that project, or choose a folder outside it.")
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return Place(False, False, False, f"{existing} is a file, so {folder} cannot be made.")
    if not os.access(existing, os.W_OK | os.X_OK):
        return Place(False, False, False, f"LayerTune cannot write in {existing} (no "
                     "permission). Choose a folder you can write to.")
    if folder.exists():
        try:
            n = sum(1 for _ in os.scandir(folder))
        except OSError as exc:
            return Place(False, False, False, f"{folder} cannot be read ({exc.strerror}).")
        if n:
            return Place(True, False, True, f"{folder} is not a LayerTune project and holds "
                         f"{n} other item(s). Make it a project? Its files stay as they are; "
                         f"LayerTune adds {DB_NAME} and a snapshots folder.")
        return Place(True, False, False, f"{folder} is empty: a new project will be made there.")
    return Place(True, False, False, f"A new folder {folder} will be made for the project.")


# ---------------------------------------------------------------------- recent list
def recent_projects() -> list[Path]:
    """The recently opened projects, newest first (some may have been moved since)."""
    value = QSettings().value(RECENT_KEY, [])
    if isinstance(value, str):  # QSettings gives a one-item list back as a string
        value = [value]
    return [Path(v) for v in (value or []) if v]


def remember_project(folder: str | os.PathLike[str]) -> None:
    """Put ``folder`` first in the recent list (and as the project opened at start-up)."""
    folder = Path(folder).absolute()
    rest = [p for p in recent_projects() if p != folder]
    s = QSettings()
    s.setValue(RECENT_KEY, [str(p) for p in [folder, *rest][:MAX_RECENT]])
    s.setValue("recent/project", str(folder))


def forget_projects() -> None:
    QSettings().setValue(RECENT_KEY, [])


# ---------------------------------------------------------------------- dialogs
class NewProjectDialog(QDialog):
    """A name and a place; the project is the folder ``place/name``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. colonoscopy-2016")
        self.place = QLineEdit(str(QSettings().value(PLACE_KEY, Path.home() / "LayerTune")))
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.place, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Place", row)
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.verdict.setMinimumWidth(460)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create project")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("A project is a folder holding your videos' labels, the training "
                             "runs and their models (the videos stay where they are)."))
        lay.addLayout(form)
        lay.addWidget(self.verdict)
        lay.addWidget(self.buttons)
        self.name.textChanged.connect(self._check)
        self.place.textChanged.connect(self._check)
        self._check()

    def _browse(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Where to put the project", self.place.text())
        if d:
            self.place.setText(d)

    def folder(self) -> Path | None:
        """The project folder the fields name, or None while the name is unusable."""
        name = self.name.text().strip()
        if not name or name in (".", "..") or any(c in name for c in '/\\\0:'):
            return None
        return Path(self.place.text().strip() or ".").expanduser() / name

    def check(self) -> Place | None:
        folder = self.folder()
        return None if folder is None else check_place(folder)

    def _check(self) -> None:
        place = self.check()
        ok = place is not None and place.ok and not place.is_project
        if place is None:
            text = "Type a name (letters, digits, - and _; no slashes)."
        elif place.is_project:
            text = f"{self.folder()} already is a project: use Open project… instead."
        else:
            text = place.message
        self.verdict.setText(text)
        self.verdict.setStyleSheet("" if ok else "color: #b3261e;")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)

    def accept(self) -> None:
        place = self.check()
        if place is None or not place.ok or place.is_project:
            return
        if place.confirm and not confirm_make_project(self, place):
            return
        QSettings().setValue(PLACE_KEY, self.place.text().strip())
        super().accept()


def confirm_make_project(parent: QWidget | None, place: Place) -> bool:
    answer = QMessageBox.question(parent, "Make this folder a project?", place.message,
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def ask_new_project(parent: QWidget | None = None) -> Path | None:
    """The New project dialog; the folder to create, or None."""
    dlg = NewProjectDialog(parent)
    return dlg.folder() if dlg.exec() == QDialog.DialogCode.Accepted else None


def vet_project_folder(parent: QWidget | None, folder: str | os.PathLike[str]) -> Path | None:
    """``folder`` when it is a project or the user agrees to make it one, else None.

    Refused places get a message saying why; a non-empty folder that is not a project
    needs a Yes.
    """
    place = check_place(folder)
    if not place.ok:
        QMessageBox.warning(parent, "Not a place for a project", place.message)
        return None
    if place.confirm and not confirm_make_project(parent, place):
        return None
    return Path(folder).expanduser().absolute()


def ask_open_project(parent: QWidget | None = None) -> Path | None:
    """Choose an existing project folder (or agree to make the chosen folder one)."""
    d = QFileDialog.getExistingDirectory(parent, "Open a LayerTune project")
    if not d:
        return None
    return vet_project_folder(parent, d)


def ask_start(parent: QWidget | None = None) -> Path | None:
    """At start-up with no recent project: New, Open, or the demo; a folder or None.

    Choosing the demo answers :func:`core.demo.default_demo_folder` (the caller builds
    the demo there when it is not yet a project).
    """
    box = QMessageBox(QMessageBox.Icon.NoIcon, "LayerTune",
                      "Welcome to LayerTune. Make a new project, open one, or try the demo "
                      "(synthetic colonoscopy videos).", parent=parent)
    new = box.addButton("New project…", QMessageBox.ButtonRole.AcceptRole)
    opn = box.addButton("Open project…", QMessageBox.ButtonRole.ActionRole)
    demo = box.addButton("Try the demo", QMessageBox.ButtonRole.ActionRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    if box.clickedButton() is new:
        return ask_new_project(parent)
    if box.clickedButton() is opn:
        return ask_open_project(parent)
    if box.clickedButton() is demo:
        from core.demo import default_demo_folder

        return default_demo_folder()
    return None
