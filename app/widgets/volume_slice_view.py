"""One slice view of the volume viewer: the grey image, the crosshair, the markers.

:class:`SliceView` draws one slice (a uint8 image made by
:class:`app.widgets.volume_view.VolumeViewer`) in a scene measured in millimetres, so
anisotropic voxels keep their aspect (:mod:`app.widgets.volume_slices`). It turns the
mouse into signals and leaves every decision to the viewer:

* left click / drag: move the crosshair there (``picked``); a click inside a candidate's
  circle selects it (``candidateClicked``);
* left drag in mark mode, or Shift + left drag: a sphere, centre at the press, radius
  the drag distance in mm (``sphereDrawn``), previewed while dragging;
* right drag, or Ctrl + left drag: window / level (``windowDragged``);
* wheel, PgUp / PgDn, Up / Down: the previous / next slice (``stepRequested``);
  Ctrl + wheel zooms about the pointer, middle drag pans, F or a double click fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen, QTransform
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene, QGraphicsView, QWidget

from .volume_slices import Disc, SlicePlane

MIN_SPHERE_MM = 0.5  # a shorter drag is a click, not a sphere
SPHERE_RGB = (255, 80, 230)
LABELS_UP_TO = 6  # more candidates cut by a slice than this: only the selected one's label
VIEW_RGB = {"axial": (239, 68, 68), "coronal": (59, 130, 246), "sagittal": (34, 197, 94)}
"""Each view's colour: its caption, and its line in the other views' crosshairs."""


def pen(rgb, width: float = 1.5, style=Qt.PenStyle.SolidLine, alpha: int = 255) -> QPen:
    p = QPen(QColor(*rgb, alpha), width, style)
    p.setCosmetic(True)
    return p


@dataclass
class CandidateMark:
    """A candidate's circle on this slice: its disc, colour, state, label."""

    disc: Disc
    rgb: tuple[int, int, int]
    state: str = "pending"  # "pending", "accepted", "rejected"
    selected: bool = False
    label: str = ""


@dataclass
class Overlay:
    """What :class:`OverlayItem` draws over the image (scene mm)."""

    cross: tuple[float, float] | None = None
    cross_rgb: tuple[tuple[int, int, int], tuple[int, int, int]] = ((255, 255, 0),) * 2
    candidates: list[CandidateMark] = field(default_factory=list)
    spheres: list[Disc] = field(default_factory=list)
    preview: tuple[float, float, float] | None = None  # sphere being drawn: x, y, r


class ImageItem(QGraphicsItem):
    """A grey image drawn into a rectangle of the scene (pixels need not be square)."""

    def __init__(self) -> None:
        super().__init__()
        self._image: QImage | None = None
        self._buf: np.ndarray | None = None  # the QImage's memory: kept alive with it
        self._rect = QRectF()

    def set_image(self, grey: np.ndarray, rect: QRectF) -> None:
        g = np.ascontiguousarray(grey, np.uint8)
        h, w = g.shape
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = QRectF(rect)
        self._buf = g
        self._image = QImage(g.data, w, h, g.strides[0], QImage.Format.Format_Grayscale8)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._rect

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if self._image is not None:
            painter.drawImage(self._rect, self._image)


