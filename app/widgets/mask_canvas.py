"""A frame with its polyp mask and candidate boxes, and the tools to draw the mask.

:class:`MaskCanvas` shows one RGB frame, the mask as a translucent overlay, and the
candidate boxes coloured by score (see :mod:`app.widgets.mask_candidates`). Tools:

* ``select`` — click a box to select it (``candidateClicked``); drag pans;
* ``brush`` / ``eraser`` — paint / erase a disk of the brush size (image pixels) along the
  drag; ``[`` / ``]`` or Ctrl+wheel change the size; a circle shows the brush;
* ``polygon`` — click the vertices; Enter or a double-click closes and fills it
  (Shift+Enter cuts it out instead), Backspace drops the last vertex, Esc cancels;
* ``fill`` — click background to fill its 4-connected region (a hole, or everything
  outside), click a polyp to clear it (its 8-connected component).

In every tool the wheel zooms about the pointer, a middle or right drag (or Space+drag)
pans, F fits the frame to the window, and Ctrl+click selects the box under the pointer.
Each completed edit (a stroke, a polygon, a fill) is one undo step and emits
``maskEdited`` with the whole new mask; :meth:`MaskCanvas.undo` and
:meth:`MaskCanvas.redo` (bound to Ctrl+Z / Ctrl+Shift+Z by the owner) emit it too.

Scene coordinates are image pixels (x = column, y = row); a tool changes the pixels
whose centres fall inside what it draws (:mod:`app.widgets.mask_edit`), and a brush is
centred on the pixel under the pointer, so edits land where they are seen at any zoom.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PySide6.QtCore import QEvent, QPointF, Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QWidget

from .mask_candidates import CandidateItem, CandidateLayer
from .mask_items import BrushCursorItem, PolygonPreviewItem, RasterItem
from .mask_layer import MaskLayer
from .mask_view import ImageView

TOOLS = ("select", "brush", "eraser", "polygon", "fill")
MIN_BRUSH, MAX_BRUSH = 1, 256
CANVAS_TIP = ("Wheel: zoom · middle/right drag or Space+drag: pan · F: fit · [ ]: brush size"
              " · polygon: click vertices, Enter or double-click closes, Esc cancels")


def brush_step(size: int) -> int:
    """How much ``[`` / ``]`` (or one Ctrl+wheel notch) changes a brush of ``size``."""
    return max(1, round(size / 5))


class MaskCanvas(ImageView):
    """One frame, its editable (H, W) bool mask and its candidate boxes.

    Parameters
    ----------
    parent : QWidget, optional
    brush_size : int
        Initial brush diameter in image pixels.
    mask_rgb : (int, int, int)
        Colour of the mask overlay.
    mask_opacity : float
        Opacity of the mask overlay, 0..1.

    Signals
    -------
    maskEdited(object)
        A copy of the whole (H, W) bool mask after each completed edit, undo or redo.
    candidateClicked(int)
        The id of the box clicked (``select`` tool, or Ctrl+click in any tool).
    historyChanged(bool, bool)
        Whether undo / redo are possible now.
    brushSizeChanged(int)
        The new brush diameter (pixels).
    """

    maskEdited = Signal(object)
    candidateClicked = Signal(int)
    historyChanged = Signal(bool, bool)
    brushSizeChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None, *, brush_size: int = 15,
                 mask_rgb: tuple[int, int, int] = (0, 190, 255),
                 mask_opacity: float = 0.45) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)  # right button pans
        self.viewport().setMouseTracking(True)
        self.setMinimumSize(320, 240)
        self.setToolTip(CANVAS_TIP)
        self.frame_item = RasterItem()
        self.layer = MaskLayer(mask_rgb, mask_opacity)
        self.overlay_item = self.layer.item
        self.history = self.layer.history
        self.brush_cursor = BrushCursorItem()
        self.brush_cursor.hide()
        self.polygon_item = PolygonPreviewItem()
        for item in (self.frame_item, self.overlay_item, self.brush_cursor, self.polygon_item):
            self.scene().addItem(item)
        self.candidates = CandidateLayer(self.scene())
        self._frame: np.ndarray | None = None
        self._tool = "select"
        self._brush_size = int(np.clip(brush_size, MIN_BRUSH, MAX_BRUSH))
        self.brush_cursor.set_radius(self._brush_size / 2)
        self._space = False
        self._drag: str | None = None  # "pan", "paint", "click" (select: click or pan)
        self._press: QPointF | None = None
        self._last: QPointF | None = None  # last viewport position (pan) ...
        self._stroke_last: tuple[float, float] | None = None  # ... last brush centre
        self._vertices: list[QPointF] = []
        self._update_cursor()

    # -- content -------------------------------------------------------------------------
    def set_frame(self, rgb: np.ndarray) -> None:
        """Show an (H, W, 3) uint8 RGB frame (or (H, W) grey). A frame of a new size
        resets the mask to empty, clears the undo history and fits the view."""
        a = np.asarray(rgb)
        if a.ndim == 2:
            a = np.repeat(a[:, :, None], 3, axis=2)
        if a.ndim != 3 or a.shape[2] != 3 or a.shape[0] < 1 or a.shape[1] < 1:
            raise ValueError(f"frame must be (H, W, 3) RGB, got shape {a.shape}")
        if a.dtype != np.uint8:
            a = np.clip(a, 0, 255).astype(np.uint8)
        self._finish_edits()
        new_shape = a.shape[:2] != self.frame_shape
        self._frame = np.array(a, copy=True, order="C")
        self.frame_item.set_array(self._frame)
        if new_shape:
            self.layer.reset(*a.shape[:2])
            self._history_changed()
            self.set_image_size(*a.shape[:2])

    def set_mask(self, mask: np.ndarray | None, *, undoable: bool = False) -> None:
        """Replace the mask ((H, W) bool, the frame's size; None = empty).

        The undo history is cleared, unless ``undoable``: then the replacement is one
        step that :meth:`undo` reverts. No ``maskEdited`` is emitted (the caller knows).
        """
        if self._frame is None:
            raise ValueError("set a frame before its mask")
        h, w = self.frame_shape
        m = np.zeros((h, w), dtype=bool) if mask is None else np.asarray(mask).astype(bool)
        if m.shape != (h, w):
            raise ValueError(f"mask shape {m.shape} differs from the frame's {(h, w)}")
        self._finish_edits()
        self.layer.replace(m, undoable=undoable)
        self._history_changed()

    def mask(self) -> np.ndarray | None:
        """A copy of the current (H, W) bool mask (None before the first frame)."""
        return None if self.layer.mask is None else self.layer.mask.copy()

    def set_mask_style(self, rgb: tuple[int, int, int] | None = None,
                       opacity: float | None = None) -> None:
        """Colour and/or opacity (0..1) of the mask overlay."""
        self.layer.set_style(rgb, opacity)

    # -- candidates ----------------------------------------------------------------------
    def set_candidates(self, candidates: Iterable[tuple]) -> None:
        """Show candidate boxes: ``(id, (row0, col0, row1, col1), score | None, state)``,
        state "accepted", "rejected" or "pending" (None). The selection is kept when its
        id is still there."""
        self.candidates.set(candidates)

    def candidate_item(self, cid: int) -> CandidateItem:
        """The item drawing candidate ``cid`` (its colour, style, badge)."""
        return self.candidates.items[cid]

    def candidate_ids(self) -> list[int]:
        return list(self.candidates.items)

    @property
    def selected_candidate(self) -> int | None:
        return self.candidates.selected

    def select_candidate(self, cid: int | None, *, ensure_visible: bool = False) -> None:
        """Highlight candidate ``cid`` (None: none); ``ensure_visible`` pans to it."""
        self.candidates.select(cid)
        if cid is not None and ensure_visible:
            self.ensureVisible(self.candidates.items[cid].rect, 40, 40)
            self._fitted = False

    def candidate_at(self, row: float, col: float) -> int | None:
        """Id of the smallest box containing image point (row, col), or None."""
        return self.candidates.at(row, col)

    # -- tools ---------------------------------------------------------------------------
    @property
    def tool(self) -> str:
        return self._tool

    def set_tool(self, name: str) -> None:
        """One of :data:`TOOLS`; switching tool drops a polygon in progress."""
        if name not in TOOLS:
            raise ValueError(f"unknown tool {name!r}: expected one of {TOOLS}")
        self._finish_edits()
        self._tool = name
        self.brush_cursor.erasing = name == "eraser"
        if name not in ("brush", "eraser"):
            self.brush_cursor.hide()
        self._update_cursor()

    @property
    def brush_size(self) -> int:
        return self._brush_size

    def set_brush_size(self, size: int) -> None:
        """Brush diameter in image pixels, clipped to 1..256."""
        size = int(np.clip(size, MIN_BRUSH, MAX_BRUSH))
        if size != self._brush_size:
            self._brush_size = size
            self.brush_cursor.set_radius(size / 2)
            self.brushSizeChanged.emit(size)

    @staticmethod
    def _brush_centre(p: QPointF) -> tuple[float, float]:
        """(row, col) of the centre of the pixel under image point ``p``."""
        return float(np.floor(p.y())) + 0.5, float(np.floor(p.x())) + 0.5

    def _paint(self, a: tuple[float, float], b: tuple[float, float]) -> None:
        self.layer.paint(a, b, self._brush_size / 2, self._tool == "brush")

    def _edited(self, changed: bool) -> None:
        """After an edit: when it changed the mask (one undo step), tell the owner."""
        if changed:
            self._history_changed()
            self.maskEdited.emit(self.layer.mask.copy())

    @property
    def polygon_vertices(self) -> list[tuple[float, float]]:
        """The vertices (row, col) of the polygon being drawn."""
        return [(p.y(), p.x()) for p in self._vertices]

    def close_polygon(self, *, erase: bool = False) -> bool:
        """Fill (or with ``erase`` cut out) the polygon being drawn; False when it has
        fewer than 3 vertices (it is then dropped)."""
        verts = self.polygon_vertices
        self.cancel_polygon()
        if len(verts) < 3 or self.layer.mask is None:
            return False
        self._edited(self.layer.polygon(np.array(verts), value=not erase))
        return True

    def cancel_polygon(self) -> None:
        self._vertices = []
        self.polygon_item.set_points([], None)

    def _end_stroke(self) -> None:
        if self.layer.stroking:
            self._edited(self.layer.end_stroke())

    def _finish_edits(self) -> None:
        """End a stroke in progress (kept) and drop an unfinished polygon."""
        self._end_stroke()
        self._drag = None
        self.cancel_polygon()

    # -- undo ----------------------------------------------------------------------------
    def can_undo(self) -> bool:
        return self.history.can_undo()

    def can_redo(self) -> bool:
        return self.history.can_redo()

    def undo(self) -> bool:
        """Revert the last edit; False when there is none."""
        self._finish_edits()
        done = self.layer.undo()
        self._edited(done)
        return done

    def redo(self) -> bool:
        """Re-apply the last undone edit; False when there is none."""
        self._finish_edits()
        done = self.layer.redo()
        self._edited(done)
        return done

    def _history_changed(self) -> None:
        self.historyChanged.emit(self.can_undo(), self.can_redo())

    # -- mouse ---------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        button = event.button()
        self._end_stroke()  # a release we never saw (focus lost mid-stroke)
        self._press = self._last = pos
        if self._frame is None:
            return
        p = self.image_point(pos)
        ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if button in (Qt.MouseButton.MiddleButton, Qt.MouseButton.RightButton) or (
                button == Qt.MouseButton.LeftButton and self._space):
            self._drag = "pan"
        elif button != Qt.MouseButton.LeftButton:
            return
        elif self._tool == "select" or ctrl:
            self._drag = "click"
        elif self._tool in ("brush", "eraser"):
            self._drag = "paint"
            self.layer.begin_stroke()
            self._stroke_last = self._brush_centre(p)
            self._paint(self._stroke_last, self._stroke_last)
        elif self._tool == "polygon":
            self._vertices.append(p)
            self.polygon_item.set_points(self._vertices, p)
        elif self._tool == "fill":
            self._edited(self.layer.flood(int(np.floor(p.y())), int(np.floor(p.x()))))
        self._update_cursor()
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        if self._frame is None:
            return
        p = self.image_point(pos)
        if self._tool in ("brush", "eraser"):
            r, c = self._brush_centre(p)
            self.brush_cursor.setPos(c, r)
            self.brush_cursor.show()
        if self._drag == "click" and self._press is not None and (
                (pos - self._press).manhattanLength() >= QApplication.startDragDistance()):
            self._drag = "pan"  # a drag in the select tool pans, from where it began
            self._last = self._press
            self._update_cursor()
        if self._drag == "pan" and self._last is not None:
            d = pos - self._last
            self.pan_by(d.x(), d.y())
        elif self._drag == "paint" and self._stroke_last is not None:
            centre = self._brush_centre(p)
            if centre != self._stroke_last:
                self._paint(self._stroke_last, centre)
                self._stroke_last = centre
        elif self._tool == "polygon" and self._vertices:
            self.polygon_item.set_points(self._vertices, p)
        self._last = pos
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._end_stroke()
        drag, self._drag = self._drag, None
        if drag == "click":
            p = self.image_point(event.position())
            cid = self.candidate_at(p.y(), p.x())
            if cid is not None:
                self.select_candidate(cid)
                self.candidateClicked.emit(cid)
        self._update_cursor()
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        # Qt sends this instead of the second press of a double-click
        if (self._tool == "polygon" and event.button() == Qt.MouseButton.LeftButton
                and not self._space and self._vertices):
            self.close_polygon(erase=bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier))
            event.accept()
            return
        self.mousePressEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        notches = event.angleDelta().y() / 120.0
        if notches == 0:
            return
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = int(np.sign(notches)) * max(1, int(abs(notches)))
            for _ in range(abs(steps)):
                s = self._brush_size
                self.set_brush_size(s + int(np.sign(steps)) * brush_step(s))
        else:
            self.zoom_at(1.2 ** notches, event.position())
        event.accept()

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802
        self.brush_cursor.hide()
        super().leaveEvent(event)

    # -- keys ----------------------------------------------------------------------------
    def _owns_key(self, event: QKeyEvent) -> bool:
        """Whether a key is the canvas' own now, before any window shortcut on it: the
        brush keys in the brush tools, Space in the drawing tools, and Enter, Esc and
        Backspace while a polygon is being drawn."""
        key, drawing = event.key(), self._tool != "select"
        if key in (Qt.Key.Key_BracketLeft, Qt.Key.Key_BracketRight):
            return self._tool in ("brush", "eraser")
        if key == Qt.Key.Key_Space:
            return drawing and not event.modifiers()
        return bool(self._vertices) and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter,
                                                Qt.Key.Key_Escape, Qt.Key.Key_Backspace)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride:  # (the scene would take them all)
            event.setAccepted(self._owns_key(event))
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key = event.key()
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if key == Qt.Key.Key_BracketLeft:
            self.set_brush_size(self._brush_size - brush_step(self._brush_size))
        elif key == Qt.Key.Key_BracketRight:
            self.set_brush_size(self._brush_size + brush_step(self._brush_size))
        elif key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self._update_cursor()
        elif key == Qt.Key.Key_Space:
            pass
        elif key == Qt.Key.Key_F and not event.modifiers():
            self.fit()
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self._vertices:
            self.close_polygon(erase=shift)
        elif key == Qt.Key.Key_Escape and self._vertices:
            self.cancel_polygon()
        elif key == Qt.Key.Key_Backspace and self._vertices:
            self._vertices.pop()
            self.polygon_item.set_points(self._vertices, self.polygon_item.pointer)
        else:  # not ours: to the parent (the view would scroll on arrow keys)
            event.ignore()
            return
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self._update_cursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event) -> None:  # noqa: N802
        self._space = False
        self._update_cursor()
        super().focusOutEvent(event)

    def _update_cursor(self) -> None:
        shape = Qt.CursorShape
        if self._drag == "pan":
            cur = shape.ClosedHandCursor
        elif self._space:
            cur = shape.OpenHandCursor
        elif self._tool == "select":
            cur = shape.ArrowCursor
        else:
            cur = shape.CrossCursor
        self.viewport().setCursor(cur)
