"""Marked emboli in the Emboli workspace: spheres drawn in the views, undo and redo.

A drag in a view (mark mode, or Shift + drag) gives a sphere: centre where the drag
started, radius the drag's length in millimetres (the views are drawn in mm, so the
length means the same in every direction of the slice). It is stored at once as a
``sphere`` annotation (:class:`core.store.Sphere`, centre in patient coordinates through
the study's :class:`core.io.geometry3d.VolumeGeometry`, value ``"embolus"``), the
LUNA16-style mark that :mod:`core.io.marks` imports and exports; one undo step each.
"""

from __future__ import annotations

import numpy as np

from core.store.geometry import Sphere
from core.tasks.emboli.truth import ACCEPT


class MarksMixin:
    """Sphere marks and the undo history (mixed into EmboliWorkspace)."""

    def _on_sphere_drawn(self, centre_zyx, radius_mm: float) -> None:
        """Store a sphere mark (one undo step)."""
        if self.study is None or self.geometry is None:
            return
        centre = np.asarray(centre_zyx, float).reshape(1, 3)
        xyz = self.geometry.voxel_to_world(centre)[0]
        ann = self.history.add(self.study.id, "sphere",
                               Sphere(tuple(float(v) for v in xyz), float(radius_mm)),
                               value=ACCEPT)
        self._after_edit()
        z, y, x = centre[0]
        self._say(f"embolus marked (#{ann.id}): centre plane {z + 1:.0f} ({y:.0f}, {x:.0f}), "
                  f"diameter {2 * radius_mm:.1f} mm")

    def delete_sphere_at_cursor(self) -> None:
        """Delete the marked embolus that holds the crosshair (one undo step)."""
        if self.study is None or self.volume is None:
            return
        sid = self.viewer.sphere_at(self.viewer.cursor)
        if sid is None:
            self._say("no marked embolus under the crosshair (click inside one first)")
            return
        self.history.delete(sid)
        self._after_edit()
        self._say(f"embolus mark #{sid} deleted")

    def _after_edit(self) -> None:
        self._load_truth()
        self._refresh_markers()
        self.undo_state_changed.emit()

    # ------------------------------------------------------------------ undo
    def _after_history(self, changes, word: str) -> None:
        if not changes:
            return
        study_id = changes[0].where[0]
        if self.study is None or study_id != self.study.id:
            self.select_study(study_id)  # its truth is read when its volume has loaded
        elif self.volume is not None:
            self._load_truth()
            self._refresh_markers()
            a = changes[0].after or changes[0].before
            if a.kind == "point" and a.frame is not None:  # show the candidate concerned
                k = _nearest(self._centres, (a.frame, a.geometry.row, a.geometry.col),
                             self.geometry.spacing_mm)
                if k is not None:
                    self.select_candidate(self._cands[k].id)
        self.undo_state_changed.emit()
        self._say(f"{word}: {len(changes)} change{'s' if len(changes) > 1 else ''}")


def _nearest(centres: np.ndarray, zyx, spacing_mm) -> int | None:
    if not len(centres):
        return None
    d = np.sqrt((((centres - np.asarray(zyx, float)) * np.asarray(spacing_mm)) ** 2).sum(1))
    k = int(np.argmin(d))
    return k if d[k] <= 1.0 else None
