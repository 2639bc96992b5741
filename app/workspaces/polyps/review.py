"""Candidates in the Polyps workspace: decisions, the model's scores, the review queue.

A decision (A accept / R reject) is an annotation of kind ``point`` at the candidate's
centre with value ``"polyp"`` or ``"not polyp"`` (:mod:`core.tasks.polyps.truth`), so it
survives the generator being run again; Backspace removes it and the mask decides
again. Every decision is written at once and is one undo step.

The scores are the positive-class probabilities of the newest run that scored the open
study (its preview predictions), updated live with each new best snapshot while it
trains. The review queue lists the open study's undecided candidates, the ones whose
score is nearest the run's threshold (the model least sure) first.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QListWidgetItem

from core.store.geometry import Point
from core.tasks.polyps.truth import ACCEPT, DECISIONS, REJECT, decision_for

QUEUE_SHOWN = 200  # rows of the review queue


class ReviewMixin:
    """Decisions, scores and the review queue (mixed into PolypsWorkspace)."""

    # ------------------------------------------------------------------ candidates
    def frame_candidates(self) -> list:
        """The open frame's candidates on show: the ``Boxes`` strongest (by the model's
        score, else the generator's strength), plus every decided one and the one
        asked for (the review queue's), in the generator's order."""
        cands = self._cands.get(self.frame, [])
        n = self.boxes_shown.value()
        if not n or len(cands) <= n:
            return cands
        truth = self._truth.get(self.frame)

        def strength(c) -> float:
            p = self._scores.get(c.id)
            return p if p is not None else float(c.params.get("strength", 0.0)) - 1.0

        keep = {c.id for c in sorted(cands, key=strength, reverse=True)[:n]}
        keep |= {c.id for c in cands if c.id == self._wanted
                 or decision_for(truth, c.center, c.extent) is not None}
        return [c for c in cands if c.id in keep]

    def candidate_rows(self) -> list[tuple]:
        """(id, box, score, state) of the open frame's candidates for the canvas."""
        truth = self._truth.get(self.frame)
        rows = []
        for c in self.frame_candidates():
            dec = decision_for(truth, c.center, c.extent)
            state = None if dec is None else ("accepted" if dec[1] == ACCEPT else "rejected")
            rows.append((c.id, tuple(c.extent), self._scores.get(c.id), state))
        return rows

    def selected(self):
        cid = self.canvas.selected_candidate
        return next((c for c in self.frame_candidates() if c.id == cid), None)

    def select_next(self, step: int = 1) -> None:
        """Select the next (``step`` = 1) or previous candidate of the frame."""
        cands = self.frame_candidates()
        if not cands:
            self._say("no candidates on this frame" if self._cands else
                      "no candidates yet: Find candidates (Ctrl+G)")
            return
        cur = self.selected()
        k = 0 if cur is None else (cands.index(cur) + step) % len(cands)
        if cur is None and step < 0:
            k = len(cands) - 1
        self.canvas.select_candidate(cands[k].id, ensure_visible=True)
        self._describe_selection()

    def _describe_selection(self) -> None:
        c = self.selected()
        if c is None:
            return
        p = self._scores.get(c.id)
        dec = decision_for(self._truth.get(self.frame), c.center, c.extent)
        said = "undecided (the mask decides)" if dec is None else dec[1]
        model = "not scored" if p is None else f"model {p:.2f}"
        self._say(f"candidate {c.id}: {model}; {said}")

    # ------------------------------------------------------------------ decisions
    def decide(self, value: str | None) -> None:
        """Accept (``"polyp"``), reject (``"not polyp"``) or forget (None) the decision on
        the selected candidate, then select the next undecided one on the frame."""
        if self.study is None:
            return
        c = self.selected()
        if c is None:
            if not self.frame_candidates():
                self._say("no candidate on this frame to decide on")
                return
            self.select_next(1)
            c = self.selected()
        if value is not None and value not in DECISIONS:
            raise ValueError(f"a decision is one of {DECISIONS} or None, got {value!r}")
        dec = decision_for(self._truth.get(self.frame), c.center, c.extent)
        if dec is None and value is None:
            self._say("no decision to forget on this candidate")
            return
        if dec is None:
            self.history.add(self.study.id, "point", Point(*c.center), frame=self.frame,
                             value=value)
        elif value is None:
            self.history.delete(dec[0])
        elif dec[1] != value:
            self.history.update(dec[0], value=value)
        self._reload_frame_truth(self.frame)
        self._refresh_candidates()
        self.undo_state_changed.emit()
        word = {ACCEPT: "accepted as a polyp", REJECT: "rejected",
                None: "decision removed (the mask decides)"}[value]
        self._say(f"candidate {c.id} {word}")
        self._update_queue()
        if value is not None:
            self._select_next_undecided(c.id)

    def _select_next_undecided(self, after: int) -> None:
        truth = self._truth.get(self.frame)
        cands = self.frame_candidates()
        ids = [c.id for c in cands]
        start = ids.index(after) + 1 if after in ids else 0
        for c in cands[start:] + cands[:start]:
            if decision_for(truth, c.center, c.extent) is None:
                self.canvas.select_candidate(c.id, ensure_visible=True)
                return

    # ------------------------------------------------------------------ scores
    def _task_runs(self) -> list:
        return sorted((r for r in self.project.runs() if self.owns_task(r.task)),
                      key=lambda r: r.id)

    def _load_latest_scores(self) -> None:
        """The open study's scores from the newest run that scored it (or none)."""
        self._scores, self._score_run = {}, None
        if self.study is None:
            return
        for run in reversed(self._task_runs()):
            preds = self.project.predictions(run.id, split="preview", study_id=self.study.id)
            if preds:
                p = preds[-1]
                self._score_run = run
                self._set_scores(p.items, p.probs)
                return
        self._update_queue()

    def _set_scores(self, items, probs) -> None:
        probs = np.asarray(probs, np.float64)
        pos = probs[:, 1] if probs.ndim == 2 else probs
        self._scores = {int(i): float(p) for i, p in zip(np.asarray(items), pos)}
        self._refresh_candidates()
        self._update_queue()

    def show_prediction(self, prediction) -> None:
        """New scores of the open study (a :class:`core.events.Scored` of candidates)."""
        runs = self._task_runs()
        self._score_run = runs[-1] if runs else None
        self._set_scores(prediction.items, prediction.positive_probs)

    def threshold(self) -> float:
        """The run's operating threshold (Youden's J on validation), else 0.5."""
        t = ((self._score_run.metrics or {}).get("threshold") or {}) if self._score_run else {}
        try:
            return float(t.get("threshold", 0.5))
        except (TypeError, ValueError):
            return 0.5

    # ------------------------------------------------------------------ review queue
    def review_order(self) -> list[tuple[int, int, float]]:
        """(frame, candidate id, score) of the open study's scored, undecided candidates,
        the least sure (score nearest the threshold) first."""
        t = self.threshold()
        rows = []
        for f, cands in self._cands.items():
            truth = self._truth.get(f)
            for c in cands:
                p = self._scores.get(c.id)
                if p is None or decision_for(truth, c.center, c.extent) is not None:
                    continue
                rows.append((abs(p - t), f, c.id, p))
        rows.sort()
        return [(f, cid, p) for _, f, cid, p in rows]

    def _update_queue(self) -> None:
        self.queue.clear()
        order = self.review_order()
        for f, cid, p in order[:QUEUE_SHOWN]:
            it = QListWidgetItem(f"frame {f} · candidate {cid} · model {p:.2f}")
            it.setData(256, (f, cid))
            self.queue.addItem(it)
        n = len(order)
        self.queue_title.setText(
            "Review queue: run the model first (train, or open a run)" if not self._scores
            else f"Review queue: {n} undecided, least sure first (Q)")

    def go_to_candidate(self, frame: int, cid: int) -> None:
        """Show ``frame`` with candidate ``cid`` selected (shown even when weak)."""
        self._wanted = cid
        self.show_frame(frame)
        self._refresh_candidates()
        self.canvas.select_candidate(cid, ensure_visible=True)
        self._describe_selection()

    def _on_queue_item(self, item: QListWidgetItem) -> None:
        self.go_to_candidate(*item.data(256))

    def decision_stored(self, study_id: int) -> None:
        """A decision on a candidate of ``study_id`` was written through ``self.history``
        from outside (the experiments board's flip review): redraw it when that study is
        open, and offer its undo."""
        from core.tasks.polyps.truth import study_truth

        if self.study is not None and self.study.id == study_id:
            self._truth = study_truth(self.project, study_id)
            self._refresh_candidates()
            self._update_queue()
            self._update_progress()
        self.undo_state_changed.emit()

    def next_in_queue(self) -> None:
        """Go to the least sure undecided candidate (the top of the queue)."""
        order = self.review_order()
        if not order:
            self._say("the review queue is empty" if self._scores else
                      "no scores yet: train a model first")
            return
        cur = self.selected()
        pick = order[0]
        if cur is not None and (self.frame, cur.id) == pick[:2] and len(order) > 1:
            pick = order[1]
        self.go_to_candidate(pick[0], pick[1])
