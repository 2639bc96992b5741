"""Candidates in the Emboli workspace: selection, decisions, the model's scores, the queue.

A decision (A accept / R reject) is an annotation of kind ``point`` at the candidate's
centre (the plane, rounded, as the frame; ``Point(row, col)``) with value ``"embolus"``
or ``"not embolus"`` (:mod:`core.tasks.emboli.truth`), so it survives the generator
being run again; Backspace removes it and the marks decide again. A decision belongs to
the candidate whose centre is nearest it within
:func:`~core.tasks.emboli.truth.decision_reach_mm`
(:func:`~core.tasks.emboli.truth.decisions_by_candidate`, the rule of
:func:`~core.tasks.emboli.truth.candidate_truth`). Every decision is written at once and
is one undo step.

The scores are the positive-class probabilities of the newest run that scored the open
study (its preview predictions), updated live with each new best snapshot while it
trains. The review queue lists the undecided candidates whose score is nearest the run's
threshold (the model least sure) first.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidgetItem

from core.store.geometry import Point
from core.tasks.emboli.truth import (
    ACCEPT,
    REJECT,
    decision_place,
    decisions_by_candidate,
)

from ...widgets.volume_slices import equivalent_radius_mm

QUEUE_SHOWN = 200
_ID = Qt.ItemDataRole.UserRole


class ReviewMixin:
    """Candidates, decisions, scores and the review queue (mixed into EmboliWorkspace)."""

    # ------------------------------------------------------------------ candidates
    def _load_candidates(self) -> None:
        from core.tasks.emboli.candidates import GENERATOR

        cands = self.project.candidates(self.study.id, generator=GENERATOR)
        self._cands = sorted(cands, key=lambda c: (tuple(np.round(c.center, 3)), c.id))
        self._pos = {c.id: k for k, c in enumerate(self._cands)}
        self._centres = np.array([c.center for c in self._cands], float).reshape(-1, 3)
        self._load_truth()
        self._load_latest_scores()

    def _load_truth(self) -> None:
        from core.tasks.emboli.truth import volume_truth

        self._truth = volume_truth(self.project, self.study, self.geometry)
        self._decisions = decisions_by_candidate(self._truth.decisions, self._centres,
                                                 self.geometry.spacing_mm)

    def decision_of(self, cid: int) -> tuple | None:
        """(annotation id, value) of the expert's decision on candidate ``cid``."""
        k = self._pos.get(cid)
        return None if k is None else self._decisions.get(k)

    def _state(self, cid: int) -> str | None:
        d = self.decision_of(cid)
        return None if d is None else ("accepted" if d[1] == ACCEPT else "rejected")

    def _refresh_markers(self) -> None:
        """Candidates and spheres to the viewer, the list's texts, the queue."""
        if self.study is None or self.volume is None:
            return
        ids = [c.id for c in self._cands]
        radii = equivalent_radius_mm([c.params.get("volume_mm3", 0.0) for c in self._cands])
        self.viewer.set_candidates(ids, self._centres, radii * 1.5 + 1.0,
                                   [self._scores.get(i) for i in ids],
                                   [self._state(i) for i in ids])
        t = self._truth
        self.viewer.set_spheres([s[0] for s in t.spheres],
                                np.array([s[1] for s in t.spheres]).reshape(-1, 3),
                                [s[2] for s in t.spheres])
        self._fill_candidate_list()
        self._update_queue()
        self._caption()

    def _row_text(self, c) -> str:
        p = self._scores.get(c.id)
        d = self.decision_of(c.id)
        said = "" if d is None else (" · ✓ embolus" if d[1] == ACCEPT else " · ✗ not embolus")
        model = "" if p is None else f" · model {p:.2f}"
        z, y, x = c.center
        return (f"#{c.id} · plane {z + 1:.0f} ({y:.0f}, {x:.0f}) · "
                f"{c.params.get('volume_mm3', 0):.0f} mm³ · "
                f"{c.params.get('mean_hu', 0):.0f} HU{model}{said}")

    def _fill_candidate_list(self) -> None:
        lst = self.cand_list
        lst.blockSignals(True)
        if lst.count() != len(self._cands):
            lst.clear()
            for c in self._cands:
                it = QListWidgetItem(self._row_text(c))
                it.setData(_ID, c.id)
                lst.addItem(it)
        else:
            for k, c in enumerate(self._cands):
                lst.item(k).setText(self._row_text(c))
        sel = self.viewer.selected
        lst.setCurrentRow(self._pos[sel] if sel in self._pos else -1)
        lst.blockSignals(False)

    def selected(self):
        cid = self.viewer.selected
        k = self._pos.get(cid) if cid is not None else None
        return None if k is None else self._cands[k]

    def select_candidate(self, cid: int | None) -> None:
        """Select candidate ``cid``: crosshair on it, its planes, its row."""
        if cid is not None and cid not in self._pos:
            return
        self.viewer.select_candidate(cid)
        self.cand_list.blockSignals(True)
        self.cand_list.setCurrentRow(self._pos[cid] if cid is not None else -1)
        self.cand_list.blockSignals(False)
        if cid is not None:
            self.cand_list.scrollToItem(self.cand_list.item(self._pos[cid]))
        self._show_planes()
        self._describe_selection()

    def select_next(self, step: int = 1) -> None:
        """Select the next (``step`` = 1) or previous candidate (in the list's order)."""
        if not self._cands:
            self._say("no candidates yet: Find candidates (Ctrl+G)")
            return
        cur = self.selected()
        if cur is None:
            k = 0 if step > 0 else len(self._cands) - 1
        else:
            k = (self._pos[cur.id] + step) % len(self._cands)
        self.select_candidate(self._cands[k].id)

    def _on_list_row(self, row: int) -> None:
        if 0 <= row < len(self._cands):
            self.select_candidate(self._cands[row].id)

    def _describe_selection(self) -> None:
        c = self.selected()
        if c is None:
            return
        p = self._scores.get(c.id)
        d = self.decision_of(c.id)
        said = "undecided (the marks decide)" if d is None else d[1]
        model = "not scored" if p is None else f"model {p:.2f}"
        self._say(f"candidate {c.id}: {model}; {said}")

    def _show_planes(self) -> None:
        from ...widgets.volume_planes import vessel_planes

        c = self.selected()
        if c is None or self.volume is None:
            self.planes.clear()
            return
        axis = c.params.get("axis", (1.0, 0.0, 0.0))
        cross, long = vessel_planes(self.volume, self.geometry.spacing_mm, c.center, axis,
                                    self.planes.plane_width_mm())
        p = self._scores.get(c.id)
        self.planes.set_planes(cross, long, self.viewer.window(),
                               f"Candidate {c.id}" + ("" if p is None else f" · model {p:.2f}"))

    # ------------------------------------------------------------------ decisions
    def decide(self, value: str | None) -> None:
        """Accept (``"embolus"``), reject (``"not embolus"``) or forget (None) the
        decision on the selected candidate, then select the next undecided one."""
        if self.study is None or self.volume is None:
            return
        c = self.selected()
        if c is None:
            if not self._cands:
                self._say("no candidate to decide on: Find candidates (Ctrl+G)")
                return
            self.select_next(1)
            c = self.selected()
        if value not in (ACCEPT, REJECT, None):
            raise ValueError(f"a decision is {ACCEPT!r}, {REJECT!r} or None, got {value!r}")
        dec = self.decision_of(c.id)
        if dec is None and value is None:
            self._say("no decision to forget on this candidate")
            return
        if dec is None:
            try:
                plane, y, x = decision_place(c.center, self.geometry.spacing_mm)
            except ValueError as exc:
                self._say(f"candidate {c.id}: {exc}")
                return
            self.history.add(self.study.id, "point", Point(y, x), frame=plane, value=value)
        elif value is None:
            self.history.delete(dec[0])
        elif dec[1] != value:
            self.history.update(dec[0], value=value)
        self._load_truth()
        self._refresh_markers()
        self.undo_state_changed.emit()
        word = {ACCEPT: "accepted as an embolus", REJECT: "rejected",
                None: "decision removed (the marks decide)"}[value]
        if value is not None:
            self._select_next_undecided(c.id)
        nxt = self.selected()
        then = f" · now candidate {nxt.id}" if nxt is not None and nxt.id != c.id else ""
        self._say(f"candidate {c.id} {word}{then}")

    def _select_next_undecided(self, after: int) -> None:
        k0 = self._pos.get(after, -1) + 1
        n = len(self._cands)
        for j in range(n):
            c = self._cands[(k0 + j) % n]
            if self.decision_of(c.id) is None:
                self.select_candidate(c.id)
                return

    # ------------------------------------------------------------------ scores
    def _task_runs(self) -> list:
        return sorted((r for r in self.project.runs() if self.owns_task(r.task)),
                      key=lambda r: r.id)

    def _load_latest_scores(self) -> None:
        """The open study's scores from the newest run that scored it (or none)."""
        self._scores, self._score_run = {}, None
        for run in reversed(self._task_runs()):
            preds = self.project.predictions(run.id, split="preview", study_id=self.study.id)
            if preds:
                self._score_run = run
                self._scores = _score_map(preds[-1].items, preds[-1].probs)
                return

    def show_prediction(self, prediction) -> None:
        """New scores of the open study (a :class:`core.events.Scored` of candidates)."""
        runs = self._task_runs()
        self._score_run = runs[-1] if runs else None
        self._scores = _score_map(prediction.items, prediction.positive_probs)
        self._refresh_markers()
        if self.selected() is not None:
            self._show_planes()

    def threshold(self) -> float:
        """The run's operating threshold (Youden's J on validation), else 0.5."""
        t = ((self._score_run.metrics or {}).get("threshold") or {}) if self._score_run else {}
        try:
            return float(t.get("threshold", 0.5))
        except (TypeError, ValueError):
            return 0.5

    # ------------------------------------------------------------------ review queue
    def review_order(self) -> list[tuple[int, float]]:
        """(candidate id, score) of the scored, undecided candidates, least sure first."""
        t = self.threshold()
        rows = sorted((abs(p - t), c.id, p) for c in self._cands
                      if (p := self._scores.get(c.id)) is not None
                      and self.decision_of(c.id) is None)
        return [(cid, p) for _, cid, p in rows]

    def _update_queue(self) -> None:
        self.queue.clear()
        order = self.review_order()
        for cid, p in order[:QUEUE_SHOWN]:
            it = QListWidgetItem(f"candidate {cid} · model {p:.2f}")
            it.setData(_ID, cid)
            self.queue.addItem(it)
        self.side_tabs.setTabText(1, f"Review queue ({len(order)})" if self._scores
                                  else "Review queue")
        self.queue_title.setText(
            "Run the model first (train, or open a run)" if not self._scores
            else f"{len(order)} undecided, the model's least sure first (Q)")

    def _on_queue_item(self, item: QListWidgetItem) -> None:
        self.select_candidate(int(item.data(_ID)))

    # ------------------------------------------------------------------ from outside
    _wanted_candidate: tuple[int, int] | None = None  # (study, candidate) awaiting its volume
    _wanted_hooked = False

    def show_candidate(self, cid: int) -> None:
        """Select candidate ``cid`` of the open study (crosshair on its centre, its
        planes): at once when the volume is loaded, else as soon as it is (the
        experiments board opening a flip or a queued item)."""
        if self.study is None:
            return
        if self.volume is not None:
            self._wanted_candidate = None
            if int(cid) in self._pos:
                self.select_candidate(int(cid))
            else:
                self._say(f"candidate {cid} is not in {self.study.name} any more (the "
                          "generator ran again)")
            return
        self._wanted_candidate = (self.study.id, int(cid))
        if not self._wanted_hooked:
            self.volume_loaded.connect(self._show_wanted_candidate)
            self._wanted_hooked = True

    def _show_wanted_candidate(self, study_id: int) -> None:
        want, self._wanted_candidate = self._wanted_candidate, None
        if want is not None and want[0] == study_id:
            self.show_candidate(want[1])

    def decision_stored(self, study_id: int) -> None:
        """A decision on a candidate of ``study_id`` was written through ``self.history``
        from outside (the experiments board's flip review): redraw it when that study is
        open, and offer its undo."""
        if self.study is not None and self.study.id == study_id and self.volume is not None:
            self._load_truth()
            self._refresh_markers()
        self.undo_state_changed.emit()

    def next_in_queue(self) -> None:
        """Go to the least sure undecided candidate (the top of the queue)."""
        order = self.review_order()
        if not order:
            self._say("the review queue is empty" if self._scores else
                      "no scores yet: train a model first")
            return
        cur = self.selected()
        pick = order[0][0]
        if cur is not None and cur.id == pick and len(order) > 1:
            pick = order[1][0]
        self.select_candidate(pick)


def _score_map(items, probs) -> dict[int, float]:
    p = np.asarray(probs, np.float64)
    pos = p[:, 1] if p.ndim == 2 else p
    return {int(i): float(s) for i, s in zip(np.asarray(items).reshape(-1), pos)}
