"""The Polyps workspace: draw polyp masks, review candidates, train, see the FROC.

Left: the project's polyp videos and image sets. Centre: the frame with its mask and
its candidate boxes (coloured by the model's score, the score printed), the drawing
tools, the frame scrubber and the decision buttons. Right: the training panel (its
result tab is the FROC with its 95 % CI band) and the review queue. Every mask edit and
every decision is written to the project the moment it is made, one undo step each.

The candidate generator runs in the background (Ctrl+G), with progress and a cancel
button; its candidates replace the study's earlier ones, and the decisions, stored at
the candidates' centres, carry over.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.store.history import AnnotationHistory
from core.tasks.polyps.candidates import GENERATOR

from ...widgets.froc_plot import FrocPlotWidget
from ...widgets.mask_canvas import MaskCanvas
from ...widgets.study_list import StudyListWidget
from ...widgets.training_panel import TrainingPanelWidget
from ...worker import WorkerSlot
from ..base import MenuAction, Workspace
from ..frame_quality.labelling import patient_text
from ..registry import register_workspace
from .files import FilesMixin
from .jobs import FrameCandidateJobMixin
from .keys import SHORTCUTS, install_shortcuts
from .masks import MaskMixin
from .review import ReviewMixin

TOOLS = (("select", "Select (V)", "Click a box to select it; drag pans"),
         ("brush", "Brush (B)", "Paint the polyp mask; [ and ] change the size"),
         ("eraser", "Eraser (E)", "Erase the mask"),
         ("polygon", "Polygon (P)", "Click the corners; Enter fills, Shift+Enter cuts out"),
         ("fill", "Fill (G)", "Click a hole to fill it, or a polyp to clear it"))


@register_workspace
class PolypsWorkspace(ReviewMixin, MaskMixin, FrameCandidateJobMixin, FilesMixin, Workspace):
    """Masks, candidates and training for polyp detection."""

    task_name = "polyps"
    title = "Polyps"
    shortcuts = SHORTCUTS
    undo_noun = "edit"
    tab_order = 10
    empty_hint = ("No polyp videos or image sets yet. <b>Import a colonoscopy video or an "
                  "image set (images/ + masks/, as Kvasir-SEG)</b>, then find candidates "
                  "(Ctrl+G) and train.")

    def __init__(self, project, parent: QWidget | None = None) -> None:
        super().__init__(project, parent)
        self.history = AnnotationHistory(project)
        self.source = None
        self.study = None
        self.frame = 0
        self._studies: list = []
        self._cands: dict[int, list] = {}
        self._truth: dict = {}
        self._scores: dict[int, float] = {}
        self._score_run = None
        self._wanted: int | None = None  # a candidate to show even when weak
        self._job = WorkerSlot(self)

        self.study_list = StudyListWidget()
        self.study_list.setToolTip("Polyp videos and image sets (train / test split in "
                                   "brackets); right-click to move one or set its patient")
        self.study_list.setMinimumWidth(170)
        self.study_list.setMaximumWidth(260)
        self.study_list.currentRowChanged.connect(self._on_study_row)
        self.study_list.split_requested.connect(self.set_split)
        self.study_list.subject_requested.connect(self.ask_subject)

        # tools
        self.tool_group = QButtonGroup(self)
        self.tool_group.setExclusive(True)
        tools = QHBoxLayout()
        for name, text, tip in TOOLS:
            b = QToolButton()
            b.setText(text)
            b.setToolTip(tip)
            b.setCheckable(True)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.setProperty("tool", name)
            self.tool_group.addButton(b)
            tools.addWidget(b)
        self.tool_group.buttons()[0].setChecked(True)
        self.tool_group.buttonClicked.connect(lambda b: self.set_tool(b.property("tool")))
        self.brush = QSpinBox(minimum=1, maximum=200, value=15)
        self.brush.setSuffix(" px")
        self.brush.setToolTip("Brush size in image pixels ([ and ] or Ctrl+wheel)")
        tools.addWidget(QLabel("Brush"))
        tools.addWidget(self.brush)
        self.boxes_shown = QSpinBox(minimum=0, maximum=500, value=10)
        self.boxes_shown.setSpecialValueText("all")
        self.boxes_shown.setToolTip("Candidate boxes shown per frame: the strongest (by the "
                                    "model's score, else the generator's); decided ones "
                                    "always. 0: all")
        self.boxes_shown.valueChanged.connect(lambda _v: self._refresh_candidates())
        tools.addWidget(QLabel("Boxes"))
        tools.addWidget(self.boxes_shown)
        tools.addStretch(1)
        self.find_button = QPushButton("Find candidates")
        self.find_button.setToolTip("Run the candidate generator on this video (Ctrl+G); "
                                    "Shift+click: on every polyp video of the project")
        self.find_button.clicked.connect(self._on_find_clicked)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setToolTip("Stop the candidate generator (what it found so far "
                                      "in finished videos is kept)")
        self.cancel_button.clicked.connect(self._job.quit)
        self.job_bar = QProgressBar()
        self.job_bar.setFormat("idle")
        self.job_bar.setTextVisible(True)
        self.job_bar.setMaximumWidth(220)
        for w in (self.find_button, self.cancel_button, self.job_bar):
            tools.addWidget(w)

        self.canvas = MaskCanvas()
        self.canvas.maskEdited.connect(self._on_mask_edited)
        self.canvas.candidateClicked.connect(lambda _cid: self._describe_selection())
        self.canvas.brushSizeChanged.connect(self._on_canvas_brush)
        self.brush.valueChanged.connect(self.canvas.set_brush_size)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slider.valueChanged.connect(self.show_frame)
        self.frame_box = QSpinBox()
        self.frame_box.editingFinished.connect(lambda: self.show_frame(self.frame_box.value()))
        scrub = QHBoxLayout()
        scrub.addWidget(self.slider, 1)
        scrub.addWidget(self.frame_box)

        buttons = QHBoxLayout()
        for text, tip, slot in (
                ("Polyp (A)", "Accept the selected candidate as a polyp",
                 lambda: self.decide("polyp")),
                ("Not polyp (R)", "Reject the selected candidate", lambda: self.decide("not polyp")),
                ("Forget (Del)", "Remove the decision: the mask decides",
                 lambda: self.decide(None)),
                ("No polyp on frame (0)", "This frame shows no polyp: store an empty mask",
                 self.mark_no_polyp)):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.clicked.connect(slot)
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.info = QLabel("")
        self.info.setWordWrap(True)
        self.progress = QLabel("")
        self.progress.setToolTip("Truth over every polyp video of the project")

        centre = QWidget()
        cl = QVBoxLayout(centre)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addLayout(tools)
        cl.addWidget(self.canvas, 1)
        cl.addLayout(scrub)
        cl.addLayout(buttons)
        cl.addWidget(self.progress)
        cl.addWidget(self.info)

        self.training = TrainingPanelWidget()
        self.froc = FrocPlotWidget(unit="frame")
        self.froc.setToolTip("FROC on the test videos: sensitivity over polyps against false "
                             "positives per frame, with the 95 % CI band (bootstrap over "
                             "videos); export with the buttons")
        self.training.set_task_terms(
            per_item="Patches / candidate", per_item_value=8,
            per_item_tip="Augmented 227×227 patches per candidate (3 scales × 9 shifts × 8 "
                         "orientations = 216 in the paper; fewer is faster on a CPU). Test "
                         "scores average at least 8 per candidate.",
            result_view=self.froc, result_title="FROC on test videos",
            evaluate_tip="FROC with 95 % CIs of the newest run on the test videos")
        self.queue_title = QLabel("Review queue")
        self.queue = QListWidget()
        self.queue.setToolTip("Undecided candidates, the model's least sure first; click to "
                              "go there (Q: the next one)")
        self.queue.itemActivated.connect(self._on_queue_item)
        self.queue.itemClicked.connect(self._on_queue_item)
        qbox = QWidget()
        ql = QVBoxLayout(qbox)
        ql.setContentsMargins(0, 0, 0, 0)
        ql.addWidget(self.queue_title)
        ql.addWidget(self.queue, 1)
        self.lay_out(centre, qbox)
        install_shortcuts(self)
        self.reload_studies()

    def focus_home(self) -> QWidget:
        return self.canvas

    # ------------------------------------------------------------------ studies
    def reload_studies(self) -> None:
        keep = self.study.id if self.study else None
        self._studies = [s for s in self.project.studies() if self.owns_task(s.task)]
        masks = {k: len(v) for k, v in self.project.annotation_frames("mask").items()}
        rows = [(s.id, f"{s.name}  [{s.split}]{patient_text(s)}\n{s.n_frames} frames · "
                 f"{masks.get(s.id, 0)} masks", s.split) for s in self._studies]
        self._update_progress()
        self.show_study_rows(rows, keep)

    def reload(self) -> None:
        keep = self.study.id if self.study else None
        self.reload_studies()
        if self.study is not None and self.study.id == keep:
            self._load_study_data()
            self.show_frame(self.frame)

    def open_study(self, study_id: int) -> None:
        from core.io.importer import open_study
        from core.io.video import VideoError

        self.close_sources()
        study = self.project.study(study_id)
        self.study = study
        try:
            self.source = open_study(self.project, study)
        except (VideoError, OSError) as exc:
            self._say(f"cannot open {study.name}: {exc}")
            return
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(study.n_frames - 1, 0))
        self.slider.blockSignals(False)
        self.frame_box.setRange(0, max(study.n_frames - 1, 0))
        self._load_study_data()
        self.show_frame(0)
        self.canvas.fit()

    def _load_study_data(self) -> None:
        from core.tasks.polyps.truth import study_truth

        self._cands = {}
        for c in self.project.candidates(self.study.id, generator=GENERATOR):
            self._cands.setdefault(int(c.frame), []).append(c)
        self._truth = study_truth(self.project, self.study.id)
        self._load_latest_scores()
        self._update_progress()

    def _reload_frame_truth(self, frame: int) -> None:
        from core.tasks.polyps.truth import study_truth

        t = study_truth(self.project, self.study.id, frame).get(frame)
        if t is None:
            self._truth.pop(frame, None)
        else:
            self._truth[frame] = t
        self._update_progress()

    # ------------------------------------------------------------------ frames
    def show_frame(self, index: int) -> None:
        got = self.read_frame(index)
        if got is None:
            return
        index, img = got
        changed = index != self.frame or self.canvas.mask() is None
        self.frame = index
        self.canvas.set_frame(img)
        t = self._truth.get(index)
        self.canvas.set_mask(None if t is None else t.mask)
        self._refresh_candidates(keep_selection=not changed)
        for w in (self.slider, self.frame_box):
            w.blockSignals(True)
            w.setValue(index)
            w.blockSignals(False)
        self._caption()

    def _caption(self) -> None:
        t = self._truth.get(self.frame)
        n_c = len(self.frame_candidates())
        if t is None:
            truth = "no mask yet (draw one, or 0: no polyp)"
        elif t.mask is not None:
            n = t.components[1]
            truth = f"{n} polyp{'s' if n != 1 else ''} in the mask" if n else "no polyp (empty mask)"
        else:
            truth = f"{len(t.lesions)} polyps by decision"
        self.info.setText(f"{self.study.name} · frame {self.frame} / {self.n_frames - 1} · "
                          f"{truth} · {n_c} candidates")

    def _refresh_candidates(self, keep_selection: bool = True) -> None:
        keep = self.canvas.selected_candidate if keep_selection else None
        self.canvas.set_candidates(self.candidate_rows())
        if keep is not None and keep in self.canvas.candidate_ids():
            self.canvas.select_candidate(keep)
        elif not keep_selection:
            self.canvas.select_candidate(None)

    # ------------------------------------------------------------------ progress
    def _update_progress(self) -> None:
        n_frames = sum(s.n_frames for s in self._studies)
        ids = {s.id for s in self._studies}
        n_truth = sum(len(v) for k, v in self.project.annotation_frames("mask").items()
                      if k in ids)
        n_cands = sum(len(v) for v in self._cands.values())
        self.progress.setText(f"Project: {n_truth} / {n_frames} frames with a mask · "
                              f"{n_cands} candidates in this video")

    # ------------------------------------------------------------------ protocol
    def task_options(self) -> dict:
        n = self.training.crops.value()
        return {"train_patches": n, "test_patches": max(n, 8), "preview_patches": 4}

    def result_view(self) -> QWidget:
        return self.froc

    def show_result(self, result) -> None:
        super().show_result(result)
        self.froc.verdict_lines = list(result.verdict())

    def result_summary(self, result) -> str:
        pts = ", ".join(f"{p.sensitivity:.2f} at {p.fp_rate:g}" for p in result.points[:5])
        lo, hi = result.cpm_ci
        return (f"<b>CPM {result.cpm:.3f}</b> (95% CI {lo:.3f}–{hi:.3f}) over "
                f"{result.n_lesions} polyps on {result.n_images} frames<br>"
                f"sensitivity at FPs/frame: {pts}")

    # ------------------------------------------------------------------ files
    def import_actions(self) -> list[MenuAction]:
        return [MenuAction("Import polyp &video or image set…", self.request_study_import,
                           None, "Add a colonoscopy video, a folder of frames or an image "
                           "set (images/ + masks/) to the polyp project"),
                MenuAction("Import polyp masks (folder)…", self.import_masks),
                MenuAction("Import COCO JSON…", self.import_coco)]

    def export_actions(self) -> list[MenuAction]:
        return [MenuAction("Export polyp masks (folder)…", self.export_masks),
                MenuAction("Export COCO JSON…", self.export_coco)]

    def choose_study_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import polyp video", "", "Videos (*.mp4 *.avi *.mov *.mkv *.mpg *.wmv);;"
            "All files (*)")
        if not path:
            path = QFileDialog.getExistingDirectory(
                self, "…or an image set (images/ + masks/) or a folder of frames")
        return path or None
