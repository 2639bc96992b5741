"""Import studies from the window: several videos, a frame folder or an image set, each
with its set (training or test) chosen before anything is read.

:func:`ask_import` runs the whole choice: the system's file picker (several videos at
once) or folder chooser, then :class:`ImportDialog`, which lists what was chosen, lets
the user add or remove items and asks for the set. The import itself runs in the
background (:class:`app.study_import.StudyImportJob`).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

#: The kinds of input the window offers: (menu text, shortcut, what it adds).
KINDS: dict[str, tuple[str, str | None, str]] = {
    "videos": ("Import &videos…", "Ctrl+I", "Add one or more video files to the project"),
    "frames": ("Import &frame folder…", None, "Add a folder of frame images (one video "
               "exported as pictures)"),
    "images": ("Import image &set…", None, "Add a folder holding images/ (and masks/), "
               "e.g. Kvasir-SEG"),
}


def video_filter() -> str:
    """The file picker's filter, from the video reader's extensions."""
    from core.io.video import VIDEO_EXTENSIONS

    exts = sorted(VIDEO_EXTENSIONS)
    pattern = " ".join([f"*{e}" for e in exts] + [f"*{e.upper()}" for e in exts])
    return f"Videos ({pattern});;All files (*)"


def supported_text() -> str:
    from core.io import supported_inputs

    return "LayerTune reads: " + "; ".join(supported_inputs()) + "."


def pick_paths(parent: QWidget | None, kind: str) -> list[str]:
    """The system picker for ``kind``: several video files, or one folder."""
    if kind == "videos":
        paths, _ = QFileDialog.getOpenFileNames(parent, "Import videos", "", video_filter())
        return list(paths)
    title = "Import a frame folder" if kind == "frames" else "Import an image set"
    d = QFileDialog.getExistingDirectory(parent, title)
    return [d] if d else []


class ImportDialog(QDialog):
    """What will be imported, and into which set.

    Parameters
    ----------
    paths : list of str
        The chosen files or folders (more can be added here).
    kind : {"videos", "frames", "images"}
    counts : (int, int)
        The project's training and test studies now (shown to help choosing).
    """

    def __init__(self, paths: list[str], kind: str = "videos",
                 counts: tuple[int, int] = (0, 0), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        noun = {"videos": "videos", "frames": "frame folders", "images": "image sets"}[kind]
        self.setWindowTitle(f"Import {noun}")
        self.list = QListWidget()
        self.list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.list.setMinimumSize(520, 140)
        for p in paths:
            self.add_path(p)
        add = QPushButton("Add more…")
        add.clicked.connect(self._add_more)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove_selected)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)

        self.train = QRadioButton("Training set: labelled to train and validate the model")
        self.test = QRadioButton("Test set: held out, used only to evaluate a trained model")
        self.train.setChecked(counts[0] == 0 or counts[1] > 0)
        self.test.setChecked(not self.train.isChecked())
        group = QButtonGroup(self)
        group.addButton(self.train)
        group.addButton(self.test)
        n_train, n_test = counts
        state = QLabel(f"The project has {n_train} training and {n_test} test "
                       f"{'study' if n_train + n_test == 1 else 'studies'}. "
                       "A patient's videos always share one set; you can move a video "
                       "later (right-click it in the list).")
        state.setWordWrap(True)
        hint = QLabel(supported_text())
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(placeholder-text);")

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel(f"<b>{noun.capitalize()} to import</b>"))
        lay.addWidget(self.list, 1)
        lay.addLayout(row)
        lay.addWidget(QLabel("<b>Put them in</b>"))
        lay.addWidget(self.train)
        lay.addWidget(self.test)
        lay.addWidget(state)
        lay.addWidget(hint)
        lay.addWidget(self.buttons)
        self.list.model().rowsInserted.connect(self._update)
        self.list.model().rowsRemoved.connect(self._update)
        self._update()

    def add_path(self, path: str) -> None:
        if path in self.paths():
            return
        p = Path(path)
        item = QListWidgetItem(f"{p.name}    —  {p.parent}")
        item.setData(Qt.ItemDataRole.UserRole, str(path))
        item.setToolTip(str(path))
        self.list.addItem(item)

    def paths(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(self.list.count())]

    def split(self) -> str:
        return "test" if self.test.isChecked() else "train"

    def _add_more(self) -> None:
        for p in pick_paths(self, self.kind):
            self.add_path(p)

    def _remove_selected(self) -> None:
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))

    def _update(self, *_args) -> None:
        n = self.list.count()
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(n > 0)
        ok.setText(f"Import {n}" if n != 1 else "Import")


def ask_import(parent: QWidget | None, kind: str, counts: tuple[int, int] = (0, 0)
               ) -> tuple[list[str], str] | None:
    """Pick what to import and its set: (paths, "train" | "test"), or None."""
    paths = pick_paths(parent, kind)
    if not paths:
        return None
    dlg = ImportDialog(paths, kind, counts, parent)
    if dlg.exec() != QDialog.DialogCode.Accepted or not dlg.paths():
        return None
    return dlg.paths(), dlg.split()
