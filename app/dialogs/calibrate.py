"""Two-click calibration of an ultrasound study's pixel spacing on its depth scale.

The dialog shows the frame (wheel zooms, right or middle drag pans, F fits); the user
clicks two ticks of the depth scale and types their distance in millimetres. The value
is :func:`core.io.ultrasound_spacing.calibration_mm_per_pixel` of the two points, which
also words what is wrong (a distance of zero, the same point twice). A third click
starts again.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from ..widgets.mask_items import RasterItem
from ..widgets.mask_view import ImageView
from ..widgets.us_items import PolylineItem

TICK_RGB = (56, 189, 248)


class CalibrationView(ImageView):
    """The frame; left clicks place the calibration points (row, col), pixel centres at
    integers, shown joined by a line.

    Signals
    -------
    pointsChanged(object)
        The list of (row, col) points placed so far (0, 1 or 2).
    """

    pointsChanged = Signal(object)

    def __init__(self, rgb: np.ndarray, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(480, 360)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        a = np.asarray(rgb)
        if a.ndim == 2:
            a = np.repeat(a[:, :, None], 3, axis=2)
        self.frame_item = RasterItem()
        self.frame_item.set_array(np.ascontiguousarray(a, dtype=np.uint8))
        self.scene().addItem(self.frame_item)
        self.line = PolylineItem(TICK_RGB, width=1.5, style="straight", handles=4.0)
        self.line.setPos(0.5, 0.5)
        self.line.setZValue(10)
        self.scene().addItem(self.line)
        self.points: list[tuple[float, float]] = []
        self._pan: QPointF | None = None
        self.set_image_size(*a.shape[:2])

    def add_point(self, row: float, col: float) -> None:
        """Place a point (a third one starts again from it)."""
        if len(self.points) >= 2:
            self.points = []
        self.points.append((float(row), float(col)))
        self.line.set_points(np.array(self.points).reshape(-1, 2))
        self.pointsChanged.emit(list(self.points))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            p = self.image_point(event.position())
            self.add_point(p.y() - 0.5, p.x() - 0.5)
        else:
            self._pan = event.position()
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._pan is not None:
            d = event.position() - self._pan
            self.pan_by(d.x(), d.y())
            self._pan = event.position()
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._pan = None
        event.accept()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        notches = event.angleDelta().y() / 120.0
        if notches:
            self.zoom_at(1.2 ** notches, event.position())
        event.accept()

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_F:
            self.fit()
            event.accept()
            return
        super().keyPressEvent(event)


class CalibrateDialog(QDialog):
    """Ask for a study's millimetres per pixel from two ticks of its depth scale.

    Parameters
    ----------
    rgb : (H, W, 3) or (H, W) uint8
        The frame showing the depth scale.
    study_name : str
    current : str
        What the study's spacing is now, in words (shown above the frame).
    """

    def __init__(self, rgb: np.ndarray, study_name: str = "", current: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Calibrate {study_name}".strip())
        self.view = CalibrationView(rgb)
        self.view.pointsChanged.connect(lambda _p: self._update())
        self.distance = QDoubleSpinBox(minimum=0.0, maximum=1000.0, value=10.0, decimals=2)
        self.distance.setSuffix(" mm")
        self.distance.setToolTip("The distance between the two ticks, read on the scale")
        self.distance.valueChanged.connect(lambda _v: self._update())
        self.result_line = QLabel("")
        self.result_line.setWordWrap(True)
        intro = QLabel("Click two ticks of the depth scale (wheel: zoom, right drag: pan), "
                       "then type their distance. " + (f"Now: {current}." if current else ""))
        intro.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Distance between the ticks", self.distance)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addWidget(self.view, 1)
        lay.addLayout(form)
        lay.addWidget(self.result_line)
        lay.addWidget(self.buttons)
        self.mm_per_pixel: float | None = None
        self._update()

    def _update(self) -> None:
        from core.io.ultrasound_spacing import calibration_mm_per_pixel

        pts = self.view.points
        self.mm_per_pixel = None
        if len(pts) < 2:
            self.result_line.setText(f"Click {'two ticks' if not pts else 'the second tick'}.")
        else:
            try:
                self.mm_per_pixel = calibration_mm_per_pixel(pts[0], pts[1],
                                                             self.distance.value())
            except ValueError as exc:
                self.result_line.setText(f"⚠ {exc}")
            else:
                px = float(np.hypot(pts[1][0] - pts[0][0], pts[1][1] - pts[0][1]))
                self.result_line.setText(f"{px:.1f} pixels = {self.distance.value():g} mm: "
                                         f"<b>{self.mm_per_pixel:.5g} mm per pixel</b>")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(
            self.mm_per_pixel is not None)
