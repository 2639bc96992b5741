"""The two vessel-aligned planes of a candidate, side by side (SPEC §1.5).

:class:`VesselPlanesWidget` draws a candidate's cross-section (perpendicular to the
vessel) and longitudinal section (containing the vessel axis, which runs down the
image), the same planes its training patches are cut from
(:mod:`core.tasks.emboli.patches`), in the viewer's window. It only draws what it is
given: the owner resamples the planes (:func:`vessel_planes`).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from .volume_slice_view import pen
from .volume_slices import GreyMapper

PLANE_WIDTHS_MM = (10.0, 15.0, 20.0, 30.0)
PLANE_PIXELS = 129  # odd: the candidate sits on the middle pixel


def vessel_planes(hu: np.ndarray, spacing_mm, centre_zyx, axis_zyx, width_mm: float,
                  size: int = PLANE_PIXELS) -> tuple[np.ndarray, np.ndarray]:
    """(cross, long) (size, size) float HU planes through a candidate.

    The unrotated planes of :func:`core.tasks.emboli.patches.emboli_patch_specs`
    (``plane_basis`` of the axis): cross pixel ``(i, j)`` at ``c + o_i v + o_j u``,
    long pixel ``(i, j)`` at ``c + o_i axis + o_j u``, trilinear
    (``map_coordinates(order=1, mode="nearest")``) as the reference renderer.
    """
    from scipy.ndimage import map_coordinates

    from core.tasks.emboli.patches import plane_basis
    from core.tasks.emboli.patches_render import plane_offsets, plane_voxels

    sp = np.asarray(spacing_mm, np.float64)
    ax = np.asarray(axis_zyx, np.float64).reshape(3)
    n = float(np.linalg.norm(ax))
    ax = ax / n if n > 1e-9 else np.array([1.0, 0.0, 0.0])
    u, v = plane_basis(ax[None])
    c = np.asarray(centre_zyx, np.float64).reshape(3) * sp
    o = plane_offsets(size, width_mm)
    out = []
    for e1 in (v[0], ax):
        coords = plane_voxels(c, e1, o, u[0], o, sp)
        out.append(map_coordinates(hu, coords.reshape(3, -1), order=1, mode="nearest",
                                   output=np.float32).reshape(size, size))
    return out[0], out[1]


class _PlanesCanvas(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[tuple[QImage, np.ndarray]] = []
        self.text = "Select a candidate to see its vessel-aligned planes"
        self.width_mm = 20.0
        self.setMinimumSize(220, 130)

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(16, 16, 18))
        f = QFont()
        f.setPointSizeF(8.5)
        p.setFont(f)
        if not self.images:
            p.setPen(QColor(170, 170, 170))
            p.drawText(self.rect().adjusted(8, 8, -8, -8),
                       Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.text)
            return
        gap, top = 8, 20
        side = max(10.0, min((self.width() - 3 * gap) / 2, self.height() - top - 24))
        x0 = (self.width() - 2 * side - gap) / 2
        titles = ("cross-section", "longitudinal (vessel ↓)")
        for k, ((img, _), title) in enumerate(zip(self.images, titles)):
            r = QRectF(x0 + k * (side + gap), top, side, side)
            p.drawImage(r, img)
            p.setPen(QColor(235, 235, 235))
            p.drawText(QPointF(r.left(), top - 6), title)
            p.setPen(pen((255, 255, 255), 1.0, Qt.PenStyle.DotLine, 160))
            c = r.center()
            rad = side * 0.12
            p.drawEllipse(c, rad, rad)
            if k == 1:  # the axis through the candidate
                p.drawLine(QPointF(c.x(), r.top() + 4), QPointF(c.x(), c.y() - rad))
                p.drawLine(QPointF(c.x(), c.y() + rad), QPointF(c.x(), r.bottom() - 4))
        p.setPen(QColor(200, 200, 200))
        bar = side * 5.0 / self.width_mm  # a 5 mm scale bar
        y = top + side + 12
        p.drawLine(QPointF(x0, y), QPointF(x0 + bar, y))
        p.drawText(QPointF(x0 + bar + 6, y + 4), f"5 mm (planes {self.width_mm:g} mm wide)")


class VesselPlanesWidget(QWidget):
    """Cross-section and longitudinal section of the selected candidate.

    Signals
    -------
    width_changed(float)
        The user chose another plane width (mm): the owner resamples.
    """

    width_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = _PlanesCanvas()
        self.width_box = QComboBox()
        for w in PLANE_WIDTHS_MM:
            self.width_box.addItem(f"{w:g} mm", w)
        self.width_box.setCurrentIndex(PLANE_WIDTHS_MM.index(20.0))
        self.width_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.width_box.setToolTip("Width of the planes (the patches use 10, 15 and 20 mm)")
        self.width_box.currentIndexChanged.connect(
            lambda _i: self.width_changed.emit(self.plane_width_mm()))
        self.title = QLabel("Vessel-aligned planes")
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.title, 1)
        top.addWidget(self.width_box)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addWidget(self.canvas, 1)
        self._planes: tuple[np.ndarray, np.ndarray] | None = None
        self._grey = GreyMapper()

    def plane_width_mm(self) -> float:
        return float(self.width_box.currentData())

    def set_planes(self, cross: np.ndarray, long: np.ndarray, window: tuple[float, float],
                   caption: str = "") -> None:
        """Draw the (N, N) HU planes in ``window`` (level, width)."""
        self._planes = (np.asarray(cross), np.asarray(long))
        self.title.setText(caption or "Vessel-aligned planes")
        self.canvas.width_mm = self.plane_width_mm()
        self.set_window(*window)

    def set_window(self, level: float, width: float) -> None:
        self._grey.set_window(level, width)
        if self._planes is None:
            return
        imgs = []
        for a in self._planes:
            g = self._grey(a)
            imgs.append((QImage(g.data, g.shape[1], g.shape[0], g.strides[0],
                                QImage.Format.Format_Grayscale8), g))
        self.canvas.images = imgs
        self.canvas.update()

    def clear(self, text: str = "Select a candidate to see its vessel-aligned planes") -> None:
        self._planes = None
        self.canvas.images = []
        self.canvas.text = text
        self.title.setText("Vessel-aligned planes")
        self.canvas.update()

    def has_planes(self) -> bool:
        return self._planes is not None
