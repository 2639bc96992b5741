"""An ultrasound frame with its ROIs, the expert's LI / MA tracings, and, per ROI, the
merged confidence map, the thinned boundaries and the two snakes.

Tools (:data:`TOOLS`):

* ``select`` — click an ROI to select it; drag a snake's point to correct it; a drag
  elsewhere pans;
* ``roi`` — drag a box: a new region of interest (``roiDrawn``);
* ``trace`` — trace the active interface (``LI`` or ``MA``) as an open polyline: a click
  adds a point where its column falls, a drag moves the point under the pointer, Del
  deletes the selected point, Esc finishes (back to ``select``).

In every tool the wheel zooms about the pointer, a middle or right drag pans, F fits, and
a snake's point can be dragged (``snakeDragged`` on release: the workspace makes it a
constraint and re-converges the snake). Image coordinates follow the house rule: (row,
col) with pixel centres at integers; ROI boxes are pixel ranges ``row0 <= r < row1``.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPointF, Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QGraphicsItem, QGraphicsRectItem, QWidget

from .mask_items import RasterItem
from .mask_view import ImageView
from .polyline_geometry import delete_point, insert_point, move_point, nearest_index
from .us_items import PolylineItem, RoiItem, confidence_rgba, interface_styles

TOOLS = ("select", "roi", "trace")
INTERFACES = ("LI", "MA")
HIT_PX = 9.0  # a handle is hit within this many screen pixels
NUDGE_PX = 2  # a pressed handle moves once the pointer has moved this far (screen px)
CANVAS_TIP = ("Wheel: zoom · right/middle drag: pan · F: fit · ROI tool: drag a box · "
              "trace: click points, drag them, Del deletes, Esc finishes · drag a snake's "
              "point to correct it")


class UltrasoundCanvas(ImageView):
    """One ultrasound frame and its CIMT annotations and model output.

    Signals
    -------
    roiDrawn(object)
        (row0, col0, row1, col1) of a box just dragged (integers, inside the frame).
    roiClicked(int)
        The index of the ROI clicked in the select tool (-1: none).
    polylineEdited(str, object)
        Interface name and its (N, 2) points after an added, moved or deleted point.
    snakeDragged(int, str, int, float, float)
        ROI index, interface, point index and the new (row, col) of a dragged snake point.
    toolChanged(str)
        The tool now in use (Esc in the trace tool returns to ``select``).
    """

    roiDrawn = Signal(object)
    roiClicked = Signal(int)
    polylineEdited = Signal(str, object)
    snakeDragged = Signal(int, str, int, float, float)
    toolChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)  # right button pans
        self.setMinimumSize(320, 240)
        self.setToolTip(CANVAS_TIP)
        self.frame_item = RasterItem()
        self.scene().addItem(self.frame_item)
        # polylines live in pixel-centre coordinates: shift by half a pixel
        self.centres = QGraphicsRectItem()
        self.centres.setPen(Qt.PenStyle.NoPen)
        self.centres.setPos(0.5, 0.5)
        self.centres.setZValue(40)
        self.centres.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)
        self.scene().addItem(self.centres)
        self.tracings = {n: PolylineItem(parent=self.centres, **interface_styles(n)["tracing"])
                         for n in INTERFACES}
        for item in self.tracings.values():
            item.setZValue(20)
        self.rois: list[RoiItem] = []
        self.map_items: list[RasterItem] = []
        self.snakes: dict[tuple[int, str], PolylineItem] = {}
        self.thinned: dict[tuple[int, str], PolylineItem] = {}
        self._probs: list[np.ndarray | None] = []
        self._preview: RoiItem | None = None
        self._frame: np.ndarray | None = None
        self._tool = "select"
        self.interface = "LI"
        self.opacity = 0.5
        self.shown = {"map": True, "thin": True, "snakes": True}
        self.selected_roi: int | None = None
        self._drag: str | None = None  # "pan", "click", "box", "point", "snake"
        self._press: QPointF | None = None
        self._last: QPointF | None = None
        self._moved = False
        self._snake_hit: tuple[int, str, int] | None = None

    # -- content -------------------------------------------------------------------------
    def set_frame(self, rgb: np.ndarray) -> None:
        """Show an (H, W, 3) uint8 frame (or (H, W) grey); a new size fits the view."""
        a = np.asarray(rgb)
        if a.ndim == 2:
            a = np.repeat(a[:, :, None], 3, axis=2)
        if a.ndim != 3 or a.shape[2] != 3:
            raise ValueError(f"frame must be (H, W, 3) RGB, got shape {a.shape}")
        new_shape = a.shape[:2] != self.frame_shape
        self._frame = np.ascontiguousarray(a, dtype=np.uint8)
        self.frame_item.set_array(self._frame)
        if new_shape:
            self.set_image_size(*a.shape[:2])

    def set_tracing(self, name: str, points) -> None:
        """Show the expert's tracing of ``name`` ("LI" or "MA"); None or [] clears it."""
        self.tracings[name].set_points(np.zeros((0, 2)) if points is None else points)

    def tracing(self, name: str) -> np.ndarray:
        return self.tracings[name].points.copy()

    def set_rois(self, boxes: list) -> None:
        """Show the frame's ROIs (row0, col0, row1, col1), numbered from 1; their model
        output is cleared."""
        for item in self.rois:
            self.scene().removeItem(item)
        self.rois = []
        for i, box in enumerate(boxes):
            item = RoiItem(box, i + 1)
            self.scene().addItem(item)
            self.rois.append(item)
        if self.selected_roi is not None and self.selected_roi >= len(boxes):
            self.selected_roi = None
        self.select_roi(self.selected_roi)
        self.set_results([None] * len(boxes))
        self._place_labels()

    def select_roi(self, index: int | None) -> None:
        self.selected_roi = index
        for i, item in enumerate(self.rois):
            item.set_selected(i == index)

    def set_results(self, results: list) -> None:
        """The model's output per ROI (None: none yet): dicts with ``probs`` (3, h, w)
        over the ROI box, and ``thin`` / ``snakes`` ``{"LI": (N, 2), "MA": (N, 2)}`` in
        image (row, col)."""
        for item in [*self.map_items, *self.snakes.values(), *self.thinned.values()]:
            self.scene().removeItem(item)
        self.map_items, self.snakes, self.thinned, self._probs = [], {}, {}, []
        for i, res in enumerate(results):
            probs = None if res is None else res.get("probs")
            self._probs.append(probs)
            raster = RasterItem()
            raster.setZValue(10)
            if probs is not None and i < len(self.rois):
                r0, c0 = self.rois[i].box[:2]
                raster.setPos(int(c0), int(r0))
                raster.set_array(confidence_rgba(probs, self.opacity))
            self.scene().addItem(raster)
            self.map_items.append(raster)
            for name in INTERFACES:
                styles = interface_styles(name)
                for key, store in (("thin", self.thinned), ("snakes", self.snakes)):
                    pts = None if res is None else (res.get(key) or {}).get(name)
                    if pts is None:
                        continue
                    item = PolylineItem(parent=self.centres,
                                        **styles["snake" if key == "snakes" else "thin"])
                    item.setZValue(25 if key == "snakes" else 15)
                    item.set_points(pts)
                    store[(i, name)] = item
        self._apply_visibility()

    def set_snake(self, roi: int, name: str, points) -> None:
        """Replace one snake's points (after it re-converged)."""
        item = self.snakes.get((roi, name))
        if item is not None:
            item.set_points(points)

    def snake_points(self, roi: int, name: str) -> np.ndarray | None:
        item = self.snakes.get((roi, name))
        return None if item is None else item.points.copy()

    def set_opacity(self, opacity: float) -> None:
        """Opacity (0..1) of the confidence maps."""
        self.opacity = float(np.clip(opacity, 0, 1))
        for raster, probs in zip(self.map_items, self._probs, strict=False):
            if probs is not None:
                raster.set_array(confidence_rgba(probs, self.opacity))

    def set_shown(self, **flags: bool) -> None:
        """Show or hide the ``map``, the ``thin`` boundaries and the ``snakes``."""
        self.shown.update({k: bool(v) for k, v in flags.items() if k in self.shown})
        self._apply_visibility()

    def _apply_visibility(self) -> None:
        for item in self.map_items:
            item.setVisible(self.shown["map"])
        for item in self.thinned.values():
            item.setVisible(self.shown["thin"])
        for item in self.snakes.values():
            item.setVisible(self.shown["snakes"])

    # -- tools ---------------------------------------------------------------------------
    @property
    def tool(self) -> str:
        return self._tool

    def set_tool(self, name: str) -> None:
        if name not in TOOLS:
            raise ValueError(f"unknown tool {name!r}: expected one of {TOOLS}")
        self._drag = None
        if name != "trace":
            self.select_point(None)
        changed = name != self._tool
        self._tool = name
        self._update_cursor()
        if changed:
            self.toolChanged.emit(name)

    def set_interface(self, name: str) -> None:
        """Trace ``name`` ("LI" or "MA") from now on."""
        if name not in INTERFACES:
            raise ValueError(f"unknown interface {name!r}: expected LI or MA")
        if name != self.interface:
            self.select_point(None)
        self.interface = name

    @property
    def selected_point(self) -> int | None:
        return self.tracings[self.interface].selected

    def select_point(self, index: int | None) -> None:
        for n, item in self.tracings.items():
            item.set_selected(index if n == self.interface else None)

    def delete_selected_point(self) -> bool:
        """Delete the selected point of the active tracing (emits polylineEdited)."""
        i = self.selected_point
        if i is None:
            return False
        item = self.tracings[self.interface]
        item.set_points(delete_point(item.points, i))
        self.select_point(min(i, len(item.points) - 1) if len(item.points) else None)
        self.polylineEdited.emit(self.interface, item.points.copy())
        return True

    def finish_tracing(self) -> None:
        """Esc: end tracing the polyline (no point selected, back to the select tool)."""
        self.select_point(None)
        self.set_tool("select")

    # -- geometry ------------------------------------------------------------------------
    def image_rc(self, viewport_pos: QPointF) -> tuple[float, float]:
        """(row, col) of a viewport position, pixel centres at integers."""
        p = self.image_point(viewport_pos)
        return p.y() - 0.5, p.x() - 0.5

    def viewport_of(self, row: float, col: float) -> QPointF:
        """Viewport position of image point (row, col) (pixel centres at integers)."""
        return self.viewport_point(row + 0.5, col + 0.5)

    def _hit(self, points: np.ndarray, pos: QPointF) -> int | None:
        if not len(points):
            return None
        row, col = self.image_rc(pos)
        i, d = nearest_index(points, row, col)
        return i if d * self.zoom <= HIT_PX else None

    def _snake_at(self, pos: QPointF) -> tuple[int, str, int] | None:
        if not self.shown["snakes"]:
            return None
        best = None
        for (roi, name), item in self.snakes.items():
            i = self._hit(item.points, pos)
            if i is None:
                continue
            d = (self.viewport_of(*item.points[i]) - pos).manhattanLength()
            if best is None or d < best[0]:
                best = (d, (roi, name, i))
        return None if best is None else best[1]

    def roi_at(self, row: float, col: float) -> int | None:
        """Index of the smallest ROI holding image point (row, col), or None."""
        hits = [(item.rect.width() * item.rect.height(), i) for i, item in enumerate(self.rois)
                if item.box[0] <= row + 0.5 < item.box[2] and item.box[1] <= col + 0.5 < item.box[3]]
        return min(hits)[1] if hits else None

    def _box_from(self, a: QPointF, b: QPointF) -> tuple[int, int, int, int]:
        h, w = self.frame_shape
        pa, pb = self.image_point(a), self.image_point(b)
        r0, r1 = sorted((pa.y(), pb.y()))
        c0, c1 = sorted((pa.x(), pb.x()))
        r0, c0 = int(np.clip(np.floor(r0), 0, h)), int(np.clip(np.floor(c0), 0, w))
        r1, c1 = int(np.clip(np.ceil(r1), 0, h)), int(np.clip(np.ceil(c1), 0, w))
        return r0, c0, r1, c1

    # -- mouse ---------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        self._press = self._last = pos
        self._moved = False
        if self._frame is None:
            return
        button = event.button()
        if button in (Qt.MouseButton.MiddleButton, Qt.MouseButton.RightButton):
            self._drag = "pan"
        elif button != Qt.MouseButton.LeftButton:
            return
        elif self._tool == "trace" and self._trace_press(pos):
            pass
        elif (hit := self._snake_at(pos)) is not None:
            self._drag, self._snake_hit = "snake", hit
            self.snakes[hit[:2]].set_selected(hit[2])
        elif self._tool == "roi":
            self._drag = "box"
            self._preview = RoiItem(self._box_from(pos, pos), 0, preview=True)
            self.scene().addItem(self._preview)
        else:
            self._drag = "click"
        self._update_cursor()
        event.accept()

    def _trace_press(self, pos: QPointF) -> bool:
        item = self.tracings[self.interface]
        i = self._hit(item.points, pos)
        if i is None:
            if self._snake_at(pos) is not None:
                return False  # the snake's point is dragged instead
            row, col = self.image_rc(pos)
            pts, i = insert_point(item.points, row, col)
            item.set_points(pts)
            self._moved = True  # a new point is an edit even without a drag
        self.select_point(i)
        self._drag = "point"
        return True

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        if self._frame is None or self._drag is None:
            return
        moved = 0.0 if self._press is None else (pos - self._press).manhattanLength()
        far = moved >= QApplication.startDragDistance()  # a click that wandered: a pan
        if self._drag in ("point", "snake"):
            far = moved >= NUDGE_PX  # a point follows the smallest deliberate move
        if self._drag == "click" and far:
            self._drag, self._last = "pan", self._press
        if self._drag == "pan" and self._last is not None:
            d = pos - self._last
            self.pan_by(d.x(), d.y())
            self._place_labels()
        elif self._drag == "box" and self._preview is not None:
            self._preview.set_box(self._box_from(self._press, pos))
        elif self._drag == "point" and far:
            item = self.tracings[self.interface]
            i = self.selected_point
            if i is not None:
                item.set_points(move_point(item.points, i, *self.image_rc(pos)))
                self._moved = True
        elif self._drag == "snake" and far and self._snake_hit is not None:
            roi, name, i = self._snake_hit
            item = self.snakes[(roi, name)]
            pts = item.points.copy()
            pts[i] = self.image_rc(pos)
            item.set_points(pts)
            self._moved = True
        self._last = pos
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        drag, self._drag = self._drag, None
        pos = event.position()
        if drag == "box" and self._preview is not None:
            box = self._preview.box
            self.scene().removeItem(self._preview)
            self._preview = None
            if box[2] > box[0] and box[3] > box[1]:
                self.roiDrawn.emit(tuple(int(v) for v in box))
        elif drag == "point" and self._moved:
            self.polylineEdited.emit(self.interface, self.tracings[self.interface].points.copy())
        elif drag == "snake" and self._snake_hit is not None:
            roi, name, i = self._snake_hit
            self._snake_hit = None
            if self._moved:
                row, col = self.snakes[(roi, name)].points[i]
                self.snakeDragged.emit(roi, name, i, float(row), float(col))
        elif drag == "click":
            hit = self.roi_at(*self.image_rc(pos))
            self.select_roi(hit)
            self.roiClicked.emit(-1 if hit is None else hit)
        self._update_cursor()
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.mousePressEvent(event)  # no double-click meaning: a second press

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        notches = event.angleDelta().y() / 120.0
        if notches:
            self.zoom_at(1.2 ** notches, event.position())
            self._place_labels()
        event.accept()

    def fit(self) -> None:
        super().fit()
        self._place_labels()

    def _place_labels(self) -> None:
        for item in self.rois:
            item.label_above(self.zoom)

    # -- keys ----------------------------------------------------------------------------
    def _owns_key(self, event: QKeyEvent) -> bool:
        """Del / Backspace while a traced point is selected, Esc while tracing: the
        canvas' own, before any window shortcut on them."""
        key = event.key()
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            return self.selected_point is not None
        return key == Qt.Key.Key_Escape and self._tool == "trace"

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride:
            event.setAccepted(self._owns_key(event))
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key = event.key()
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.selected_point is not None:
            self.delete_selected_point()
        elif key == Qt.Key.Key_Escape and self._tool == "trace":
            self.finish_tracing()
        elif key == Qt.Key.Key_F and not event.modifiers():
            self.fit()
        else:
            event.ignore()
            return
        event.accept()

    def _update_cursor(self) -> None:
        shape = Qt.CursorShape
        cur = (shape.ClosedHandCursor if self._drag in ("pan", "snake", "point")
               else shape.CrossCursor if self._tool in ("roi", "trace") else shape.ArrowCursor)
        self.viewport().setCursor(cur)
