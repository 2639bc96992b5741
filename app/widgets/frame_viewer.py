"""A frame viewer: one RGB image, aspect locked, with a caption (frame number, label).

The mouse wheel zooms about the pointer and a left drag pans (pyqtgraph's view box);
a double-click, or :meth:`FrameViewerWidget.fit`, fits the frame to the window again.
The caption is a label over the view's top-left corner, so it stays put while the image
is zoomed or panned.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QLabel, QWidget

VIEWER_TIP = ("Mouse wheel: zoom · drag: pan · double-click or F: fit the frame to the "
              "window")


class _CaptionLabel(QLabel):
    """The caption over the view; ``toPlainText`` as pyqtgraph's TextItem had it."""

    def toPlainText(self) -> str:  # noqa: N802
        return self.text()


class FrameViewerWidget(pg.GraphicsLayoutWidget):
    """Shows (rows, cols, 3) uint8 frames; arrays are row-major (set at start-up)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = self.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.caption = _CaptionLabel(self)
        self.caption.setTextFormat(Qt.TextFormat.PlainText)
        self.caption.setStyleSheet("QLabel { color: white; background: rgba(0, 0, 0, 150);"
                                   " padding: 2px 4px; }")
        self.caption.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.caption.move(6, 6)
        self.caption.hide()
        self._shape: tuple[int, int] | None = None
        self.setMinimumSize(320, 240)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setToolTip(VIEWER_TIP)

    def set_frame(self, frame: np.ndarray, caption: str = "") -> None:
        self.image.setImage(frame, autoLevels=False, levels=(0, 255))
        if frame.shape[:2] != self._shape:
            self._shape = frame.shape[:2]
            self.fit()
        self.set_caption(caption)

    def set_caption(self, caption: str) -> None:
        self.caption.setText(caption)
        self.caption.setVisible(bool(caption))
        self.caption.adjustSize()
        self.caption.raise_()

    def fit(self) -> None:
        """Show the whole frame, as large as the window allows (undo zoom and pan)."""
        if self._shape is not None:
            self.view.autoRange(padding=0)

    def is_fitted(self, tol: float = 0.5) -> bool:
        """Whether the view shows exactly the whole frame along its limiting side."""
        if self._shape is None:
            return True
        (x0, x1), (y0, y1) = self.view.viewRange()
        rows, cols = self._shape
        inside = x0 <= tol and y0 <= tol and x1 >= cols - tol and y1 >= rows - tol
        tight = min(abs(x1 - x0 - cols), abs(y1 - y0 - rows)) <= 2 * tol
        return inside and tight

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.fit()
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def clear(self) -> None:
        self.image.clear()
        self.set_caption("")
        self._shape = None
