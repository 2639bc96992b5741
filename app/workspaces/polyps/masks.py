"""Mask drawing in the Polyps workspace: tools, storing each edit, undo and redo.

Every completed edit on the canvas (a stroke, a polygon, a fill) is stored at once as
the frame's mask annotation through the workspace's :class:`AnnotationHistory`, so the
database and Edit > Undo agree; an empty mask says the frame shows no polyp.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from core.store.geometry import Mask


class MaskMixin:
    """Tools, mask storage and undo (mixed into PolypsWorkspace)."""

    # ------------------------------------------------------------------ masks
    def set_tool(self, name: str) -> None:
        self.canvas.set_tool(name)
        for b in self.tool_group.buttons():
            b.setChecked(b.property("tool") == name)
        self.canvas.setFocus(Qt.FocusReason.OtherFocusReason)

    def _on_canvas_brush(self, size: int) -> None:
        self.brush.blockSignals(True)
        self.brush.setValue(size)
        self.brush.blockSignals(False)

    def _on_mask_edited(self, mask) -> None:
        """Store the frame's new mask (one undo step; an empty mask means no polyp)."""
        if self.study is None:
            return
        self._store_mask(mask)

    def _store_mask(self, mask) -> None:
        old = self.project.annotations(self.study.id, kind="mask", frame=self.frame)
        if old:
            self.history.update(old[0].id, geometry=Mask(mask))
        else:
            self.history.add(self.study.id, "mask", Mask(mask), frame=self.frame)
        self._reload_frame_truth(self.frame)
        self._refresh_candidates()
        self._caption()
        self._update_queue()
        self.undo_state_changed.emit()

    def mark_no_polyp(self) -> None:
        """Store an empty mask on this frame: it shows no polyp."""
        if self.source is None:
            return
        t = self._truth.get(self.frame)
        if t is not None and t.mask is not None and t.mask.any():
            if QMessageBox.question(self, "No polyp on this frame?",
                                    "This frame's mask marks a polyp. Clear it?") != \
                    QMessageBox.StandardButton.Yes:
                return
        h, w = self.source.read(self.frame).shape[:2]
        self.canvas.set_mask(np.zeros((h, w), bool))
        self._store_mask(np.zeros((h, w), bool))
        self._say(f"frame {self.frame}: no polyp")

    # ------------------------------------------------------------------ undo
    def _after_history(self, changes, word: str) -> None:
        if not changes:
            return
        where = changes[0].where
        if self.study is not None and where[0] != self.study.id:
            self.select_study(where[0])
        frames = {c.where[1] for c in changes if c.where[1] is not None}
        for f in frames:
            self._reload_frame_truth(int(f))
        if where[1] is not None:
            self.show_frame(int(where[1]))
        self._update_queue()
        self.undo_state_changed.emit()
        self._say(f"{word}: {len(changes)} change{'s' if len(changes) > 1 else ''}")

