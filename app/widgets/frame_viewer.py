"""A frame viewer: one RGB image, aspect locked, with a caption (frame number, label)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget


class FrameViewerWidget(pg.GraphicsLayoutWidget):
    """Shows (rows, cols, 3) uint8 frames; arrays are row-major (set at start-up)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = self.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.caption = pg.TextItem(anchor=(0, 0), color=(255, 255, 255),
                                   fill=pg.mkBrush(0, 0, 0, 150))
        self.caption.setZValue(10)
        self.view.addItem(self.caption)
        self._shape: tuple[int, int] | None = None
        self.setMinimumSize(320, 240)

    def set_frame(self, frame: np.ndarray, caption: str = "") -> None:
        self.image.setImage(frame, autoLevels=False, levels=(0, 255))
        if frame.shape[:2] != self._shape:
            self._shape = frame.shape[:2]
            self.view.autoRange(padding=0)
        self.caption.setText(caption)
        self.caption.setPos(4, 4)

    def clear(self) -> None:
        self.image.clear()
        self.caption.setText("")
        self._shape = None
