"""The Frame-quality workspace: scrub a colonoscopy video, label frames, train, correct.

Left: the project's videos. Centre: the frame, the scrubber, the per-frame probability
strip with its legend, the label buttons, the labelling mode and the project's progress.
Right: the training panel and the list of frames where the model and the expert
disagree. Every label is written to the project database the moment it is entered.
Labelling (ranges, the next unlabelled frame, sampled labelling, progress) lives in
:mod:`.labelling`; the model's opinion and the test-set protection in :mod:`.model_view`.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.store.history import LabelHistory
from core.tasks.frame_quality import FrameTaskConfig

from ...widgets.disagreement_list import DisagreementListWidget
from ...widgets.frame_viewer import FrameViewerWidget
from ...widgets.probability_strip import ProbabilityStripWidget
from ...widgets.strip_legend import StripLegendWidget
from ...widgets.study_list import StudyListWidget
from ...widgets.training_panel import TrainingPanelWidget
from ..base import MenuAction, Workspace
from ..label_files import export_labels_dialog, import_labels_dialog
from ..registry import register_workspace
from .keys import SHORTCUTS, install_shortcuts
from .labelling import INFORMATIVE, NON_INFORMATIVE, LabellingMixin
from .model_view import ModelViewMixin


@register_workspace
class FrameQualityWorkspace(LabellingMixin, ModelViewMixin, Workspace):
    """Labelling + training for informative / non-informative frames."""

    task_name = "frame_quality"
    title = "Frame quality"
    shortcuts = SHORTCUTS
    undo_noun = "label"
    study_noun = "videos"
    tab_order = 0

    labels_changed = Signal(int, int)  # study id, frame
    frame_changed = Signal(int)

    def __init__(self, project, parent: QWidget | None = None) -> None:
        super().__init__(project, parent)
        self.history = LabelHistory(project)
        self.source = None
        self.study = None
        self.frame = 0
        self._studies: list = []
        self._all_labels: dict[int, dict[int, str]] = {}
        self._labels: dict[int, str] = {}
        self._marks: list[int | None] = [None, None]
        self._sample_cache: dict = {}
        self._scores = None
        self._score_run = None
        self._eval = None
        self._eval_baseline: dict[tuple[int, int], str | None] = {}
        self._warned = 0
        self._pending_frame: int | None = None

        # left: studies
        self.study_list = StudyListWidget()
        self.study_list.setToolTip("Videos in this project (train / test split in brackets)")
        self.study_list.currentRowChanged.connect(self._on_study_row)
        self.study_list.setMinimumWidth(170)
        self.study_list.setMaximumWidth(260)
        self.study_list.split_requested.connect(self.set_split)
        self.study_list.subject_requested.connect(self.ask_subject)

        # centre: viewer + scrubber + strip + legend + label buttons + mode + progress
        self.viewer = FrameViewerWidget()
        self.test_warning = QLabel()
        self.test_warning.setWordWrap(True)
        self.test_warning.setStyleSheet("QLabel { color: #a04000; font-weight: bold; }")
        self.test_warning.hide()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Scrub through the video (← → step one frame, or one sample "
                               "in sampled labelling)")
        self.slider.valueChanged.connect(self._request_frame)
        self.frame_box = QSpinBox()
        self.frame_box.setToolTip("Frame number (exactly the frame used for training); type "
                                  "a number and press Enter")
        self.frame_box.editingFinished.connect(self._on_frame_box)
        self.strip = ProbabilityStripWidget()
        self.strip.setToolTip("Model output per frame (see the legend below); ticks are "
                              "your labels. Click to jump, Shift+click to mark a range.")
        self.strip.frame_requested.connect(self.show_frame)
        self.strip.range_requested.connect(self.range_to)
        self.legend = StripLegendWidget()
        self.btn_inf = QPushButton("Informative (I)")
        self.btn_inf.setToolTip("Label this frame (or the marked range) informative (key I)")
        self.btn_non = QPushButton("Non-informative (N)")
        self.btn_non.setToolTip("Label this frame (or the marked range) non-informative "
                                "(key N)")
        self.btn_clear = QPushButton("Clear (Del)")
        self.btn_clear.setToolTip("Remove this frame's (or the range's) labels "
                                  "(Backspace / Delete)")
        self.btn_inf.clicked.connect(lambda: self.set_label(INFORMATIVE))
        self.btn_non.clicked.connect(lambda: self.set_label(NON_INFORMATIVE))
        self.btn_clear.clicked.connect(lambda: self.set_label(None))
        self.advance = QCheckBox("advance after labelling")
        self.advance.setChecked(True)
        self.advance.setToolTip("Move to the next frame after each label")
        self.review_test = QCheckBox("review test labels")
        self.review_test.setToolTip(
            "Show the model's opinion on test videos. Off while labelling, so that test "
            "labels are not corrected toward the model (that would inflate its test AUC).")
        self.review_test.toggled.connect(self._on_review_toggled)
        settings = QSettings()
        self.sampled = QCheckBox("sampled labelling: one frame every")
        self.sampled.setToolTip("The paper labels one frame every 5 s: the scrubber, ← →, U "
                                "and advance step from sampled frame to sampled frame "
                                "(notches on the strip).")
        self.sampled.setChecked(settings.value("frame_quality/sampled", False, type=bool))
        self.sample_s = QDoubleSpinBox()
        self.sample_s.setRange(0.1, 600.0)
        self.sample_s.setDecimals(1)
        self.sample_s.setSuffix(" s")
        self.sample_s.setValue(settings.value("frame_quality/sample_seconds", 5.0, type=float))
        self.sample_s.setToolTip("Sampling interval in seconds (converted to frames with "
                                 "each video's frame rate)")
        self.sampled.toggled.connect(self._on_sampling_changed)
        self.sample_s.valueChanged.connect(self._on_sampling_changed)
        self.progress = QLabel()
        self.progress.setToolTip("Labels over every video of the project")
        self.info = QLabel("")
        for w in (self.btn_inf, self.btn_non, self.btn_clear, self.advance, self.slider,
                  self.review_test, self.sampled):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        scrub = QHBoxLayout()
        scrub.addWidget(self.slider, 1)
        scrub.addWidget(self.frame_box)
        buttons = QHBoxLayout()
        for w in (self.btn_inf, self.btn_non, self.btn_clear, self.advance, self.review_test):
            buttons.addWidget(w)
        buttons.addStretch(1)
        mode = QHBoxLayout()
        mode.addWidget(self.sampled)
        mode.addWidget(self.sample_s)
        mode.addStretch(1)
        centre = QWidget()
        cl = QVBoxLayout(centre)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.test_warning)
        cl.addWidget(self.viewer, 1)
        cl.addLayout(scrub)
        cl.addWidget(self.strip)
        cl.addWidget(self.legend)
        cl.addLayout(buttons)
        cl.addLayout(mode)
        cl.addWidget(self.progress)
        cl.addWidget(self.info)

        # right: training + disagreements
        self.training = TrainingPanelWidget()
        self.disagreements = DisagreementListWidget()
        self.disagreements.frame_requested.connect(self.show_frame)
        self.lay_out(centre, self.disagreements)
        install_shortcuts(self)
        self._render_timer = QTimer(self, singleShot=True, interval=0)
        self._render_timer.timeout.connect(self._render_pending)
        self.reload_studies()
        self._load_eval_baseline()

    def focus_home(self) -> QWidget:
        return self.viewer

    def clear_marks_said(self) -> None:
        self.clear_marks()
        self._say("range marks forgotten")

    def settings_changed(self) -> None:
        """Keep the labelling mode for the next session."""
        settings = QSettings()
        settings.setValue("frame_quality/sampled", self.sampled.isChecked())
        settings.setValue("frame_quality/sample_seconds", float(self.sample_s.value()))

    # ------------------------------------------------------------------ studies
    def reload_studies(self) -> None:
        keep = self.study.id if self.study else None
        self._studies = [s for s in self.project.studies() if self.owns_task(s.task)]
        self._load_all_labels()
        rows = [(s.id, self._study_text(s), s.split) for s in self._studies]
        self._update_progress()
        self.show_study_rows(rows, keep)

    def reload(self) -> None:
        """Re-read the project: studies, labels, the newest model output, evaluations."""
        keep = self.study.id if self.study else None
        self.reload_studies()
        if self.study is not None and self.study.id == keep and self.source is not None:
            self.study = self.project.study(keep)
            self._labels = self._all_labels.setdefault(keep, {})
            self.strip.set_labels(dict(self._labels))
            shown = self._score_run.id if self._score_run is not None else None
            self._load_latest_scores(prefer=shown)  # a past run shown again stays shown
        self._load_eval_baseline()

    def set_split(self, study_id: int, split: str) -> None:
        if self.study is not None and self.study.id == study_id:
            self.study = self.project.study(study_id)
        super().set_split(study_id, split)
        if self.study is not None:
            self.study = self.project.study(self.study.id)
            self._show_model()
            self.show_frame(self.frame)

    def open_study(self, study_id: int) -> None:
        from core.io.importer import open_study
        from core.io.video import VideoError

        study = self.project.study(study_id)
        if self.source is not None:
            self.source.close()
            self.source = None
        self._marks = [None, None]
        self.strip.set_range(None)
        try:
            self.source = open_study(self.project, study)
        except (VideoError, OSError) as exc:
            self.study = study
            self.viewer.clear()
            self.info.setText(f"cannot open {study.name}: {exc}")
            return
        self.study = study
        self._labels = self._all_labels.setdefault(study.id, {})
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(study.n_frames - 1, 0))
        self.slider.blockSignals(False)
        self.frame_box.setRange(0, max(study.n_frames - 1, 0))
        self.strip.set_n_frames(study.n_frames)
        self.strip.set_labels(dict(self._labels))
        self._on_sampling_changed()
        self._load_latest_scores()
        self.show_frame(0)

    # ------------------------------------------------------------------ frames
    def _request_frame(self, index: int) -> None:
        # coalesce slider drags: only the newest requested frame is decoded
        self._pending_frame = self._snap(index)
        self._render_timer.start()

    def _render_pending(self) -> None:
        if self._pending_frame is not None:
            f, self._pending_frame = self._pending_frame, None
            self.show_frame(f)

    def _on_frame_box(self) -> None:
        self.show_frame(self.frame_box.value())
        self.viewer.setFocus(Qt.FocusReason.OtherFocusReason)  # keys go back to labelling

    def show_frame(self, index: int) -> None:
        got = self.read_frame(index)
        if got is None:
            return
        index, img = got
        self.frame = index
        label = self._labels.get(index)
        cap = f"frame {index} / {self.n_frames - 1}"
        cap += f" · label: {label}" if label else " · unlabelled"
        cap += self.model_caption(index)
        self.viewer.set_frame(img, cap)
        for w, v in ((self.slider, index), (self.frame_box, index)):
            w.blockSignals(True)
            w.setValue(v)
            w.blockSignals(False)
        self.strip.set_current(index)
        if self._range() is None and self._marks == [None, None]:
            self.info.setText(f"{len(self._labels)} labelled in this video")
        self.frame_changed.emit(index)

    # ------------------------------------------------------------------ protocol
    def task_options(self) -> dict:
        n = self.training.crops.value()
        return {"config": FrameTaskConfig(crops_per_frame=n, test_crops=max(n, 8))}

    def result_view(self) -> QWidget:
        return self.training.roc

    def show_result(self, result) -> None:
        super().show_result(result)
        self._load_eval_baseline()  # test-label edits count from this evaluation on

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

