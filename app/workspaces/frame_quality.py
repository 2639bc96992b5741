"""The Frame-quality workspace: scrub a colonoscopy video, label frames, train, correct.

Left: the project's videos. Centre: the frame, the scrubber, the per-frame probability
strip and the label buttons. Right: the training panel and the list of frames where
the model and the expert disagree. Every label is written to the project database the
moment it is entered.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.store.history import LabelHistory
from core.tasks.frame_quality import CLASS_NAMES, FrameTaskConfig

from ..widgets.disagreement_list import DisagreementListWidget
from ..widgets.frame_viewer import FrameViewerWidget
from ..widgets.probability_strip import ProbabilityStripWidget
from ..widgets.study_list import StudyListWidget
from ..widgets.training_panel import TrainingPanelWidget
from .base import MenuAction, Workspace
from .label_files import export_labels_dialog, import_labels_dialog
from .registry import register_workspace

INFORMATIVE, NON_INFORMATIVE = CLASS_NAMES[1], CLASS_NAMES[0]

SHORTCUTS: list[tuple[str, str]] = [
    ("I", "label frame informative"),
    ("N", "label frame non-informative"),
    ("Backspace / Del", "clear the frame's label"),
    ("→ / ←", "next / previous frame"),
    ("Shift+→ / Shift+←", "10 frames forward / back"),
    ("PgDn / PgUp", "100 frames forward / back"),
    ("Home / End", "first / last frame"),
    ("U", "next unlabelled frame"),
    ("D", "next disagreement (model vs label)"),
    ("Ctrl+Z / Ctrl+Shift+Z", "undo / redo a label"),
    ("Ctrl+T", "start training"),
    ("Esc", "cancel training"),
    ("F1 or ?", "show / hide this help"),
]


@register_workspace
class FrameQualityWorkspace(Workspace):
    """Labelling + training for informative / non-informative frames."""

    task_name = "frame_quality"
    title = "Frame quality"
    shortcuts = SHORTCUTS
    undo_noun = "label"

    labels_changed = Signal(int, int)  # study id, frame
    frame_changed = Signal(int)

    def __init__(self, project, parent: QWidget | None = None) -> None:
        super().__init__(project, parent)
        self.history = LabelHistory(project)
        self.source = None
        self.study = None
        self.frame = 0
        self._labels: dict[int, str] = {}
        self._scores: tuple[np.ndarray, np.ndarray] | None = None
        self._pending_frame: int | None = None

        # left: studies
        self.study_list = StudyListWidget()
        self.study_list.setToolTip("Videos in this project (train / test split in brackets)")
        self.study_list.currentRowChanged.connect(self._on_study_row)
        self.study_list.setMaximumWidth(240)
        self.study_list.split_requested.connect(self.set_split)
        self.study_list.subject_requested.connect(self.ask_subject)

        # centre: viewer + scrubber + strip + label buttons
        self.viewer = FrameViewerWidget()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Scrub through the video (← → step one frame)")
        self.slider.valueChanged.connect(self._request_frame)
        self.frame_box = QSpinBox()
        self.frame_box.setToolTip("Frame number (exactly the frame used for training)")
        self.frame_box.editingFinished.connect(lambda: self.show_frame(self.frame_box.value()))
        self.strip = ProbabilityStripWidget()
        self.strip.setToolTip("Model probability that each frame is informative (red 0 → "
                              "green 1); ticks are your labels. Click to jump.")
        self.strip.frame_requested.connect(self.show_frame)
        self.btn_inf = QPushButton("Informative (I)")
        self.btn_inf.setToolTip("Label this frame informative (key I)")
        self.btn_non = QPushButton("Non-informative (N)")
        self.btn_non.setToolTip("Label this frame non-informative (key N)")
        self.btn_clear = QPushButton("Clear (Del)")
        self.btn_clear.setToolTip("Remove this frame's label (Backspace / Delete)")
        self.btn_inf.clicked.connect(lambda: self.set_label(INFORMATIVE))
        self.btn_non.clicked.connect(lambda: self.set_label(NON_INFORMATIVE))
        self.btn_clear.clicked.connect(lambda: self.set_label(None))
        self.advance = QCheckBox("advance after labelling")
        self.advance.setChecked(True)
        self.advance.setToolTip("Move to the next frame after each label")
        self.info = QLabel("")
        for w in (self.btn_inf, self.btn_non, self.btn_clear, self.advance, self.slider,
                  self.frame_box):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        scrub = QHBoxLayout()
        scrub.addWidget(self.slider, 1)
        scrub.addWidget(self.frame_box)
        buttons = QHBoxLayout()
        for w in (self.btn_inf, self.btn_non, self.btn_clear, self.advance):
            buttons.addWidget(w)
        buttons.addStretch(1)
        buttons.addWidget(self.info)
        centre = QWidget()
        cl = QVBoxLayout(centre)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.viewer, 1)
        cl.addLayout(scrub)
        cl.addWidget(self.strip)
        cl.addLayout(buttons)

        # right: training + disagreements
        self.training = TrainingPanelWidget()
        self.disagreements = DisagreementListWidget()
        self.disagreements.frame_requested.connect(self.show_frame)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.training)
        right.addWidget(self.disagreements)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 1)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.study_list)
        split.addWidget(centre)
        split.addWidget(right)
        split.setStretchFactor(1, 3)
        split.setStretchFactor(2, 2)
        lay = QVBoxLayout(self)
        lay.addWidget(split)
        self._install_shortcuts()
        self._render_timer = QTimer(self, singleShot=True, interval=0)
        self._render_timer.timeout.connect(self._render_pending)
        self.reload_studies()

    # ------------------------------------------------------------------ shortcuts
    def _install_shortcuts(self) -> None:
        sc = self.add_shortcut
        sc("I", lambda: self.set_label(INFORMATIVE))
        sc("N", lambda: self.set_label(NON_INFORMATIVE))
        sc("Backspace", lambda: self.set_label(None))
        sc("Delete", lambda: self.set_label(None))
        sc("Right", lambda: self.step(1))
        sc("Left", lambda: self.step(-1))
        sc("Shift+Right", lambda: self.step(10))
        sc("Shift+Left", lambda: self.step(-10))
        sc("PgDown", lambda: self.step(100))
        sc("PgUp", lambda: self.step(-100))
        sc("Home", lambda: self.show_frame(0))
        sc("End", lambda: self.show_frame(self.n_frames - 1))
        sc("U", self.next_unlabelled)
        sc("D", lambda: self.disagreements.activate_next(1))

    # ------------------------------------------------------------------ studies
    @property
    def n_frames(self) -> int:
        return self.study.n_frames if self.study else 0

    def reload_studies(self) -> None:
        keep = self.study.id if self.study else None
        rows = [(s.id, f"{s.name}  [{s.split}]{_patient(s)}\n{s.n_frames} frames · "
                 f"{len(self.project.labels(s.id))} labelled", s.split)
                for s in self.project.studies() if self.owns_task(s.task)]
        row = self.study_list.set_studies(rows, keep)
        if row is not None:
            self.study_list.setCurrentRow(row)
            if keep is None or self.study is None:
                self._on_study_row(row)

    def reload(self) -> None:
        self.reload_studies()

    def set_split(self, study_id: int, split: str) -> None:
        """Move a video, with every video of its patient, to the training or test set."""
        self.project.set_split(study_id, split)
        subject = self.project.study(study_id).subject_id
        n = len(self.project.studies(subject_id=subject))
        if n > 1:
            self.message.emit(f"moved the patient's {n} videos to the {split} set")
        if self.study is not None and self.study.id == study_id:
            self.study = self.project.study(study_id)
        self.reload_studies()

    def _on_study_row(self, row: int) -> None:
        if row < 0:
            return
        self.open_study(self.study_list.study_id(row))

    def open_study(self, study_id: int) -> None:
        from core.io.importer import open_study
        from core.io.video import VideoError

        study = self.project.study(study_id)
        if self.source is not None:
            self.source.close()
            self.source = None
        try:
            self.source = open_study(self.project, study)
        except (VideoError, OSError) as exc:
            self.study = study
            self.viewer.clear()
            self.info.setText(f"cannot open {study.name}: {exc}")
            return
        self.study = study
        self._labels = {lab.frame: lab.value for lab in self.project.labels(study.id)}
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(study.n_frames - 1, 0))
        self.slider.blockSignals(False)
        self.frame_box.setRange(0, max(study.n_frames - 1, 0))
        self.strip.set_n_frames(study.n_frames)
        self.strip.set_labels(dict(self._labels))
        self._load_latest_scores()
        self.show_frame(0)

    def _load_latest_scores(self) -> None:
        self._scores = None
        self.strip.clear_scores()
        for run in reversed(self.project.runs()):
            frames, probs = self.project.scores(run.id, self.study.id)
            if len(frames):
                self.set_scores(frames, probs)
                return
        self.disagreements.set_items([])

    # ------------------------------------------------------------------ frames
    def _request_frame(self, index: int) -> None:
        # coalesce slider drags: only the newest requested frame is decoded
        self._pending_frame = index
        self._render_timer.start()

    def _render_pending(self) -> None:
        if self._pending_frame is not None:
            f, self._pending_frame = self._pending_frame, None
            self.show_frame(f)

    def show_frame(self, index: int) -> None:
        if self.source is None or not self.n_frames:
            return
        index = int(min(max(index, 0), self.n_frames - 1))
        from core.io.video import VideoError

        try:
            img = self.source.read(index)
        except VideoError as exc:
            self.info.setText(str(exc))
            return
        self.frame = index
        label = self._labels.get(index)
        p = self.strip.probability_at(index)
        cap = f"frame {index} / {self.n_frames - 1}"
        cap += f" · label: {label}" if label else " · unlabelled"
        if p is not None:
            cap += f" · model: {p:.2f}"
        self.viewer.set_frame(img, cap)
        for w, v in ((self.slider, index), (self.frame_box, index)):
            w.blockSignals(True)
            w.setValue(v)
            w.blockSignals(False)
        self.strip.set_current(index)
        self.info.setText(f"{len(self._labels)} labelled in this video")
        self.frame_changed.emit(index)

    def step(self, delta: int) -> None:
        self.show_frame(self.frame + delta)

    def next_unlabelled(self) -> None:
        for f in range(self.frame + 1, self.n_frames):
            if f not in self._labels:
                self.show_frame(f)
                return

    # ------------------------------------------------------------------ labels
    def set_label(self, value: str | None) -> None:
        if self.study is None or self.source is None:
            return
        if value is None:
            self.history.clear(self.study.id, self.frame)
        else:
            self.history.set(self.study.id, self.frame, value)
        self.undo_state_changed.emit()
        self._apply_label(self.study.id, self.frame)
        if value is not None and self.advance.isChecked() and self.frame < self.n_frames - 1:
            self.step(1)
        else:
            self.show_frame(self.frame)

    def _apply_label(self, study_id: int, frame: int) -> None:
        lab = self.project.label(study_id, frame)
        if self.study is not None and study_id == self.study.id:
            if lab is None:
                self._labels.pop(frame, None)
            else:
                self._labels[frame] = lab.value
            self.strip.set_label(frame, None if lab is None else lab.value)
            self._update_disagreements()
        self.labels_changed.emit(study_id, frame)

    def undo(self) -> None:
        self._after_history(self.history.undo())

    def redo(self) -> None:
        self._after_history(self.history.redo())

    def can_undo(self) -> bool:
        return self.history.can_undo

    def can_redo(self) -> bool:
        return self.history.can_redo

    def _after_history(self, where: tuple[int, int] | None) -> None:
        if not where:
            return
        self.undo_state_changed.emit()
        study_id, frame = where
        if self.study is None or study_id != self.study.id:
            self.open_study(study_id)
        self._apply_label(study_id, frame)
        self.show_frame(frame)

    # ------------------------------------------------------------------ model output
    def set_scores(self, frames, probs) -> None:
        frames = np.asarray(frames, dtype=np.int64)
        probs = np.asarray(probs, dtype=np.float64)
        ok = frames < self.n_frames
        self._scores = (frames[ok], probs[ok])
        self.strip.set_scores(frames[ok], probs[ok])
        self._update_disagreements()
        self.show_frame(self.frame)

    def _update_disagreements(self) -> None:
        if self._scores is None:
            self.disagreements.set_items([])
            return
        frames, probs = self._scores
        lookup = dict(zip(frames.tolist(), probs.tolist()))
        rows = [(f, v, lookup[f]) for f, v in sorted(self._labels.items()) if f in lookup]
        self.disagreements.set_items(rows)

    def close_sources(self) -> None:
        if self.source is not None:
            self.source.close()
            self.source = None

    # ------------------------------------------------------------------ protocol
    def task_options(self) -> dict:
        n = self.training.crops.value()
        return {"config": FrameTaskConfig(crops_per_frame=n, test_crops=max(n, 8))}

    def preview_study_id(self) -> int | None:
        return self.study.id if self.study is not None else None

    def show_prediction(self, prediction) -> None:
        """Draw a :class:`core.events.Scored` of the open video on the probability strip.

        The strip shows the probability of the positive class (informative).
        """
        self.set_scores(prediction.items, prediction.positive_probs)

    def result_view(self) -> QWidget:
        return self.training.roc

    def result_summary(self, result) -> str:
        ops = ", ".join(f"{op.tpr:.2f} at {op.fpr:.0%} FPR" for op in result.operating_points)
        return (f"<b>Test AUC {result.auc:.3f}</b> (95% CI {result.auc_ci[0]:.3f}–"
                f"{result.auc_ci[1]:.3f}, DeLong) on {result.n_pos + result.n_neg} frames<br>"
                f"sensitivity: {ops}")

    # ------------------------------------------------------------------ files
    def import_actions(self) -> list[MenuAction]:
        return [MenuAction("Import &video or frame folder…", self.request_study_import,
                           "Ctrl+I", "Add a colonoscopy video or a folder of frames to the "
                           "project"),
                MenuAction("Import labels (CSV)…", self.import_labels)]

    def export_actions(self) -> list[MenuAction]:
        return [MenuAction("Export labels (CSV)…", self.export_labels)]

    def choose_study_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import video", "", "Videos (*.mp4 *.avi *.mov *.mkv *.mpg *.wmv);;"
            "All files (*)")
        if not path:
            path = QFileDialog.getExistingDirectory(self, "…or a folder of frames")
        return path or None

    def import_labels(self) -> None:
        n = import_labels_dialog(self, self.project)
        if n is not None:
            self.message.emit(f"{n} labels imported")
            self.reload_studies()
            if self.study is not None:
                self.open_study(self.study.id)

    def export_labels(self) -> None:
        done = export_labels_dialog(self, self.project)
        if done:
            self.message.emit(done)


def _patient(study) -> str:
    """`` · patient KEY`` when the study has a patient of its own, else nothing."""
    return "" if study.subject.startswith("study:") else f" · patient {study.subject}"
