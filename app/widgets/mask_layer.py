"""The editable mask of :class:`app.widgets.mask_canvas.MaskCanvas`: the (H, W) bool
array, its translucent overlay item and its undo history.

Every edit goes through :class:`MaskLayer`, which redraws only the changed box of the
overlay and records one undo step per completed edit (a stroke, a polygon, a fill).
"""

from __future__ import annotations

import numpy as np

from .mask_edit import MaskHistory, fill_polygon, flood_fill, paint_segment
from .mask_items import RasterItem


class MaskLayer:
    """An (H, W) bool mask drawn as an RGBA overlay, with undo.

    Parameters
    ----------
    rgb : (int, int, int)
        Overlay colour.
    opacity : float
        Overlay opacity, 0..1.
    """

    def __init__(self, rgb: tuple[int, int, int] = (0, 190, 255), opacity: float = 0.45) -> None:
        self.item = RasterItem()
        self.item.setZValue(10)
        self.history = MaskHistory()
        self.mask: np.ndarray | None = None
        self._rgba: np.ndarray | None = None
        self._rgb = tuple(int(v) for v in rgb)
        self._alpha = self._to_alpha(opacity)
        self._before: np.ndarray | None = None  # the mask when the current stroke began

    @staticmethod
    def _to_alpha(opacity: float) -> int:
        return int(round(255 * float(np.clip(opacity, 0.0, 1.0))))

    # -- whole mask ------------------------------------------------------------------------
    def reset(self, h: int, w: int) -> None:
        """An empty (h, w) mask, no history."""
        self._before = None
        self._show(np.zeros((h, w), dtype=bool))
        self.history.clear()

    def replace(self, mask: np.ndarray, *, undoable: bool) -> bool:
        """Show ``mask`` (copied) instead; ``undoable``: as one undo step (True when it
        was recorded), else the history is cleared."""
        self.end_stroke()
        before = self.mask
        self._show(np.array(mask, dtype=bool, copy=True))
        if undoable and before is not None:
            return self.history.record(before, self.mask) is not None
        self.history.clear()
        return False

    def set_style(self, rgb: tuple[int, int, int] | None = None,
                  opacity: float | None = None) -> None:
        if rgb is not None:
            self._rgb = tuple(int(v) for v in rgb)
        if opacity is not None:
            self._alpha = self._to_alpha(opacity)
        if self.mask is not None:
            self._show(self.mask)

    def _show(self, m: np.ndarray) -> None:
        self.mask = m
        self._rgba = np.zeros(m.shape + (4,), dtype=np.uint8)
        self._rgba[..., :3] = self._rgb
        self.item.set_array(self._rgba)
        self.refresh(None)

    def refresh(self, box: tuple[int, int, int, int] | None) -> None:
        """Redraw the overlay where the mask changed (``box``; None: everywhere)."""
        if box is None:
            box = (0, 0, *self.mask.shape)
        r0, c0, r1, c1 = box
        self._rgba[r0:r1, c0:c1, 3] = self.mask[r0:r1, c0:c1] * np.uint8(self._alpha)
        self.item.refresh(box)

    def _record(self, before: np.ndarray) -> bool:
        return self.history.record(before, self.mask) is not None

    # -- edits -----------------------------------------------------------------------------
    @property
    def stroking(self) -> bool:
        return self._before is not None

    def begin_stroke(self) -> None:
        self.end_stroke()
        self._before = self.mask.copy()

    def paint(self, a: tuple[float, float], b: tuple[float, float], radius: float,
              value: bool) -> None:
        """Paint (``value`` True) or erase the segment a–b (row, col) with a round brush."""
        box = paint_segment(self.mask, a, b, radius, value)
        if box is not None:
            self.refresh(box)

    def end_stroke(self) -> bool:
        """Close the stroke in progress; True when it changed the mask (one step)."""
        before, self._before = self._before, None
        return before is not None and self._record(before)

    def polygon(self, vertices: np.ndarray, value: bool) -> bool:
        """Fill (or erase) a polygon of (row, col) vertices; True when the mask changed."""
        before = self.mask.copy()
        box = fill_polygon(self.mask, vertices, value)
        if box is None:
            return False
        self.refresh(box)
        return self._record(before)

    def flood(self, row: int, col: int) -> bool:
        """Flip the connected region under (row, col) (see :func:`flood_fill`)."""
        before = self.mask.copy()
        box = flood_fill(self.mask, row, col)
        if box is None:
            return False
        self.refresh(box)
        return self._record(before)

    def undo(self) -> bool:
        return self._step(self.history.undo)

    def redo(self) -> bool:
        return self._step(self.history.redo)

    def _step(self, fn) -> bool:
        if self.mask is None:
            return False
        self.end_stroke()
        box = fn(self.mask)
        if box is None:
            return False
        self.refresh(box)
        return True
