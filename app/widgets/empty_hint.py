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
        self.label = QLabel("This project has no videos yet. <b>Import a video (Ctrl+I) to "
                            "start</b>, then label frames with I and N and press Train.")
        self.label.setWordWrap(True)
        videos = QPushButton("Import videos…")
        videos.clicked.connect(lambda: self.import_requested.emit("videos"))
        frames = QPushButton("Import frame folder…")
        frames.clicked.connect(lambda: self.import_requested.emit("frames"))
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.addWidget(self.label, 1)
        lay.addWidget(videos)
        lay.addWidget(frames)
