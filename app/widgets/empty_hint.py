"""The hint above an empty project's workspace: what to do first, with the buttons."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget


class EmptyProjectHint(QFrame):
    """"Import a video (Ctrl+I) to start", shown while the current task has no study.

    Signals
    -------
    import_requested(str)
        The kind of import asked for: "videos" or "frames".
    """

    import_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("empty_hint")
        self.setStyleSheet("#empty_hint { background: #fff6d6; border: 1px solid #e0c36a; "
                           "border-radius: 4px; }")
        self._video_text = ("This project has no videos yet. <b>Import a video (Ctrl+I) to "
                            "start</b>, then label frames with I and N and press Train.")
        self.label = QLabel(self._video_text)
        self.label.setWordWrap(True)
        self.video_buttons = []
        for text, kind in (("Import videos…", "videos"), ("Import frame folder…", "frames")):
            b = QPushButton(text)
            b.clicked.connect(lambda _=False, kind=kind: self.import_requested.emit(kind))
            self.video_buttons.append(b)
        self.other = QPushButton("")
        self.other.clicked.connect(lambda: self._other_slot and self._other_slot())
        self._other_slot = None
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.addWidget(self.label, 1)
        for b in (*self.video_buttons, self.other):
            lay.addWidget(b)
        self.other.hide()

    def set_workspace(self, text: str | None, action=None) -> None:
        """Show a workspace's own hint: ``text`` (rich text) and one button for its first
        import ``action`` (a MenuAction); None keeps the video hint of frame quality."""
        if text is None:
            self.label.setText(self._video_text)
        else:
            self.label.setText(text)
        for b in self.video_buttons:
            b.setVisible(text is None)
        self._other_slot = action.slot if action is not None else None
        if action is not None:
            self.other.setText(action.text.replace("&", ""))
            self.other.setToolTip(action.tip or "")
        self.other.setVisible(text is not None and action is not None)
