"""The CIMT workspace: ultrasound ROIs, LI / MA tracings, confidence maps, snakes, IMT.

Left: the project's carotid ultrasound studies (images, videos, DICOM), each with its
pixel spacing and where it came from. Centre: the frame (zoom, pan) with its ROIs (up to
3 per study), the expert's open LI and MA polylines (smooth display), and per ROI the
model's merged confidence map (green LI, red MA, adjustable opacity), the thinned
step-like boundaries and the two converged snakes; dragging a snake's point makes it a
constraint, the snake re-converges, and the corrected boundary is stored as the expert's
tracing; *Snake…* sets the snakes' parameters (kept in the project). Right: the training
panel (its result tab: box plots of the boundary distances and the Bland–Altman plot of
IMT) and the ROI table (IMT of system and expert, in mm, or in pixels, labelled, until
the study is calibrated).

Every ROI, every traced point and every snake correction is written to the project the
moment it is made, one undo step each (a first traced point as a draft until the second,
:mod:`.drafts`); undoing a snake correction also puts the snake on screen back.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QTableWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...widgets.cimt_results import CimtResultsWidget
from ...widgets.study_list import StudyListWidget
from ...widgets.training_panel import TrainingPanelWidget
from ...widgets.us_canvas import UltrasoundCanvas
from ...worker import WorkerSlot
from ..base import MenuAction, Workspace
from ..frame_quality.labelling import patient_text
from ..registry import register_workspace
from .files import FilesMixin
from .history import CimtHistory
from .keys import SHORTCUTS, install_shortcuts
from .model import ModelMixin
from .snake_settings import load_params, options_of
from .tracing import TracingMixin

TOOLS = (("select", "Select (V)", "Click an ROI to select it; drag a snake's point to "
          "correct it; drag elsewhere pans"),
         ("roi", "ROI (R)", "Drag a box: a region of interest (up to 3 per study)"),
         ("LI", "Trace LI (L)", "Trace the lumen–intima interface: click points, drag them, "
          "Del deletes one, Esc finishes"),
         ("MA", "Trace MA (M)", "Trace the media–adventitia interface: click points, drag "
          "them, Del deletes one, Esc finishes"))
ROI_COLUMNS = ("ROI", "frame", "IMT system", "IMT expert", "LI error", "MA error")


@register_workspace
class CimtWorkspace(ModelMixin, TracingMixin, FilesMixin, Workspace):
    """ROIs, tracings, dense confidence maps, snakes and IMT for carotid ultrasound."""

    task_name = "cimt"
    title = "CIMT"
    shortcuts = SHORTCUTS
    undo_noun = "edit"
    tab_order = 30
    study_noun = "studies"

    def __init__(self, project, parent: QWidget | None = None) -> None:
        super().__init__(project, parent)
        self.history = CimtHistory(project)
        self.snake_params = load_params(project)
        self._lines: dict = {}
        self._drafts: dict = {}
        self.source = None
        self.study = None
        self.frame = 0
        self._studies: list = []
        self._maps = WorkerSlot(self)
        self._init_model_state()

        self.study_list = StudyListWidget()
        self.study_list.setToolTip("Carotid ultrasound studies (train / test split in "
                                   "brackets) and their pixel spacing; right-click to move "
                                   "one or set its patient")
        self.study_list.setMinimumWidth(170)
        self.study_list.setMaximumWidth(280)
        self.study_list.currentRowChanged.connect(self._on_study_row)
        self.study_list.split_requested.connect(self.set_split)
        self.study_list.subject_requested.connect(self.ask_subject)

        self.canvas = UltrasoundCanvas()
        self.canvas.roiDrawn.connect(self._on_roi_drawn)
        self.canvas.roiClicked.connect(lambda _i: self._describe())
        self.canvas.polylineEdited.connect(self._on_polyline_edited)
        self.canvas.snakeDragged.connect(self._on_snake_dragged)
        self.canvas.toolChanged.connect(lambda _t: self._sync_tool_buttons())

        tools = QHBoxLayout()
        self.tool_group = QButtonGroup(self)
        self.tool_group.setExclusive(True)
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
        self.tool_group.buttonClicked.connect(self._on_tool_button)
        self.calibrate_button = QPushButton("Calibrate…")
        self.calibrate_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.calibrate_button.setToolTip("Set the pixel spacing: click two ticks of the depth "
                                         "scale and type their distance (Ctrl+K)")
        self.calibrate_button.clicked.connect(self.calibrate)
        tools.addWidget(self.calibrate_button)
        tools.addStretch(1)
        self.maps_button = QPushButton("Maps && snakes")
        self.maps_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.maps_button.setToolTip("Confidence maps, thinned boundaries and snakes of this "
                                    "frame's ROIs with the newest model (Ctrl+M)")
        self.maps_button.clicked.connect(self.compute_maps)
        self.snake_button = QPushButton("Snake…")
        self.snake_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.snake_button.setToolTip(self._snake_tip())
        self.snake_button.clicked.connect(self.edit_snake_params)
        self.job_bar = QProgressBar()
        self.job_bar.setRange(0, 100)
        self.job_bar.setValue(0)
        self.job_bar.setFormat("no maps yet")
        self.job_bar.setTextVisible(True)
        self.job_bar.setMaximumWidth(240)
        tools.addWidget(self.snake_button)
        tools.addWidget(self.maps_button)
        tools.addWidget(self.job_bar)

        shown = QHBoxLayout()
        self.show_boxes = {}
        for key, text, tip in (("map", "confidence map", "Green: LI, red: MA"),
                               ("thin", "thinned boundaries", "Row of the strongest response "
                                "in each column"),
                               ("snakes", "snakes", "The converged open snakes (dashed); drag "
                                "a point to correct one")):
            box = QCheckBox(text)
            box.setChecked(True)
            box.setToolTip(tip)
            box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            box.toggled.connect(lambda on, k=key: self.canvas.set_shown(**{k: on}))
            self.show_boxes[key] = box
            shown.addWidget(box)
        shown.addWidget(QLabel("opacity"))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.opacity.setMaximumWidth(140)
        self.opacity.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.opacity.setToolTip("Opacity of the confidence map")
        self.opacity.valueChanged.connect(lambda v: self.canvas.set_opacity(v / 100))
        shown.addWidget(self.opacity)
        shown.addStretch(1)

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slider.valueChanged.connect(self.show_frame)
        self.frame_box = QSpinBox()
        self.frame_box.editingFinished.connect(lambda: self.show_frame(self.frame_box.value()))
        scrub = QHBoxLayout()
        scrub.addWidget(self.slider, 1)
        scrub.addWidget(self.frame_box)
        self.spacing_line = QLabel("")
        self.info = QLabel("")
        self.info.setWordWrap(True)

        centre = QWidget()
        cl = QVBoxLayout(centre)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addLayout(tools)
        cl.addLayout(shown)
        cl.addWidget(self.canvas, 1)
        cl.addLayout(scrub)
        cl.addWidget(self.spacing_line)
        cl.addWidget(self.info)

        self.training = TrainingPanelWidget()
        self.results = CimtResultsWidget()
        self.training.set_task_terms(
            per_item="Patches (×1000)", per_item_value=20,
            per_item_tip="Stratified training patches in thousands (LI, MA and background "
                         "pixels in equal shares; 200 = the paper's 200,000). No augmentation.",
            result_view=self.results, result_title="Boundaries and IMT on test studies",
            evaluate_tip="Per ROI of the test studies: distance between expert and system "
                         "boundaries (box plots) and IMT agreement (Bland–Altman)",
            n_classes=3, input_text="input · 3×355×355 context patch (no padding)")
        self.training.evaluate_button.setText("Evaluate on test studies")
        self.roi_table = QTableWidget(0, len(ROI_COLUMNS))
        self.roi_table.setHorizontalHeaderLabels(ROI_COLUMNS)
        self.roi_table.verticalHeader().setVisible(False)
        self.roi_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.roi_table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.roi_table.setToolTip("The study's ROIs: IMT of the snakes and of the expert's "
                                  "tracings, and the mean distance between them per "
                                  "interface; click a row to go there")
        self.roi_table.cellClicked.connect(self._on_roi_row)
        self.lay_out(centre, self.roi_table)
        install_shortcuts(self)
        self.reload_studies()

    def focus_home(self) -> QWidget:
        return self.canvas

    # ------------------------------------------------------------------ tools
    def _on_tool_button(self, button) -> None:
        name = button.property("tool")
        if name in ("LI", "MA"):
            self.trace(name)
        else:
            self.set_tool(name)

    def set_tool(self, name: str) -> None:
        """``select`` or ``roi`` (tracing: :meth:`trace`)."""
        self.canvas.set_tool(name)
        self._sync_tool_buttons()
        self.canvas.setFocus(Qt.FocusReason.OtherFocusReason)

    def trace(self, name: str) -> None:
        """Trace interface ``name`` ("LI" or "MA") with the trace tool."""
        self.canvas.set_interface(name)
        self.canvas.set_tool("trace")
        self._sync_tool_buttons()
        self.canvas.setFocus(Qt.FocusReason.OtherFocusReason)
        n = len(self.canvas.tracing(name))
        self._say(f"tracing {name}: click points along the interface ({n} so far); drag "
                  "to move one, Del deletes, Esc finishes")

    def _sync_tool_buttons(self) -> None:
        tool = self.canvas.tool
        want = self.canvas.interface if tool == "trace" else tool
        for b in self.tool_group.buttons():
            b.setChecked(b.property("tool") == want)

    # ------------------------------------------------------------------ studies
    def _study_text(self, s, n_rois: int) -> str:
        from core.io.ultrasound_spacing import spacing_text

        return (f"{s.name}  [{s.split}]{patient_text(s)}\n{s.n_frames} frame"
                f"{'s' if s.n_frames != 1 else ''} · {n_rois} ROI{'s' if n_rois != 1 else ''}"
                f" · {spacing_text(s.meta or {})}")

    def reload_studies(self) -> None:
        keep = self.study.id if self.study else None
        self._studies = [s for s in self.project.studies() if self.owns_task(s.task)]
        rois: dict[int, int] = {}
        for a in self.project.annotations(kind="roi"):
            rois[a.study_id] = rois.get(a.study_id, 0) + 1
        rows = [(s.id, self._study_text(s, rois.get(s.id, 0)), s.split) for s in self._studies]
        if self.show_study_rows(rows, keep) is None:
            self._say("Import a carotid ultrasound image, video or DICOM (File menu) to "
                      "start.")

    def reload(self) -> None:
        keep = self.study.id if self.study else None
        self.reload_studies()
        if self.study is not None and self.study.id == keep:
            self.study = self.project.study(keep)
            self._load_study_data()
            self.show_frame(self.frame)

    def open_study(self, study_id: int) -> None:
        from core.io.importer import open_study
        from core.io.video import VideoError

        self.close_sources()
        self.study = self.project.study(study_id)
        self._forget_results()
        try:
            self.source = open_study(self.project, self.study)
        except (VideoError, OSError, ValueError) as exc:
            self._say(f"cannot open {self.study.name}: {exc}")
            return
        n = max(self.study.n_frames - 1, 0)
        for w in (self.slider, self.frame_box):
            w.blockSignals(True)
            w.setRange(0, n)
            w.blockSignals(False)
        self._load_study_data()
        first = min((a.frame for a in self._rois if a.frame is not None), default=0)
        self.frame = -1
        self.show_frame(first)
        self.canvas.fit()
        if self._drafts:
            where = ", ".join(f"{name} on frame {f}" for f, name in sorted(self._drafts))
            many = len(self._drafts) > 1
            self._say(f"{self.study.name}: one-point draft tracing{'s' if many else ''} kept "
                      f"({where}); add a second point to make {'them' if many else 'it'} "
                      "a tracing")
        self.compute_maps(quiet=True)

    # ------------------------------------------------------------------ frames
    def show_frame(self, index: int) -> None:
        got = self.read_frame(index)
        if got is None:
            return
        index, img = got
        changed = index != self.frame
        self.frame = index
        self._image = img
        self.canvas.set_frame(img)
        self._show_annotations()
        for w in (self.slider, self.frame_box):
            w.blockSignals(True)
            w.setValue(index)
            w.blockSignals(False)
        if changed:
            self._describe()

    # ------------------------------------------------------------------ protocol
    def task_options(self) -> dict:
        opts = {"train_patches": int(self.training.crops.value()) * 1000}
        snake = options_of(self.snake_params)
        if snake:  # evaluation converges its snakes as the workspace does
            opts["snake"] = snake
        return opts

    def result_view(self) -> QWidget:
        return self.results

    def show_result(self, result) -> None:
        super().show_result(result)
        # the training controller reads the result view's verdict lines (notices)
        self.results.verdict_lines = list(self.results.view.verdict if self.results.view
                                          else [])

    def result_summary(self, result) -> str:
        return self.results_summary(result)

    def shutdown_jobs(self, timeout_ms: int = 5000) -> bool:
        return self._maps.shutdown(timeout_ms)

    # ------------------------------------------------------------------ files
    def import_actions(self) -> list[MenuAction]:
        return [MenuAction("Import carotid &ultrasound…", self.request_study_import, None,
                           "Add an ultrasound image, video or DICOM file (or a folder of "
                           "DICOM files) to the CIMT project"),
                MenuAction("Import LI/MA tracings…", self.import_tracings, None,
                           "CUBS layout (<id>-LI.txt, <id>-MA.txt, CF/) or a JSON of "
                           "polylines")]

    def export_actions(self) -> list[MenuAction]:
        return [MenuAction("Export LI/MA tracings (JSON)…", lambda: self.export_tracings("json")),
                MenuAction("Export LI/MA tracings (CUBS folder)…",
                           lambda: self.export_tracings("cubs"))]

    def choose_study_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import carotid ultrasound", "",
            "Ultrasound (*.dcm *.png *.jpg *.jpeg *.tif *.tiff *.bmp *.mp4 *.avi *.mov "
            "*.mkv);;All files (*)")
        if not path:
            path = QFileDialog.getExistingDirectory(self, "…or a folder of US DICOM files")
        return path or None
