"""The model's view in the CIMT workspace: confidence maps, boundaries, snakes the expert
corrects, IMT per ROI.

The maps of the open frame's ROIs are computed in the background (:mod:`.maps`) with the
newest model: on opening a study, after a new ROI, on Ctrl+M, and whenever training
saves a new best snapshot while this study is open. A snake point the expert drags
becomes a constraint (the snake must pass through it); the snake re-converges on the
same confidence map at once, and the corrected boundary replaces the expert's tracing
over the ROI's columns (one undo step, which also puts the snake on screen back as it
was: its constraints and converged points; redo puts the correction back). The snakes
converge with the project's snake parameters (:mod:`.snake_settings`); changing them
re-converges the open frame's snakes, through their constraints.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtWidgets import QTableWidgetItem

from .history import SideChange
from .maps import RoiOutput, SnakeState, frame_outputs, newest_snapshot


def fmt_length(value: float | None, unit: str) -> str:
    """``"0.712 mm"``, ``"11.9 px"``; ``"–"`` for nothing."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.3f} mm" if unit == "mm" else f"{value:.1f} px"


def _on_edge(points, row0: int, row1: int) -> bool:
    """Whether a polyline touches the first or last row of an ROI (rows row0..row1-1)."""
    p = np.asarray(points, float).reshape(-1, 2)
    return bool(np.any((p[:, 0] <= row0 + 0.5) | (p[:, 0] >= row1 - 1.5)))


