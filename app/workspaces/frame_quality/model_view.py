"""The model's opinion in the Frame-quality workspace, and the protection of the test set.

:class:`ModelViewMixin` draws a run's per-frame probabilities on the strip (coloured by
rank around the run's validation threshold, with a legend), lists the disagreements at
that threshold and captions the frame with ``model: p (above/below threshold t)``.

On a test video the model's opinion is hidden while labelling (an expert shown the
model's output is invited to "correct" test labels toward it, which inflates the test
AUC) unless *review test labels* is on; and test labels edited after an evaluation are
counted and named in a warning line, since that evaluation no longer matches them.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

DEFAULT_THRESHOLD = 0.5
NO_THRESHOLD_RULE = "0.5 (no validation threshold)"
RULE_NAMES = {"youden_j_validation": "Youden's J on validation"}
HIDDEN_TEXT = ("model's opinion hidden on test videos while labelling (turn on 'review "
               "test labels' to see it)")


def run_threshold(run) -> tuple[float, str]:
    """(threshold, rule in words) of a run: its validation threshold, else 0.5 named so."""
    th = (run.metrics or {}).get("threshold") if run is not None else None
    try:
        value = float(th["value"])
    except (TypeError, KeyError, ValueError):
        return DEFAULT_THRESHOLD, NO_THRESHOLD_RULE
    if not 0.0 <= value <= 1.0:
        return DEFAULT_THRESHOLD, NO_THRESHOLD_RULE
    rule = th.get("rule") or "stored with the run"
    return value, f"{RULE_NAMES.get(rule, rule)}, run {run.id}"


def _time(text: str | None) -> datetime | None:
    try:
        t = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    return None if t is None else (t if t.tzinfo else t.astimezone())


class ModelViewMixin:
    """Strip, legend, caption and disagreements; test-set protection (module docstring)."""

    # ------------------------------------------------------------------ scores
    def _task_runs(self) -> list:
        return [r for r in self.project.runs() if self.owns_task(r.task)]

    def _load_latest_scores(self, prefer: int | None = None) -> None:
        """Show a run's stored output on the open video: run ``prefer``'s when it has
        some, else the newest run's (or nothing)."""
        self._scores, self._score_run = None, None
        runs = self._task_runs()
        runs.sort(key=lambda r: (r.id == prefer, r.id), reverse=True)
        for run in runs:
            frames, probs = self.project.scores(run.id, self.study.id)
            if len(frames):
                self._score_run = run
                self.set_scores(frames, probs)
                return
        self._show_model()

    def set_scores(self, frames, probs) -> None:
        """The positive-class probabilities ``probs`` (float, ``(k,)``) of ``frames``."""
        frames = np.asarray(frames, dtype=np.int64)
        probs = np.asarray(probs, dtype=np.float64)
        ok = (frames >= 0) & (frames < self.n_frames)
        self._scores = (frames[ok], probs[ok])
        self._show_model()
        self.show_frame(self.frame)

    def show_prediction(self, prediction, run_id: int | None = None) -> None:
        """Draw a :class:`core.events.Scored` of the open video on the probability strip.

        The strip shows the probability of the positive class (informative) with the
        threshold of run ``run_id`` (default: the run that stored these predictions for
        this video, else the task's newest run, the one training).
        """
        runs = self._task_runs()
        probs = np.asarray(prediction.positive_probs, dtype=np.float64)
        if run_id is not None:
            runs = [r for r in runs if r.id == run_id]
        elif self.study is not None:  # the run whose stored output this is, else the newest
            items = np.asarray(prediction.items, dtype=np.int64)
            for run in reversed(runs):
                frames, stored = self.project.scores(run.id, self.study.id)
                if np.array_equal(frames, items) and np.allclose(stored, probs, atol=1e-4):
                    runs = [run]
                    break
        self._score_run = runs[-1] if runs else None
        self.set_scores(prediction.items, probs)

    def threshold(self) -> tuple[float, str]:
        """The decision threshold on the shown output and its rule, in words."""
        return run_threshold(self._score_run)

    def model_hidden(self) -> bool:
        """Whether the model's opinion is kept from view (a test video, no review)."""
        return (self.study is not None and self.study.split == "test"
                and not self.review_test.isChecked())

    def _show_model(self) -> None:
        """Draw the output (or why there is none) on the strip, legend and list."""
        t, rule = self.threshold()
        scored = self._scores is not None and len(self._scores[0]) > 0
        self.disagreements.set_threshold(t, rule)
        if not scored:
            self.strip.clear_scores()
            self.legend.set_unscored()
            self.disagreements.set_hidden("no model output for this video yet")
        elif self.model_hidden():
            self.strip.clear_scores()
            self.legend.set_hidden(HIDDEN_TEXT)
            self.disagreements.set_hidden("model's opinion hidden on test videos while "
                                          "labelling")
        else:
            frames, probs = self._scores
            self.strip.set_threshold(t)
            self.strip.set_scores(frames, probs)
            self.legend.set_rank_scale(float(probs.min()), t, float(probs.max()), rule)
            self.disagreements.set_hidden(None)
        self._update_disagreements()

    def _update_disagreements(self) -> None:
        if self._scores is None or self.model_hidden():
            self.disagreements.set_items([])
            return
        frames, probs = self._scores
        lookup = dict(zip(frames.tolist(), probs.tolist(), strict=True))
        rows = [(f, v, lookup[f]) for f, v in sorted(self._labels.items()) if f in lookup]
        self.disagreements.set_items(rows)

    def model_caption(self, index: int) -> str:
        """`` · model: 0.62 (above threshold 0.48)`` for a shown frame, else nothing."""
        if self._scores is None or self.model_hidden():
            return ""
        p = self.strip.probability_at(index)
        if p is None:
            return ""
        t, _ = self.threshold()
        return f" · model: {p:.2f} ({'above' if p >= t else 'below'} threshold {t:.2f})"

    def _on_review_toggled(self) -> None:
        self._show_model()
        self.show_frame(self.frame)
        if self.review_test.isChecked() and self.study is not None and \
                self.study.split == "test":
            self.message.emit("reviewing test labels: the model's opinion is shown; edits "
                              "made after an evaluation are flagged on it")

    # ------------------------------------------------------------------ test-label edits
    def _load_eval_baseline(self) -> None:
        """Find the newest evaluation and the test labels edited since, with their values
        at that time (the baseline a current label is compared with)."""
        self._eval, self._eval_baseline = None, {}
        best = None
        for run in self.project.runs():
            settings = (run.metrics or {}).get("test_settings")
            if not self.owns_task(run.task) or not isinstance(settings, dict):
                continue
            when = _time(settings.get("time") or run.finished)
            if when is not None and (best is None or when >= best[1]):
                best = (run.id, when, {int(s) for s in settings.get("studies") or []})
        if best is None:
            self._update_test_warning()
            return
        self._eval = best
        _, when, studies = best
        for sid in studies:
            at_eval: dict[int, str | None] = {}
            after: set[int] = set()
            for e in self.project.annotation_history(sid, kind="frame_label"):
                t = _time(e.time)
                if e.source != "expert" or t is None or e.frame is None:
                    continue
                if t <= when:
                    at_eval[e.frame] = None if e.action == "delete" else e.value
                else:
                    after.add(e.frame)
            self._eval_baseline.update({(sid, f): at_eval.get(f) for f in after})
        self._update_test_warning()

    def _note_test_edit(self, study_id: int, before: dict[int, str | None]) -> None:
        """Remember the evaluated value of test frames about to change for the first time."""
        if self._eval is not None and study_id in self._eval[2]:
            for f, v in before.items():
                self._eval_baseline.setdefault((study_id, f), v)

    def changed_test_labels(self) -> int:
        """How many test labels differ from what the newest evaluation scored against."""
        return sum(1 for (sid, f), v in self._eval_baseline.items()
                   if self._all_labels.get(sid, {}).get(f) != v)

    def _update_test_warning(self) -> None:
        n = self.changed_test_labels() if self._eval is not None else 0
        if n and self._eval is not None:
            run_id, when, _ = self._eval
            noun = "test label" if n == 1 else "test labels"
            text = (f"⚠ {n} {noun} changed since run {run_id}'s evaluation "
                    f"({when:%Y-%m-%d %H:%M}): its test result was computed on the old "
                    "labels; evaluate again before reporting it.")
            if not self._warned:  # once when the first test label changes
                self.message.emit(text)
            self.test_warning.setText(text)
        self._warned = n
        self.test_warning.setVisible(bool(n))