class OverlayItem(QGraphicsItem):
    """The crosshair, the candidates' circles, the marked spheres, a sphere being drawn."""

    def __init__(self) -> None:
        super().__init__()
        self.overlay = Overlay()
        self._rect = QRectF()
        self.setZValue(1)

    def set_rect(self, rect: QRectF) -> None:
        self.prepareGeometryChange()
        self._rect = QRectF(rect)

    def set_overlay(self, overlay: Overlay) -> None:
        self.overlay = overlay
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        m = max(self._rect.width(), self._rect.height())
        return self._rect.adjusted(-m, -m, m, m)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        o, r = self.overlay, self._rect
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if o.cross is not None:
            x, y = o.cross
            painter.setPen(pen(o.cross_rgb[0], 1.0, Qt.PenStyle.DashLine, 170))
            painter.drawLine(QPointF(r.left(), y), QPointF(r.right(), y))
            painter.setPen(pen(o.cross_rgb[1], 1.0, Qt.PenStyle.DashLine, 170))
            painter.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
        for d in o.spheres:
            painter.setPen(pen(SPHERE_RGB, 2.0 if d.inside else 1.0,
                               Qt.PenStyle.SolidLine if d.inside else Qt.PenStyle.DotLine))
            painter.drawEllipse(QPointF(d.x, d.y), d.radius, d.radius)
        labels = []
        # scores printed beside the circles while they are few; the selected one always
        few = sum(m.disc.inside for m in o.candidates) <= LABELS_UP_TO
        for m in sorted(o.candidates, key=lambda m: m.selected):  # the selected one on top
            d = m.disc
            style = Qt.PenStyle.SolidLine if d.inside else Qt.PenStyle.DashLine
            width = 2.0 if d.inside else 1.2
            if m.selected:
                painter.setPen(pen((255, 255, 255), 4.0, alpha=200))
                painter.drawEllipse(QPointF(d.x, d.y), d.radius, d.radius)
            painter.setPen(pen(m.rgb, width, style, 120 if m.state == "rejected" else 255))
            painter.drawEllipse(QPointF(d.x, d.y), d.radius, d.radius)
            if m.label and (m.selected or (few and d.inside)):
                labels.append((QPointF(d.x + d.radius * 0.72, d.y - d.radius * 0.72), m))
        if o.preview is not None:
            x, y, rad = o.preview
            painter.setPen(pen(SPHERE_RGB, 2.0, Qt.PenStyle.DashLine))
            painter.drawEllipse(QPointF(x, y), rad, rad)
            painter.drawLine(QPointF(x - 1, y), QPointF(x + 1, y))
            painter.drawLine(QPointF(x, y - 1), QPointF(x, y + 1))
        if labels:  # text at a fixed screen size, beside each circle
            t = painter.worldTransform()
            painter.save()
            painter.resetTransform()
            f = QFont()
            f.setPointSizeF(7.5)
            painter.setFont(f)
            for p, m in labels:
                painter.setPen(pen(m.rgb if not m.selected else (255, 255, 255), 1.0))
                painter.drawText(t.map(p) + QPointF(2, -2), m.label)
            painter.restore()


