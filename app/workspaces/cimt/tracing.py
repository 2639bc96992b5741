"""ROIs, LI / MA tracings and calibration in the CIMT workspace; undo and redo.

Every ROI drawn, every traced point added, moved or deleted is stored at once through
the workspace's :class:`.history.CimtHistory` (one undo step each):
ROIs as ``roi`` annotations (a :class:`~core.store.geometry.Box`, ``value=""``) and the
tracings as one ``polyline`` annotation per frame and interface (``value`` "LI" or "MA").
A tracing of one point is not a polyline yet: it is stored at once as a draft in the
project (:mod:`.drafts`; restored with the study, undoable) and becomes the stored
polyline, in the same undo step, when the second point is placed.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QMessageBox

from core.store.geometry import Box, Polyline

from .drafts import set_draft, study_drafts
from .history import SideChange

MAX_ROIS = 3  # per study (SPEC §1.7: 3 per video in the paper)
MIN_ROI_PX = 8  # rows and columns: the snakes need a few columns and rows to move in


def crossing_text(li: np.ndarray, ma: np.ndarray) -> str:
    """Why a frame's LI and MA tracings are implausible ('' when they are not): MA must
    lie below LI (a larger row) wherever both are traced."""
    from ...widgets.polyline_geometry import rows_at

    if len(li) < 2 or len(ma) < 2:
        return ""
    cols = np.union1d(li[:, 1], ma[:, 1])
    r_li, r_ma = rows_at(li, cols), rows_at(ma, cols)
    bad = np.isfinite(r_li) & np.isfinite(r_ma) & (r_ma <= r_li)
    if not bad.any():
        return ""
    c = cols[bad]
    return (f"⚠ MA is above or on LI at columns {c.min():.0f}–{c.max():.0f}: MA "
            "(media–adventitia) lies below LI (lumen–intima) on the far wall")


class TracingMixin:
    """ROIs, tracings, calibration and undo (mixed into CimtWorkspace)."""

    # ------------------------------------------------------------------ data
    def _load_study_data(self) -> None:
        """Read the open study's ROIs and tracings."""
        sid = self.study.id
        self._rois = self.project.annotations(sid, kind="roi")
        self._lines = {(a.frame, a.value): a
                       for a in self.project.annotations(sid, kind="polyline")}
        self._drafts = study_drafts(self.project, sid)

    def frame_rois(self) -> list:
        """The ROI annotations of the open frame, in the order they were drawn."""
        return [a for a in self._rois if a.frame == self.frame]

    @staticmethod
    def box_of(ann) -> tuple[int, int, int, int]:
        g = ann.geometry
        return (int(round(g.row0)), int(round(g.col0)), int(round(g.row1)), int(round(g.col1)))

    def expert_line(self, name: str, frame: int | None = None) -> np.ndarray:
        """The expert's tracing of ``name`` on ``frame`` (default: the open one); (0, 2)
        when there is none."""
        a = self._lines.get((self.frame if frame is None else frame, name))
        return np.zeros((0, 2)) if a is None else np.asarray(a.geometry.points, float)

    def traced(self, name: str, frame: int | None = None) -> np.ndarray:
        """What the expert traced of ``name`` on ``frame`` (default: the open one): the
        stored tracing, else the one-point draft (1, 2), else (0, 2)."""
        f = self.frame if frame is None else frame
        if (f, name) in self._lines:
            return self.expert_line(name, f)
        p = self._drafts.get((f, name))
        return np.zeros((0, 2)) if p is None else np.array([p], float)

    def _show_annotations(self) -> None:
        """Put the open frame's ROIs, tracings and model output on the canvas."""
        for name in ("LI", "MA"):
            self.canvas.set_tracing(name, self.traced(name))
        rois = self.frame_rois()
        self.canvas.set_rois([self.box_of(a) for a in rois])
        self._show_results()

    # ------------------------------------------------------------------ ROIs
    def _on_roi_drawn(self, box) -> None:
        """Store a box dragged with the ROI tool, unless it breaks a rule (said why)."""
        if self.study is None or self.source is None:
            return
        r0, c0, r1, c1 = (int(v) for v in box)
        h, w = self.canvas.frame_shape
        if len(self._rois) >= MAX_ROIS:
            self._say(f"{self.study.name} has {len(self._rois)} ROIs, the most a study "
                      "takes: select one (select tool, click it) and press Del to make room")
            return
        if r1 - r0 < MIN_ROI_PX or c1 - c0 < MIN_ROI_PX:
            self._say(f"ROI not kept: {r1 - r0} × {c1 - c0} pixels is too small; an ROI "
                      f"needs at least {MIN_ROI_PX} × {MIN_ROI_PX} pixels (rows × columns) "
                      "for the boundaries and snakes")
            return
        if r0 < 0 or c0 < 0 or r1 > h or c1 > w:
            self._say(f"ROI not kept: it must lie inside the {h} × {w} frame")
            return
        ann = self.history.add(self.study.id, "roi", Box(r0, c0, r1, c1), frame=self.frame,
                               value="")
        self._after_edit()
        self.canvas.select_roi(len(self.frame_rois()) - 1)
        self._say(f"ROI {len(self.frame_rois())} on frame {self.frame}: rows {r0}–{r1 - 1}, "
                  f"columns {c0}–{c1 - 1} ({ann.geometry.row1 - r0:.0f} × {c1 - c0} px)")
        self.compute_maps(quiet=True)

    def delete_selected(self) -> None:
        """Del: the selected traced point, else the selected ROI (asks first when the ROI
        carries a corrected snake)."""
        if self.canvas.selected_point is not None:
            self.canvas.delete_selected_point()
            return
        i = self.canvas.selected_roi
        rois = self.frame_rois()
        if i is None or i >= len(rois):
            self._say("select a traced point (trace tool) or an ROI (select tool) to delete")
            return
        ann = rois[i]
        if ann.id in self._results and self._results[ann.id].n_constraints:
            if QMessageBox.question(self, "Delete ROI?", f"ROI {i + 1} has corrected "
                                    "snakes. Delete the ROI? (Ctrl+Z brings it back)") != \
                    QMessageBox.StandardButton.Yes:
                return
        self.history.delete(ann.id)
        self._results.pop(ann.id, None)
        self.canvas.select_roi(None)
        self._after_edit()
        self._say(f"ROI {i + 1} deleted (Ctrl+Z brings it back)")

    # ------------------------------------------------------------------ tracings
    def _on_polyline_edited(self, name: str, points) -> None:
        """Store the frame's tracing of ``name`` after a point was added, moved or
        deleted (one undo step); one point is kept as a draft, none removes the line."""
        if self.study is None:
            return
        pts = np.asarray(points, float).reshape(-1, 2)
        self._store_line(name, pts)
        self._after_edit(keep_canvas=True)
        warn = crossing_text(self.expert_line("LI"), self.expert_line("MA"))
        n = len(pts)
        if n == 1:
            text = (f"{name}: 1 point on frame {self.frame}, saved as a draft: it becomes "
                    "the tracing with the second point (a tracing needs 2)")
        else:
            text = f"{name}: {n} point{'s' if n != 1 else ''} on frame {self.frame}"
        self._say(warn or text)

    def _store_line(self, name: str, pts: np.ndarray) -> None:
        """Make ``pts`` the open frame's tracing of ``name``, as one undo step: a polyline
        from 2 points, a draft at 1, nothing at 0."""
        old = self._lines.get((self.frame, name))
        with self.history.step():
            if len(pts) < 2:
                if old is not None:
                    self.history.delete(old.id)
                self._put_draft(name, pts[0] if len(pts) else None)
                return
            if old is not None:
                self.history.update(old.id, geometry=Polyline(pts))
            else:
                self.history.add(self.study.id, "polyline", Polyline(pts), frame=self.frame,
                                 value=name)
            self._put_draft(name, None)

    def _put_draft(self, name: str, point) -> None:
        """Set (or, ``point`` None, clear) the open frame's one-point draft of ``name`` in
        the project, recorded in the open undo step."""
        sid, frame = self.study.id, self.frame
        was = self._drafts.get((frame, name))
        now = None if point is None else (float(point[0]), float(point[1]))
        if was == now:
            return
        project = self.project

        def put(p):
            def do() -> None:
                set_draft(project, sid, frame, name, p)
            return do

        put(now)()
        self._drafts = study_drafts(project, sid)
        self.history.record(SideChange("draft", sid, frame, undo_fn=put(was),
                                       redo_fn=put(now)))

    def _after_edit(self, keep_canvas: bool = False) -> None:
        """Re-read the study's annotations and redraw (the canvas' own tracing stays when
        ``keep_canvas``: it may hold a one-point line)."""
        self._load_study_data()
        if not keep_canvas:
            self._show_annotations()
        else:
            self._update_roi_table()
        self.study_list.set_text(self.study.id, self._study_text(self.study, len(self._rois)))
        self.undo_state_changed.emit()

    # ------------------------------------------------------------------ undo
    def _after_history(self, changes, word: str) -> None:
        if not changes:
            return
        sid, frame = changes[0].where
        if self.study is None or sid != self.study.id:
            self.select_study(sid)
        self._load_study_data()
        for c in changes:  # a restored ROI or tracing: its model output is stale
            if c.before is not None and c.before.kind == "roi" or (
                    c.after is not None and c.after.kind == "roi"):
                self._results.pop(c.annotation_id, None)
        if frame is not None and frame != self.frame:
            self.show_frame(int(frame))
        else:
            self._show_annotations()
        self.undo_state_changed.emit()
        self._say(f"{word}: {len(changes)} change{'s' if len(changes) > 1 else ''}")

    # ------------------------------------------------------------------ calibration
    def calibrate(self) -> None:
        """Two clicks on the depth scale and a distance: the study's mm per pixel."""
        if self.study is None or self.source is None:
            self._say("open a study first")
            return
        from core.io.ultrasound_spacing import spacing_text

        from ...dialogs.calibrate import CalibrateDialog

        dlg = CalibrateDialog(self.source.read(self.frame), self.study.name,
                              spacing_text(self.study.meta or {}), self)
        if not dlg.exec() or dlg.mm_per_pixel is None:
            return
        self.set_calibration(dlg.mm_per_pixel)

    def set_calibration(self, mm_per_pixel: float) -> None:
        """Store the open study's calibrated spacing and redo its IMT in mm."""
        from core.io.ultrasound_spacing import calibrate_study, spacing_text

        try:
            self.study = calibrate_study(self.project, self.study.id, mm_per_pixel)
        except ValueError as exc:
            QMessageBox.warning(self, "Calibration not set", str(exc))
            return
        self.study_list.set_text(self.study.id, self._study_text(self.study, len(self._rois)))
        self._update_roi_table()
        self._describe()
        self._say(f"{self.study.name}: {spacing_text(self.study.meta or {})}")
