"""Graphics items of :class:`app.widgets.us_canvas.UltrasoundCanvas`: open polylines with
their handles (expert tracings, snakes, thinned boundaries) and ROI boxes.

Scene units are image pixels with the frame's pixel ``(r, c)`` covering
``[c, c + 1) x [r, r + 1)`` (see :mod:`app.widgets.mask_view`); a polyline point
(row, col) follows the house rule (pixel centres at integers), so the canvas puts the
polylines in a parent item shifted by half a pixel. Pens are cosmetic and handles have a
fixed screen size, so both read the same at any zoom.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QGraphicsSimpleTextItem

from .mask_items import cosmetic_pen
from .polyline_geometry import as_points, smooth_curve

LI_RGB = (40, 220, 90)
MA_RGB = (240, 60, 60)
ROI_RGB = (250, 204, 21)
INTERFACE_RGB = {"LI": LI_RGB, "MA": MA_RGB}
_MARGIN = 4000.0  # scene pixels around a polyline's points (handles have a screen size)


def _lighter(rgb, f: float = 0.55) -> tuple[int, int, int]:
    return tuple(int(v + (255 - v) * f) for v in rgb)


class PolylineItem(QGraphicsItem):
    """An open polyline: the smooth curve (or straight segments, or a step line) and
    optionally a handle at every point.

    Parameters
    ----------
    rgb : (int, int, int)
    width : float
        Pen width in screen pixels.
    style : str
        ``"smooth"`` (PCHIP through the points), ``"straight"`` or ``"steps"`` (one
        horizontal pixel-wide step per column: the thinned boundary).
    dashed : bool
    handles : float
        Handle radius in screen pixels; 0 draws none.
    """

    def __init__(self, rgb, *, width: float = 2.0, style: str = "smooth", dashed: bool = False,
                 handles: float = 0.0, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.rgb = tuple(rgb)
        self.width = float(width)
        self.style = style
        self.dashed = dashed
        self.handle_px = float(handles)
        self.points = np.zeros((0, 2))
        self.selected: int | None = None
        self._path = QPainterPath()
        self._rect = QRectF()

    def set_points(self, points) -> None:
        """Show (N, 2) (row, col) points (N may be 0)."""
        self.prepareGeometryChange()
        self.points = as_points(points)
        if self.selected is not None and self.selected >= len(self.points):
            self.selected = None
        self._path = self._make_path()
        self._rect = (QRectF() if not len(self.points) else
                      self._path.boundingRect().adjusted(-_MARGIN, -_MARGIN, _MARGIN, _MARGIN))
        self.update()

    def set_selected(self, index: int | None) -> None:
        self.selected = index
        self.update()

    def _make_path(self) -> QPainterPath:
        p = self.points
        path = QPainterPath()
        if len(p) == 0:
            return path
        if self.style == "steps":
            ok = np.isfinite(p[:, 0])
            for (r, c), good in zip(p, ok, strict=True):
                if good:  # a pixel-wide step centred on the column
                    path.moveTo(QPointF(c - 0.5, r))
                    path.lineTo(QPointF(c + 0.5, r))
            return path
        curve = smooth_curve(p) if self.style == "smooth" else p
        path.addPolygon(QPolygonF([QPointF(c, r) for r, c in curve]))
        return path

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._rect

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if not len(self.points):
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        style = Qt.PenStyle.DashLine if self.dashed else Qt.PenStyle.SolidLine
        painter.setPen(cosmetic_pen((0, 0, 0), self.width + 2, style))  # a dark halo
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        painter.setPen(cosmetic_pen(self.rgb, self.width, style))
        painter.drawPath(self._path)
        if self.handle_px <= 0:
            return
        scale = abs(painter.worldTransform().m11()) or 1.0
        r = self.handle_px / scale
        painter.setPen(cosmetic_pen((0, 0, 0), 1.0))
        last = None  # dense points (a snake has one per column): a handle every 3 radii
        for i, (row, col) in enumerate(self.points):
            big = i == self.selected
            if not big and last is not None and i != len(self.points) - 1 and \
                    abs(col - last[1]) + abs(row - last[0]) < 3 * r:
                continue
            last = (row, col)
            fill = (255, 255, 255) if big else self.rgb
            painter.setBrush(QBrush(QColor(*fill)))
            rr = r * (1.6 if big else 1.0)
            painter.drawEllipse(QPointF(col, row), rr, rr)


class RoiItem(QGraphicsItem):
    """A region of interest: a box over pixels ``row0 <= r < row1``, ``col0 <= c < col1``
    and its number, drawn at a fixed screen size above the box."""

    def __init__(self, box, number: int, *, preview: bool = False) -> None:
        super().__init__()
        self.box = tuple(float(v) for v in box)
        self.number = number
        self.preview = preview
        self.selected = False
        self.setZValue(30)
        self.label = QGraphicsSimpleTextItem(f"ROI {number}", self)
        self.label.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        f = QFont()
        f.setBold(True)
        self.label.setFont(f)
        self.label.setBrush(QBrush(QColor(*ROI_RGB)))
        self.label.setPen(QPen(QColor(0, 0, 0), 0.5))
        self.label.setVisible(not preview)
        self.set_box(box)

    def set_box(self, box) -> None:
        self.prepareGeometryChange()
        self.box = tuple(float(v) for v in box)
        r0, c0, _r1, _c1 = self.box
        self.label.setPos(c0, r0)
        self.update()

    @property
    def rect(self) -> QRectF:
        r0, c0, r1, c1 = self.box
        return QRectF(c0, r0, c1 - c0, r1 - r0)

    def set_selected(self, on: bool) -> None:
        self.selected = bool(on)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self.rect.adjusted(-2, -2, 2, 2)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        style = Qt.PenStyle.DashLine if self.preview else Qt.PenStyle.SolidLine
        width = 3.0 if self.selected else 1.5
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(cosmetic_pen((0, 0, 0), width + 2, style))
        painter.drawRect(self.rect)
        painter.setPen(cosmetic_pen(ROI_RGB if not self.selected else (255, 255, 255),
                                    width, style))
        painter.drawRect(self.rect)

    def label_above(self, scale: float) -> None:
        """Keep the number just above the box at view scale ``scale``."""
        h = self.label.boundingRect().height()
        r0, c0, _r1, _c1 = self.box
        self.label.setPos(c0, r0 - (h + 2) / max(scale, 1e-6))


def confidence_rgba(probs: np.ndarray, opacity: float) -> np.ndarray:
    """The merged confidence map of an ROI as (h, w, 4) uint8 RGBA: green = P(LI), red =
    P(MA), alpha = ``opacity`` times the larger of the two (background stays clear).

    Parameters
    ----------
    probs : (3, h, w) float
        Probabilities of background, LI, MA at every ROI pixel.
    opacity : float
        0..1.
    """
    p = np.asarray(probs, dtype=np.float32)
    if p.ndim != 3 or p.shape[0] != 3:
        raise ValueError(f"probabilities must be (3, h, w), got shape {p.shape}")
    li, ma = np.clip(p[1], 0, 1), np.clip(p[2], 0, 1)
    peak = np.maximum(li, ma)
    scale = np.where(peak > 0, 1.0 / np.maximum(peak, 1e-6), 0.0)  # full hue, alpha = level
    rgba = np.zeros(p.shape[1:] + (4,), np.uint8)
    rgba[..., 0] = np.round(255 * ma * scale)
    rgba[..., 1] = np.round(255 * li * scale)
    rgba[..., 3] = np.round(255 * float(np.clip(opacity, 0, 1)) * peak)
    return rgba


def interface_styles(name: str) -> dict:
    """Pens of one interface's three polylines: expert tracing, snake, thinned line."""
    rgb = INTERFACE_RGB[name]
    return {"tracing": {"rgb": rgb, "width": 2.0, "handles": 4.0},
            "snake": {"rgb": _lighter(rgb, 0.35), "width": 2.0, "dashed": True, "handles": 3.5},
            "thin": {"rgb": _lighter(rgb, 0.6), "width": 1.0, "style": "steps"}}
