"""Fast labelling in the Frame-quality workspace: labels, ranges, the next unlabelled frame,
sampled labelling (one frame every N seconds) and the project's progress.

:class:`LabellingMixin` is mixed into
:class:`~app.workspaces.frame_quality.workspace.FrameQualityWorkspace`; it keeps a cache
of every study's labels (``self._all_labels``, study id → {frame: value}) that is the
database's content, re-read after each edit.
"""

from __future__ import annotations

import numpy as np

from core.tasks.frame_quality import CLASS_NAMES

INFORMATIVE, NON_INFORMATIVE = CLASS_NAMES[1], CLASS_NAMES[0]

DEFAULT_FPS = 25.0
"""Frame rate assumed for sampled labelling when a study records none."""


def patient_text(study) -> str:
    """`` · patient KEY`` when the study has a patient of its own, else nothing."""
    return "" if study.subject.startswith("study:") else f" · patient {study.subject}"


class LabellingMixin:
    """Label edits, range marks, navigation by samples, progress (see module docstring)."""

    # ------------------------------------------------------------------ label cache
    def _load_all_labels(self) -> None:
        self._all_labels: dict[int, dict[int, str]] = {s.id: {} for s in self._studies}
        for lab in self.project.labels():
            if lab.study_id in self._all_labels:
                self._all_labels[lab.study_id][lab.frame] = lab.value
        if self.study is not None:
            self._labels = self._all_labels.setdefault(self.study.id, {})

    def _refresh_labels(self, study_id: int) -> None:
        """Re-read one study's labels after an edit, and redraw what shows them."""
        cache = self._all_labels.setdefault(study_id, {})
        cache.clear()
        cache.update({lab.frame: lab.value for lab in self.project.labels(study_id)})
        if self.study is not None and study_id == self.study.id:
            self.strip.set_labels(dict(cache))
            self._update_disagreements()
        self._update_study_row(study_id)
        self._update_progress()

    def _labels_edited(self, study_id: int, before: dict[int, str | None]) -> None:
        """After an edit of the frames in ``before`` (their values before it)."""
        self._note_test_edit(study_id, before)
        self._refresh_labels(study_id)
        self._update_test_warning()
        for frame in before:
            self.labels_changed.emit(study_id, frame)

    # ------------------------------------------------------------------ sampling
    def sample_seconds(self) -> float | None:
        """The sampling interval in seconds while sampled labelling is on, else None."""
        return float(self.sample_s.value()) if self.sampled.isChecked() else None

    def sampled_frames(self, study) -> np.ndarray | None:
        """The frames of ``study`` that sampled labelling visits (sorted), or None (all).

        One frame every :meth:`sample_seconds` s: the frames nearest the times 0, s, 2s…
        (:func:`core.train.sampling.interval_sample`, as training's sampling option).
        """
        seconds = self.sample_seconds()
        if seconds is None:
            return None
        from core.train.sampling import interval_sample

        fps = study.fps if study.fps and study.fps > 0 else DEFAULT_FPS
        key = (study.id, study.n_frames, seconds, fps)
        if self._sample_cache.get("key") != key:
            frames = np.arange(study.n_frames, dtype=np.int64)
            step = max(seconds * fps, 1.0)
            self._sample_cache = {"key": key, "frames": frames[interval_sample(frames, step)]}
        return self._sample_cache["frames"]

    def _on_sampling_changed(self) -> None:
        seconds = self.sample_seconds()
        self.sample_s.setEnabled(True)
        if self.study is not None:
            frames = self.sampled_frames(self.study)
            step = 0 if frames is None or len(frames) < 2 else int(frames[1] - frames[0])
            self.strip.set_sample_step(step)
            if seconds is not None and self.study.fps <= 0:
                self.message.emit(f"{self.study.name} records no frame rate: sampling "
                                  f"assumes {DEFAULT_FPS:g} frames per second")
        self.legend.set_marks(range_shown=self._range() is not None, sample_seconds=seconds)
        self.settings_changed()
        self._update_progress()

    def _snap(self, index: int) -> int:
        """The sampled frame nearest ``index`` (``index`` itself when not sampling)."""
        frames = None if self.study is None else self.sampled_frames(self.study)
        if frames is None or not len(frames):
            return index
        i = int(np.clip(np.searchsorted(frames, index), 1, len(frames) - 1))
        a, b = int(frames[i - 1]), int(frames[i])
        return a if index - a <= b - index else b

    def step(self, delta: int) -> None:
        """Move ``delta`` frames, or ``delta`` sampled frames in sampled labelling."""
        frames = None if self.study is None else self.sampled_frames(self.study)
        if frames is None or not len(frames):
            self.show_frame(self.frame + delta)
            return
        if delta > 0:
            i = np.searchsorted(frames, self.frame, "right") + delta - 1
        else:
            i = np.searchsorted(frames, self.frame, "left") + delta
        self.show_frame(int(frames[int(np.clip(i, 0, len(frames) - 1))]))

    def _next_frame(self) -> int | None:
        """The frame after the current one (sampled, in sampled labelling); None at the
        end of the video."""
        frames = None if self.study is None else self.sampled_frames(self.study)
        if frames is None:
            return self.frame + 1 if self.frame < self.n_frames - 1 else None
        i = int(np.searchsorted(frames, self.frame, "right"))
        return int(frames[i]) if i < len(frames) else None

    # ------------------------------------------------------------------ labels
    def set_label(self, value: str | None) -> None:
        """Label the current frame (or the marked range) ``value``; None clears it.

        With *advance after labelling*, move to the next (sampled) frame; at the end of
        the video stay there and say so, so that a repeated key cannot silently relabel
        the last frame.
        """
        if self.study is None or self.source is None:
            return
        if self._range() is not None:
            self.label_range(value)
            return
        sid, f = self.study.id, self.frame
        old = self._labels.get(f)
        if value is None:
            self.history.clear(sid, f)
        else:
            self.history.set(sid, f, value)
        self.undo_state_changed.emit()
        self._labels_edited(sid, {f: old})
        if old is not None and value is not None and old != value:
            self.message.emit(f"frame {f}: {old} → {value}")
        nxt = self._next_frame() if value is not None and self.advance.isChecked() else None
        if value is not None and self.advance.isChecked() and nxt is None:
            self.show_frame(f)
            self._say(f"last frame of {self.study.name} ({f}) labelled {value}: press U for "
                      "the next unlabelled frame")
        else:
            self.show_frame(f if nxt is None else nxt)

    # ------------------------------------------------------------------ ranges
    def _range(self) -> tuple[int, int] | None:
        a, b = self._marks
        return None if a is None or b is None else (min(a, b), max(a, b))

    def mark_start(self) -> None:
        """``[``: the range starts at the current frame."""
        self._set_marks(self.frame, self._marks[1])

    def mark_end(self) -> None:
        """``]``: the range ends at the current frame."""
        self._set_marks(self._marks[0], self.frame)

    def range_to(self, frame: int) -> None:
        """Shift+click on the strip: a range from the start mark (else the current frame)
        to ``frame``."""
        anchor = self._marks[0] if self._marks[0] is not None else self.frame
        self._set_marks(anchor, frame)
        self.show_frame(frame)

    def clear_marks(self) -> None:
        self._set_marks(None, None, quiet=True)

    def _set_marks(self, start: int | None, end: int | None, *, quiet: bool = False) -> None:
        self._marks = [start, end]
        rng = self._range()
        self.strip.set_range(*(rng or (None, None)))
        self.legend.set_marks(range_shown=rng is not None, sample_seconds=self.sample_seconds())
        if quiet:
            return
        if rng is None:
            where = "start" if start is not None else "end"
            other = "]" if start is not None else "["
            self._say(f"range {where} at frame {start if start is not None else end}: go to "
                      f"the other end and press {other}")
        else:
            n = len(self._range_frames(rng))
            self._say(f"range {rng[0]}–{rng[1]} marked ({n} frames): I or N labels it, Del "
                      "clears it, X forgets the marks")

    def _range_frames(self, rng: tuple[int, int]) -> list[int]:
        frames = self.sampled_frames(self.study)
        if frames is None:
            return list(range(rng[0], rng[1] + 1))
        return [int(f) for f in frames if rng[0] <= f <= rng[1]]

    def label_range(self, value: str | None) -> None:
        """Label (None: clear) every frame of the marked range, as one undo step."""
        rng = self._range()
        if rng is None or self.study is None:
            return
        sid, frames = self.study.id, self._range_frames(rng)
        before = {f: self._labels.get(f) for f in frames}
        self.history.set_range(sid, frames, value)
        self.undo_state_changed.emit()
        self.clear_marks()
        self._labels_edited(sid, before)
        changed = sum(1 for v in before.values() if v is not None and v != value)
        what = f"labelled {value}" if value is not None else "cleared"
        text = f"frames {rng[0]}–{rng[1]}: {len(frames)} {what}"
        if value is not None and changed:
            text += f", {changed} of them changed from another label"
        self.show_frame(self.frame)
        self._say(text + " (Ctrl+Z undoes the whole range)")

    # ------------------------------------------------------------------ next unlabelled
    def _study_order(self) -> list:
        """Where U looks after the current video: the other training videos (list order,
        from the current one on), then the test videos."""
        ids = [s.id for s in self._studies]
        i = ids.index(self.study.id) if self.study is not None and self.study.id in ids else 0
        ring = self._studies[i + 1:] + self._studies[:i]
        return [s for s in ring if s.split != "test"] + [s for s in ring if s.split == "test"]

    def _first_unlabelled(self, study, lo: int, hi: int) -> int | None:
        labels = self._all_labels.get(study.id, {})
        frames = self.sampled_frames(study)
        candidates = range(lo, hi) if frames is None else (
            int(f) for f in frames[np.searchsorted(frames, lo):np.searchsorted(frames, hi)])
        return next((f for f in candidates if f not in labels), None)

    def next_unlabelled(self) -> None:
        """U: the next unlabelled (sampled) frame: on in this video, then in the other
        training videos, then the test videos, then this video from its start."""
        if self.study is None:
            return
        here = self.study
        search = [(here, self.frame + 1, here.n_frames)]
        search += [(s, 0, s.n_frames) for s in self._study_order()]
        search.append((here, 0, self.frame + 1))
        for study, lo, hi in search:
            f = self._first_unlabelled(study, lo, hi)
            if f is None:
                continue
            if study.id != here.id:
                self.select_study(study.id)
                self.show_frame(f)
                self._say(f"next unlabelled frame: {study.name} [{study.split}], frame {f}")
            else:
                self.show_frame(f)
                if f <= self.frame and lo == 0:
                    self._say(f"wrapped round: frame {f} of {study.name} is unlabelled")
            return
        what = "sampled frames" if self.sample_seconds() else "frames"
        self._say(f"all {what} labelled in every video of the project")

    # ------------------------------------------------------------------ undo
    def _after_history(self, where: tuple[int, int] | None, what: str) -> None:
        if not where:
            return
        self.undo_state_changed.emit()
        study_id, frame = where
        if self.study is None or study_id != self.study.id:
            self.select_study(study_id)
        before = {f: v for f, v in self._all_labels.get(study_id, {}).items()}
        self._labels_edited(study_id, {})
        after = self._all_labels.get(study_id, {})
        changed = {f for f in set(before) | set(after) if before.get(f) != after.get(f)}
        self._note_test_edit(study_id, {f: before.get(f) for f in changed})
        self._update_test_warning()
        self.show_frame(frame)
        if len(changed) > 1:
            self._say(f"{what}: {len(changed)} labels of {self.study.name}")

    # ------------------------------------------------------------------ progress
    def _study_text(self, study) -> str:
        n = len(self._all_labels.get(study.id, {}))
        return (f"{study.name}  [{study.split}]{patient_text(study)}\n{study.n_frames} frames"
                f" · {n} labelled")

    def _update_study_row(self, study_id: int) -> None:
        study = next((s for s in self._studies if s.id == study_id), None)
        if study is not None:
            self.study_list.set_text(study_id, self._study_text(study))

    def progress_counts(self) -> dict[str, int]:
        """``{"labelled", "total", <class name>...}`` over every video of the project
        (over the sampled frames only, in sampled labelling)."""
        out = {"labelled": 0, "total": 0, **{c: 0 for c in CLASS_NAMES}}
        for s in self._studies:
            labels = self._all_labels.get(s.id, {})
            frames = self.sampled_frames(s)
            if frames is None:
                out["total"] += s.n_frames
                values = labels.values()
            else:
                out["total"] += len(frames)
                values = [labels[f] for f in frames.tolist() if f in labels]
            for v in values:
                out["labelled"] += 1
                out[v] = out.get(v, 0) + 1
        return out

    def _update_progress(self) -> None:
        c = self.progress_counts()
        pct = 100 * c["labelled"] / c["total"] if c["total"] else 0.0
        what = "sampled frames" if self.sample_seconds() else "frames"
        classes = " · ".join(f"{name} {c[name]}" for name in reversed(CLASS_NAMES))
        self.progress.setText(f"Project: {c['labelled']} / {c['total']} {what} labelled "
                              f"({pct:.0f}%) · {classes}")
