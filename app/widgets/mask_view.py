"""A zoomable, pannable view of one image whose scene units are image pixels.

:class:`ImageView` is the navigation half of :class:`app.widgets.mask_canvas.MaskCanvas`:
zoom about a point, pan by screen pixels, fit, and the exact mapping between viewport
positions and image coordinates (x = column, y = row; pixel ``(r, c)`` covers
``[c, c + 1) x [r, r + 1)``). The scene rectangle is the image with a wide margin, so the
image can be panned anywhere in the window at any zoom.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QResizeEvent, QTransform
from PySide6.QtWidgets import QGraphicsScene, QGraphicsView, QWidget

MAX_ZOOM = 64.0  # screen pixels per image pixel
MIN_ZOOM_OF_FIT = 0.25  # zooming out stops at a quarter of the fitted zoom


class ImageView(QGraphicsView):
    """A view of an (H, W) image area; subclasses add the items and the mouse tools."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        scene = QGraphicsScene(self)
        scene.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.setScene(scene)
        # whole-viewport repaints: outlines and badges keep a fixed screen size, so their
        # scene bounding boxes change with the zoom
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self.setBackgroundBrush(QColor(34, 34, 38))
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self._image_size: tuple[int, int] | None = None
        self._fitted = True

    @property
    def frame_shape(self) -> tuple[int, int] | None:
        """(H, W) of the image shown, None before the first one."""
        return self._image_size

    def set_image_size(self, h: int, w: int) -> None:
        """Lay the scene out for an (h, w) image and fit it to the window."""
        self._image_size = (int(h), int(w))
        m = 20 * max(h, w)  # room to pan the image anywhere in the window
        self.scene().setSceneRect(QRectF(-m, -m, w + 2 * m, h + 2 * m))
        self.fit()

    @property
    def zoom(self) -> float:
        """Screen pixels per image pixel."""
        return float(self.transform().m11())

    def fit(self) -> None:
        """Show the whole image as large as the window allows (undo zoom and pan)."""
        if self._image_size is None:
            return
        h, w = self._image_size
        self.resetTransform()
        self.fitInView(QRectF(0, 0, w, h), Qt.AspectRatioMode.KeepAspectRatio)
        self._fitted = True

    def is_fitted(self) -> bool:
        """Whether the view is fitted (the user has not zoomed or panned since)."""
        return self._fitted

    def _fit_zoom(self) -> float:
        h, w = self._image_size
        vp = self.viewport().rect()
        return min(vp.width() / w, vp.height() / h)

    def zoom_at(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom by ``factor`` keeping the image point under viewport position ``anchor``
        (default: the viewport's centre) in place, within a quarter of the fitted zoom
        and 64 screen pixels per image pixel."""
        if self._image_size is None:
            return
        anchor = QPointF(self.viewport().rect().center()) if anchor is None else QPointF(anchor)
        fixed = self.image_point(anchor)
        z = float(np.clip(self.zoom * factor, self._fit_zoom() * MIN_ZOOM_OF_FIT, MAX_ZOOM))
        self.setTransform(QTransform.fromScale(z, z))
        self._scroll_by(self.viewportTransform().map(fixed) - anchor)
        self._fitted = False

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the image by (dx, dy) screen pixels."""
        self._scroll_by(QPointF(-dx, -dy))
        self._fitted = False

    def _scroll_by(self, d: QPointF) -> None:
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() + round(d.x()))
        v.setValue(v.value() + round(d.y()))

    def image_point(self, viewport_pos: QPointF) -> QPointF:
        """Image point (x = col, y = row; continuous) under a viewport position."""
        inv, _ = self.viewportTransform().inverted()
        return inv.map(QPointF(viewport_pos))

    def viewport_point(self, row: float, col: float) -> QPointF:
        """Viewport position of image point (row, col)."""
        return self.viewportTransform().map(QPointF(col, row))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self._fitted:
            self.fit()