class ModelMixin:
    """Maps job, snake corrections and IMT (mixed into CimtWorkspace)."""

    def _init_model_state(self) -> None:
        self._results: dict[int, RoiOutput] = {}  # ROI annotation id -> model output
        self._pending: list[int] = []  # ROI ids the running job computes
        self._again = False  # a newer model arrived while a job ran
        self._model_words = ""

    def _forget_results(self) -> None:
        self._maps.quit()
        self._results = {}
        self._pending = []

    # ------------------------------------------------------------------ maps job
    def compute_maps(self, quiet: bool = False) -> None:
        """Start the background job for the open frame's ROIs with the newest model."""
        if self.study is None or self.source is None:
            return
        rois = self.frame_rois()
        found = newest_snapshot(self.project, self.owns_task)
        if not rois or found is None:
            if not quiet:
                self._say("draw an ROI on this frame first (R)" if not rois else
                          "no model yet: train one (Ctrl+T) to see its confidence maps")
            return
        if self._maps.is_running():
            self._again = True
            return
        path, self._model_words = found
        boxes = [self.box_of(a) for a in rois]
        spacings = [self.spacing_of(b) for b in boxes]
        self._pending = [a.id for a in rois]
        self._pending_frame = (self.study.id, self.frame)
        image = self._image
        device = self.training.device.currentData() or "auto"
        params = self.snake_params
        self._maps.start(lambda: frame_outputs(path, image, boxes, spacings, device=device,
                                               params=params), "cimt-maps")
        self.maps_button.setEnabled(False)
        self.job_bar.setRange(0, 0)
        self.job_bar.setFormat("maps…")

    def _on_event(self, ev) -> None:
        from core.events import Notice, Progress

        if isinstance(ev, Progress):
            self.job_bar.setRange(0, max(ev.total, 1))
            self.job_bar.setValue(ev.done)
            self.job_bar.setFormat("maps · %p%")
        elif isinstance(ev, Notice):
            self._say(ev.message)

    def _job_done(self, text: str) -> None:
        self.maps_button.setEnabled(True)
        self.job_bar.setRange(0, 100)
        self.job_bar.setValue(100)
        self.job_bar.setFormat(text.split(" (")[0])  # the bar is narrow: details in the tip
        self.job_bar.setToolTip(text)
        if self._again:
            self._again = False
            self.compute_maps(quiet=True)

    def _on_returned(self, outputs) -> None:
        ids, where = self._pending, getattr(self, "_pending_frame", None)
        self._pending = []
        if self.study is not None and where == (self.study.id, self.frame):
            for ann_id, out in zip(ids, outputs, strict=False):
                self._results[ann_id] = out
            self._show_results()
        self._job_done(f"maps: {self._model_words}")

    def _on_error(self, payload) -> None:
        exc, _tb = payload
        self._pending = []
        self._say(f"confidence maps not computed: {exc}")
        self._job_done("maps failed")

    def _on_aborted(self) -> None:
        self._pending = []
        self._job_done("maps cancelled")

    def show_prediction(self, prediction) -> None:
        """A new best model while training on this study: redraw the maps with it."""
        self.compute_maps(quiet=True)

    # ------------------------------------------------------------------ drawing
    def _show_results(self) -> None:
        outs = [self._results.get(a.id) for a in self.frame_rois()]
        self.canvas.set_results([None if o is None else o.canvas_dict() for o in outs])
        self.canvas.set_opacity(self.opacity.value() / 100)
        self._update_roi_table()
        self._describe()

    def spacing_of(self, box) -> tuple[float, float] | None:
        """The pixel spacing (dy, dx) in mm that applies to ``box`` of the open study."""
        from core.io.ultrasound_spacing import spacing_for

        return spacing_for(self.study.meta or {}, box)

    # ------------------------------------------------------------------ snakes
    def _on_snake_dragged(self, roi: int, name: str, index: int, row: float, col: float) -> None:
        """Make the dragged point a constraint, re-converge the snake, store the corrected
        boundary as the expert's tracing (one undo step)."""
        from ...widgets.polyline_geometry import splice

        rois = self.frame_rois()
        if roi >= len(rois) or rois[roi].id not in self._results:
            return
        ann = rois[roi]
        out = self._results[ann.id]
        before = out.state()
        try:
            snake = self.reconverge(ann.id, name, row, col)
        except ValueError as exc:
            out.restore(before)
            self._say(f"snake not corrected: {exc}")
            self._show_results()
            return
        after = out.state()
        with self.history.step():  # the tracing and the snake on screen: one undo step
            self._store_line(name, splice(self.traced(name), snake))
            self.history.record(SideChange(
                "snake", self.study.id, self.frame,
                undo_fn=lambda: self._put_snakes(ann.id, out, after, before),
                redo_fn=lambda: self._put_snakes(ann.id, out, before, after)))
        self._after_edit()
        n = len(self._results[ann.id].constraints[name])
        self._say(self._runaway_text() or
                  f"ROI {roi + 1} {name}: snake re-converged through {n} corrected "
                  f"point{'s' if n != 1 else ''}; saved as the expert's {name} (Ctrl+Z undoes)")

    def reconverge(self, roi_id: int, name: str, row: float, col: float) -> np.ndarray:
        """Make frame point (row, col) a constraint of the snake of ``name`` in ROI
        ``roi_id`` and let the snakes converge again; the new (N, 2) snake of ``name``."""
        out = self._results[roi_id]
        r0, c0, r1, c1 = out.box
        row = float(np.clip(row, r0, r1 - 1))
        col = float(np.clip(col, c0, c1 - 1))
        out.constrain(name, row, col)
        out.reconverge(self.spacing_of(out.box), self.snake_params)
        ids = [a.id for a in self.frame_rois()]
        if roi_id in ids:
            i = ids.index(roi_id)
            for n in ("LI", "MA"):
                self.canvas.set_snake(i, n, out.snake(n))
        return out.snake(name)

    def _put_snakes(self, roi_id: int, out: RoiOutput, expect: SnakeState,
                    target: SnakeState) -> None:
        """Undo / redo of a snake correction: put ``out``'s snakes back to ``target``.

        When they are still as the correction left them (``expect``) the saved snakes come
        back exactly; when they changed since (new snake parameters) they re-converge
        through ``target``'s constraints. Maps computed since (a new RoiOutput) hold no
        constraints: nothing to do."""
        if self._results.get(roi_id) is not out:
            return
        if out.boundaries is expect.boundaries or out.boundaries is target.boundaries:
            out.restore(target)
            return
        out.constraints = {k: list(v) for k, v in target.constraints.items()}
        try:
            out.reconverge(self.spacing_of(out.box), self.snake_params)
        except ValueError as exc:
            self._say(f"snake not re-converged: {exc}")

    def set_snake_params(self, params) -> None:
        """Use ``params`` (a SnakeParams) for this project's snakes: stored in the project
        and the open frame's snakes re-converged (through their constraints)."""
        from .snake_settings import describe, save_params

        if params == self.snake_params:
            self._say(f"{describe(params)} (unchanged)")
            return
        self.snake_params = params
        save_params(self.project, params)
        self.snake_button.setToolTip(self._snake_tip())
        n, failed = 0, []
        for out in list(self._results.values()):
            try:
                out.reconverge(self.spacing_of(out.box), params)
                n += 1
            except ValueError as exc:
                failed.append(str(exc))
        if self.study is not None:
            self._show_results()
        text = f"{describe(params)}; snakes of {n} ROI{'s' if n != 1 else ''} re-converged"
        if failed:
            text += f" ({len(failed)} not: {failed[0]})"
        runaway = self._runaway_text()
        self._say(f"{text} · {runaway}" if runaway else text)

    def _runaway_text(self) -> str:
        """A warning when a snake of the open frame lies on its ROI's top or bottom row
        where its thinned boundary does not: it ran away rather than converged (free ends
        of a rigid, corrected snake can); "" otherwise."""
        for i, ann in enumerate(self.frame_rois()):
            out = self._results.get(ann.id)
            if out is None:
                continue
            r0, _c0, r1, _c1 = out.box
            b = out.boundaries
            for name, thin in (("LI", b.li_thin), ("MA", b.ma_thin)):
                if _on_edge(out.snake(name), r0, r1) and not _on_edge(thin, r0, r1):
                    return (f"⚠ ROI {i + 1} {name}: the snake ran to the ROI's edge, where "
                            "its thinned boundary does not go: check the map there, or try "
                            "fixed ends or other snake settings (Snake…)")
        return ""

    def edit_snake_params(self):
        """Open the snake parameters dialog (non-blocking); returns it."""
        from .snake_settings import SnakeSettingsDialog

        dlg = getattr(self, "_snake_dialog", None)
        if dlg is not None and dlg.isVisible():
            dlg.raise_()
            return dlg
        dlg = self._snake_dialog = SnakeSettingsDialog(self.snake_params, self)
        dlg.applied.connect(self.set_snake_params)
        dlg.open()
        return dlg

    def _snake_tip(self) -> str:
        from .snake_settings import describe

        return ("Snake parameters of this project: tension, rigidity, pull to the map, "
                f"smoothing, step, iterations… (now: {describe(self.snake_params)}); "
                "changing them re-converges the snakes")

    # ------------------------------------------------------------------ numbers
    def roi_numbers(self, ann) -> dict:
        """IMT of the snakes and of the expert's tracings in an ROI, the mean distance
        between expert and snake per interface, and their unit ("mm" or "px")."""
        from core.stats.agreement import boundary_distance
        from core.tasks.cimt.boundaries import imt

        from ...widgets.polyline_geometry import clip_to_cols

        box = self.box_of(ann)
        spacing = self.spacing_of(box)
        unit = "mm" if spacing is not None else "px"
        out = {"unit": unit, "system": None, "expert": None, "LI": None, "MA": None}
        res = self._results.get(ann.id)
        expert = {n: clip_to_cols(self.expert_line(n, ann.frame), box[1], box[3] - 1)
                  for n in ("LI", "MA")}

        def attempt(f):
            try:
                return f()
            except ValueError:  # no shared column: nothing to say
                return None

        if len(expert["LI"]) >= 2 and len(expert["MA"]) >= 2:
            out["expert"] = attempt(lambda: imt(expert["LI"], expert["MA"], spacing).value)
        if res is not None:
            out["system"] = attempt(lambda: imt(res.snake("LI"), res.snake("MA"),
                                                spacing).value)
            for n in ("LI", "MA"):
                if len(expert[n]) >= 2:
                    d = attempt(lambda n=n: boundary_distance(expert[n], res.snake(n)))
                    out[n] = None if d is None else (d * spacing[0] if spacing else d)
        return out

    def _update_roi_table(self) -> None:
        t = self.roi_table
        rois = getattr(self, "_rois", []) if self.study is not None else []
        t.setRowCount(len(rois))
        for i, ann in enumerate(rois):
            try:
                nums = self.roi_numbers(ann)
            except (ImportError, ValueError) as exc:
                nums = {"unit": "px", "error": str(exc)}
            u = nums["unit"]
            cells = [f"{i + 1}", f"{ann.frame}", fmt_length(nums.get("system"), u),
                     fmt_length(nums.get("expert"), u), fmt_length(nums.get("LI"), u),
                     fmt_length(nums.get("MA"), u)]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if "error" in nums:
                    item.setToolTip(nums["error"])
                elif u == "px":
                    item.setToolTip("in pixels: this study has no pixel spacing; calibrate "
                                    "it (Ctrl+K) to get millimetres")
                t.setItem(i, j, item)
        t.resizeColumnsToContents()

    def _on_roi_row(self, row: int, _col: int = 0) -> None:
        if 0 <= row < len(self._rois):
            ann = self._rois[row]
            if ann.frame != self.frame:
                self.show_frame(int(ann.frame))
            self.canvas.select_roi(self.frame_rois().index(ann)
                                   if ann in self.frame_rois() else None)
            self._describe()

    def _describe(self) -> None:
        """The info line: the frame, its ROIs and their IMT."""
        if self.study is None:
            return
        parts = [f"{self.study.name} · frame {self.frame} / {self.n_frames - 1}"]
        rois = self.frame_rois()
        if not rois:
            parts.append("no ROI on this frame (R: drag one)")
        for i, ann in enumerate(rois):
            try:
                nums = self.roi_numbers(ann)
            except (ImportError, ValueError):
                continue
            u = nums["unit"]
            text = f"ROI {i + 1}: IMT {fmt_length(nums['system'], u)}"
            if nums["expert"] is not None:
                text += f" (expert {fmt_length(nums['expert'], u)})"
            if u == "px":
                text += " — in pixels: no spacing, calibrate (Ctrl+K)"
            parts.append(text)
        self.info.setText(" · ".join(parts))
        from core.io.ultrasound_spacing import spacing_text

        self.spacing_line.setText(f"Pixel spacing: {spacing_text(self.study.meta or {})}")

    # ------------------------------------------------------------------ results
    def results_summary(self, result) -> str:
        v = self.results.view
        if v is None:
            return ""
        parts = []
        for name in ("LI", "MA"):
            s = self.results.stats.get(name)
            if s is not None:
                parts.append(f"{name} error {s.mean:.3g} ± {s.sd:.2g} {v.unit} "
                             f"(median {s.median:.3g}, {s.n} ROIs)")
        ba = self.results.bland_altman
        if ba is not None:
            parts.append(f"IMT bias {ba.bias:+.3g} {v.unit}, limits of agreement "
                         f"{ba.loa_low:+.3g} to {ba.loa_high:+.3g}")
        return "<br>".join([f"<b>{parts[0]}</b>" if parts else "", *parts[1:], *v.verdict])
