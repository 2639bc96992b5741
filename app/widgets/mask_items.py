"""Graphics items of :class:`app.widgets.mask_canvas.MaskCanvas`: the frame and mask
rasters, the brush cursor and the polygon being drawn (the candidate boxes are in
:mod:`app.widgets.mask_candidates`).

Scene units are image pixels: x = column, y = row, pixel ``(r, c)`` covers
``[c, c + 1) x [r, r + 1)``. Outlines use cosmetic pens (width in screen pixels), so they
keep their width at any zoom.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem


def cosmetic_pen(rgb, width: float, style=Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(QColor(*rgb), width, style)
    pen.setCosmetic(True)
    return pen


class RasterItem(QGraphicsItem):
    """An (H, W, 3) RGB or (H, W, 4) RGBA uint8 array drawn over ``[0, W) x [0, H)``,
    nearest-neighbour when zoomed so that every image pixel is a crisp square."""

    def __init__(self, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self._array: np.ndarray | None = None
        self._image = QImage()

    def set_array(self, array: np.ndarray | None) -> None:
        """Show ``array`` (kept by reference: edit it in place, then :meth:`refresh`)."""
        self.prepareGeometryChange()
        self._array = None if array is None else np.ascontiguousarray(array, dtype=np.uint8)
        self.refresh()

    def refresh(self, box: tuple[int, int, int, int] | None = None) -> None:
        """Redraw after the array changed (only ``box`` = (row0, col0, row1, col1))."""
        a = self._array
        if a is None:
            self._image = QImage()
        else:
            h, w, ch = a.shape
            fmt = QImage.Format.Format_RGB888 if ch == 3 else QImage.Format.Format_RGBA8888
            self._image = QImage(a.data, w, h, a.strides[0], fmt)  # a view: a stays alive
        if box is None:
            self.update()
        else:
            r0, c0, r1, c1 = box
            self.update(QRectF(c0, r0, c1 - c0, r1 - r0))

    def boundingRect(self) -> QRectF:  # noqa: N802
        if self._array is None:
            return QRectF()
        h, w = self._array.shape[:2]
        return QRectF(0, 0, w, h)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if not self._image.isNull():
            # crisp pixels when zoomed in, no aliasing when zoomed out
            zoomed_out = abs(painter.worldTransform().m11()) < 1.0
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, zoomed_out)
            painter.drawImage(self.boundingRect(), self._image)


class BrushCursorItem(QGraphicsItem):
    """The brush outline: a circle of the brush's radius (image pixels) at its centre,
    black under white so it shows on any colour."""

    def __init__(self) -> None:
        super().__init__()
        self.radius = 1.0
        self.erasing = False
        self.setZValue(50)

    def set_radius(self, radius: float) -> None:
        self.prepareGeometryChange()
        self.radius = float(radius)

    def boundingRect(self) -> QRectF:  # noqa: N802
        r = self.radius + 2
        return QRectF(-r, -r, 2 * r, 2 * r)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        circle = QRectF(-self.radius, -self.radius, 2 * self.radius, 2 * self.radius)
        painter.setPen(cosmetic_pen((0, 0, 0), 3))
        painter.drawEllipse(circle)
        painter.setPen(cosmetic_pen((255, 120, 120) if self.erasing else (255, 255, 255), 1,
                            Qt.PenStyle.DashLine if self.erasing else Qt.PenStyle.SolidLine))
        painter.drawEllipse(circle)
        painter.drawPoint(QPointF(0, 0))


class PolygonPreviewItem(QGraphicsItem):
    """The polygon being drawn: its vertices, the edges so far, the rubber band edge to
    the pointer and the closing edge back to the first vertex (dashed)."""

    def __init__(self) -> None:
        super().__init__()
        self.vertices: list[QPointF] = []
        self.pointer: QPointF | None = None
        self.setZValue(40)

    def set_points(self, vertices: list[QPointF], pointer: QPointF | None) -> None:
        self.prepareGeometryChange()
        self.vertices = list(vertices)
        self.pointer = pointer

    def _all(self) -> list[QPointF]:
        return self.vertices + ([self.pointer] if self.pointer is not None else [])

    def boundingRect(self) -> QRectF:  # noqa: N802
        pts = self._all()
        if not pts:
            return QRectF()
        xs = [p.x() for p in pts]
        ys = [p.y() for p in pts]
        return QRectF(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)).adjusted(
            -10, -10, 10, 10)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        pts = self._all()
        if not pts:
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        path = QPainterPath(pts[0])
        for p in pts[1:]:
            path.lineTo(p)
        for rgb, width in (((0, 0, 0), 3.0), ((255, 235, 60), 1.5)):
            painter.setPen(cosmetic_pen(rgb, width))
            painter.drawPath(path)
        if len(pts) >= 3:
            painter.setPen(cosmetic_pen((255, 235, 60), 1.0, Qt.PenStyle.DashLine))
            painter.drawLine(pts[-1], pts[0])
        painter.setPen(cosmetic_pen((0, 0, 0), 1.0))
        painter.setBrush(QBrush(QColor(255, 235, 60)))
        scale = painter.worldTransform().m11() or 1.0
        r = 3.0 / scale  # vertex dots 3 screen pixels in radius
        for p in self.vertices:
            painter.drawEllipse(p, r, r)