class SliceView(QGraphicsView):
    """One of the three views (module docstring)."""

    picked = Signal(object)  # (3,) float voxel point (plane, row, col)
    candidateClicked = Signal(int)
    sphereDrawn = Signal(object, float)  # centre (3,) float voxel, radius mm
    stepRequested = Signal(int)
    windowDragged = Signal(float, float, bool)  # dx, dy screen px since the press; first
    activated = Signal()

    def __init__(self, view: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        scene = QGraphicsScene(self)
        scene.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.setScene(scene)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self.setBackgroundBrush(QColor(16, 16, 18))
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setMinimumSize(160, 160)
        self.image_item = ImageItem()
        self.overlay_item = OverlayItem()
        scene.addItem(self.image_item)
        scene.addItem(self.overlay_item)
        self.plane: SlicePlane | None = None
        self.index = 0
        self.mark_mode = False
        self.caption = ""
        self.corner = ""
        self._fitted = True
        self._drag: tuple | None = None

    # ------------------------------------------------------------------ content
    def set_plane(self, plane: SlicePlane) -> None:
        """Lay the scene out for ``plane`` and fit it."""
        self.plane = plane
        h, w = plane.size_mm
        rect = QRectF(0, 0, w, h)
        m = 10 * max(h, w)
        self.scene().setSceneRect(rect.adjusted(-m, -m, m, m))
        self.overlay_item.set_rect(rect)
        self.fit()

    def image_rect(self) -> QRectF:
        h, w = self.plane.size_mm if self.plane is not None else (0.0, 0.0)
        return QRectF(0, 0, w, h)

    def set_image(self, grey: np.ndarray) -> None:
        self.image_item.set_image(grey, self.image_rect())

    def set_overlay(self, overlay: Overlay) -> None:
        self.overlay_item.set_overlay(overlay)

    def set_caption(self, caption: str, corner: str = "") -> None:
        self.caption, self.corner = caption, corner
        self.viewport().update()

    # ------------------------------------------------------------------ navigation
    def fit(self) -> None:
        if self.plane is None:
            return
        self.resetTransform()
        self.fitInView(self.image_rect(), Qt.AspectRatioMode.KeepAspectRatio)
        self._fitted = True

    def zoom_at(self, factor: float, anchor: QPointF) -> None:
        fixed = self.scene_point(anchor)
        z = float(np.clip(self.transform().m11() * factor, 0.05, 200.0))
        self.setTransform(QTransform.fromScale(z, z))
        d = self.viewportTransform().map(fixed) - anchor
        self._scroll(d.x(), d.y())
        self._fitted = False

    def _scroll(self, dx: float, dy: float) -> None:
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() + round(dx))
        v.setValue(v.value() + round(dy))

    def scene_point(self, viewport_pos: QPointF) -> QPointF:
        inv, _ = self.viewportTransform().inverted()
        return inv.map(QPointF(viewport_pos))

    def viewport_point(self, zyx) -> QPointF:
        """Viewport position of voxel point ``zyx`` (its in-plane part)."""
        xy, _ = self.plane.to_scene(zyx)
        return self.viewportTransform().map(QPointF(float(xy[0, 0]), float(xy[0, 1])))

    def voxel_at(self, viewport_pos: QPointF) -> np.ndarray:
        """Voxel point (3,) float under a viewport position, on the current slice."""
        p = self.scene_point(viewport_pos)
        return self.plane.from_scene(p.x(), p.y(), self.index)

    def candidate_at(self, scene: QPointF) -> int | None:
        """The candidate whose circle holds a scene point (the nearest centre), or None."""
        best, key = None, None
        for m in self.overlay_item.overlay.candidates:
            d = float(np.hypot(m.disc.x - scene.x(), m.disc.y - scene.y()))
            if d <= m.disc.radius and (best is None or d < best):
                best, key = d, m.disc.key
        return key

    # ------------------------------------------------------------------ events
    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self._fitted:
            self.fit()

    def mousePressEvent(self, event) -> None:  # noqa: N802
        self.activated.emit()
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        if self.plane is None:
            return
        pos, b, mods = event.position(), event.button(), event.modifiers()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        if b == Qt.MouseButton.RightButton or (b == Qt.MouseButton.LeftButton and ctrl):
            self._drag = ("window", pos)
            self.windowDragged.emit(0.0, 0.0, True)
        elif b == Qt.MouseButton.MiddleButton:
            self._drag = ("pan", pos)
        elif b == Qt.MouseButton.LeftButton and (self.mark_mode or shift):
            s = self.scene_point(pos)
            self._drag = ("sphere", s, self.voxel_at(pos))
            self._preview(s, 0.0)
        elif b == Qt.MouseButton.LeftButton:
            key = self.candidate_at(self.scene_point(pos))
            if key is not None:
                self._drag = None
                self.candidateClicked.emit(key)
            else:
                self._drag = ("pick",)
                self.picked.emit(self.voxel_at(pos))
        event.accept()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        pos = event.position()
        kind = self._drag[0] if self._drag else None
        if kind == "window":
            d = pos - self._drag[1]
            self.windowDragged.emit(d.x(), d.y(), False)
        elif kind == "pan":
            d = pos - self._drag[1]
            self._drag = ("pan", pos)
            self._scroll(-d.x(), -d.y())
            self._fitted = False
        elif kind == "sphere":
            s = self._drag[1]
            p = self.scene_point(pos)
            self._preview(s, float(np.hypot(p.x() - s.x(), p.y() - s.y())))
        elif kind == "pick":
            self.picked.emit(self.voxel_at(pos))
        event.accept()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        drag, self._drag = self._drag, None
        if drag and drag[0] == "sphere":
            s = drag[1]
            p = self.scene_point(event.position())
            self._preview(None, 0.0)
            r = float(np.hypot(p.x() - s.x(), p.y() - s.y()))
            if r >= MIN_SPHERE_MM:
                self.sphereDrawn.emit(drag[2], r)
        event.accept()

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.MiddleButton:
            self.fit()
        else:
            self.mousePressEvent(event)

    def _preview(self, s: QPointF | None, r: float) -> None:
        o = self.overlay_item.overlay
        o.preview = None if s is None else (s.x(), s.y(), r)
        self.overlay_item.update()

    def wheelEvent(self, event) -> None:  # noqa: N802
        self.activated.emit()
        d = event.angleDelta()
        delta = d.y() or d.x()
        if not delta:
            return
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_at(1.15 ** (delta / 120), event.position())
        else:
            n = -1 if delta > 0 else 1  # as a page scrolls: wheel away = back a slice
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                n *= 5
            self.stepRequested.emit(n)
        event.accept()

    def keyPressEvent(self, event) -> None:  # noqa: N802
        k = event.key()
        steps = {Qt.Key.Key_PageUp: -1, Qt.Key.Key_Up: -1,
                 Qt.Key.Key_PageDown: 1, Qt.Key.Key_Down: 1}
        if k in steps:
            self.stepRequested.emit(steps[k])
        elif k == Qt.Key.Key_F:
            self.fit()
        else:
            super().keyPressEvent(event)

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        painter.save()
        painter.resetTransform()
        f = QFont()
        f.setPointSizeF(8.5)
        painter.setFont(f)
        vp = self.viewport().rect()
        rgb = VIEW_RGB.get(self.view, (220, 220, 220))
        painter.setPen(pen(rgb, 2.0))
        painter.drawRect(vp.adjusted(1, 1, -1, -1))
        painter.setPen(QColor(235, 235, 235))
        painter.drawText(QPointF(8, 16), self.caption)
        if self.corner:
            w = painter.fontMetrics().horizontalAdvance(self.corner)
            painter.drawText(QPointF(vp.width() - w - 8, 16), self.corner)
        painter.restore()
