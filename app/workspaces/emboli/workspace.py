"""The Emboli workspace: CTPA volumes, tobogganing candidates, emboli marks, training, FROC.

Left: the project's CT series (task ``emboli``). Centre: the volume in three linked views
(axial, coronal, sagittal; :class:`app.widgets.volume_view.VolumeViewer`) with window
presets and free window / level, the candidates as circles coloured by the model's
score or the expert's decision, the marked emboli where they cut each slice, and, in the
fourth cell, the selected candidate's vessel-aligned cross-section and longitudinal
section. Right: the training panel (its result tab is the FROC per volume, the 3 false
positives per volume point ringed) and the candidate list and review queue.

A warning line names what is wrong with the series: no contrast bolus found (emboli
cannot be seen on a CT without contrast) and the reader's problems (gaps, duplicates,
tilt...). Every decision and every mark is written to the project the moment it is made,
one undo step each.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.store.history import AnnotationHistory
from core.tasks.emboli.truth import ACCEPT, REJECT

from ...widgets.froc_plot import FrocPlotWidget, froc_view
from ...widgets.study_list import StudyListWidget
from ...widgets.training_panel import TrainingPanelWidget
from ...widgets.volume_planes import VesselPlanesWidget
from ...widgets.volume_view import VolumeViewer
from ...worker import WorkerSlot
from ..base import MenuAction, Workspace
from ..frame_quality.labelling import patient_text
from ..registry import register_workspace
from .files import FilesMixin
from .jobs import VolumeCandidateJobMixin
from .keys import SHORTCUTS, install_shortcuts
from .loading import VolumeLoader
from .marks import MarksMixin
from .review import ReviewMixin

HIGHLIGHT_FP = 3.0  # false positives per volume ringed on the FROC (Tajbakhsh et al.)


def warning_lines(meta: dict) -> list[str]:
    """What is wrong with a CT series, from its ``Study.meta``: no contrast, problems."""
    lines = []
    from core.jobs.volume_candidates import no_contrast_text

    why = no_contrast_text(meta)
    if why:
        lines.append(f"⚠ {why[0].upper()}{why[1:]}.")
    for p in meta.get("problems") or []:
        level = p.get("level", "warning") if isinstance(p, dict) else "warning"
        text = p.get("message", "") if isinstance(p, dict) else str(p)
        lines.append(f"{'⛔' if level == 'error' else '⚠'} {text}")
    return lines


@register_workspace
class EmboliWorkspace(ReviewMixin, MarksMixin, VolumeCandidateJobMixin, FilesMixin, Workspace):
    """Emboli marks, candidate review and training for pulmonary embolism detection.

    Signals
    -------
    volume_loaded(int)
        The open study's volume is loaded and drawn (its id).
    """

    task_name = "emboli"
    title = "Emboli"
    shortcuts = SHORTCUTS
    undo_noun = "edit"
    tab_order = 20
    empty_hint = ("No CT series yet. <b>Import a DICOM folder of CTPA studies</b> (every "
                  "series is found and listed), then mark emboli, find candidates (Ctrl+G) "
                  "and train.")

    volume_loaded = Signal(int)

    def __init__(self, project, parent: QWidget | None = None) -> None:
        super().__init__(project, parent)
        self.history = AnnotationHistory(project)
        self.study = None
        self.volume: np.ndarray | None = None
        self.geometry = None
        self._studies: list = []
        self._cands: list = []
        self._pos: dict[int, int] = {}
        self._centres = np.zeros((0, 3))
        self._truth = None
        self._decisions: dict[int, tuple] = {}
        self._scores: dict[int, float] = {}
        self._score_run = None
        self._froc_marks: list = []
        self._job = WorkerSlot(self)
        self.loader = VolumeLoader(self)
        self.loader.loaded.connect(self._on_volume_loaded)
        self.loader.failed.connect(self._on_volume_failed)
        self.loader.progress.connect(
            lambda done, total: self.info.setText(f"reading {self.study.name}: slice "
                                                  f"{done} of {total}…") if self.study else None)

        self.study_list = StudyListWidget()
        self.study_list.setToolTip("CT series of the project (train / test split in "
                                   "brackets); right-click to move one or set its patient")
        self.study_list.setMinimumWidth(170)
        self.study_list.setMaximumWidth(280)
        self.study_list.currentRowChanged.connect(self._on_study_row)
        self.study_list.split_requested.connect(self.set_split)
        self.study_list.subject_requested.connect(self.ask_subject)

        tools = QHBoxLayout()
        self.find_button = QPushButton("Find candidates")
        self.find_button.setToolTip("Tobogganing on this volume (Ctrl+G); Shift+click: on "
                                    "every CT series of the project")
        self.find_button.clicked.connect(self._on_find_clicked)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setToolTip("Stop the candidate generator (finished volumes keep "
                                      "their new candidates)")
        self.cancel_button.clicked.connect(self._job.quit)
        self.job_bar = QProgressBar()
        self.job_bar.setFormat("idle")
        self.job_bar.setValue(0)
        self.job_bar.setTextVisible(True)
        self.job_bar.setMaximumWidth(240)
        for w in (self.find_button, self.cancel_button, self.job_bar):
            tools.addWidget(w)
        tools.addStretch(1)
        self.pos_label = QLabel("")
        self.pos_label.setToolTip("The crosshair: voxel (plane, row, col), patient "
                                  "coordinates (x, y, z) in mm, and its HU")
        tools.addWidget(self.pos_label)

        self.warn = QLabel("")
        self.warn.setWordWrap(True)
        self.warn.setStyleSheet("color: #b45309; font-weight: bold;")
        self.warn.hide()

        self.viewer = VolumeViewer()
        self.planes = VesselPlanesWidget()
        self.viewer.set_corner(self.planes)
        self.viewer.candidateClicked.connect(self.select_candidate)
        self.viewer.sphereDrawn.connect(self._on_sphere_drawn)
        self.viewer.cursorMoved.connect(self._on_cursor)
        self.viewer.windowChanged.connect(self.planes.set_window)
        self.planes.width_changed.connect(lambda _w: self._show_planes())

        buttons = QHBoxLayout()
        for text, tip, slot in (
                ("Embolus (A)", "Accept the selected candidate: it is an embolus",
                 lambda: self.decide(ACCEPT)),
                ("Not embolus (R)", "Reject the selected candidate", lambda: self.decide(REJECT)),
                ("Forget (Del)", "Remove the decision: the marks decide",
                 lambda: self.decide(None)),
                ("◀ Previous (Shift+N)", "Previous candidate", lambda: self.select_next(-1)),
                ("Next (N) ▶", "Next candidate", lambda: self.select_next(1)),
                ("Least sure (Q)", "The review queue's first candidate", self.next_in_queue)):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.clicked.connect(slot)
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.info = QLabel("")
        self.info.setWordWrap(True)

        centre = QWidget()
        cl = QVBoxLayout(centre)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addLayout(tools)
        cl.addWidget(self.warn)
        cl.addWidget(self.viewer, 1)
        cl.addLayout(buttons)
        cl.addWidget(self.info)

        self.training = TrainingPanelWidget()
        self.froc = FrocPlotWidget(unit="volume", group_unit="patient", lesions="emboli")
        self.froc.setToolTip("FROC on the test volumes: sensitivity over emboli against false "
                             "positives per volume, with the 95 % CI band (bootstrap over "
                             "patients); the 3 FP/volume point is ringed")
        # a FROC rises to the right: its top left is the free corner for the legend
        self.froc.legend.setOffset((10, 10))
        self.training.set_task_terms(
            per_item="Patches / candidate", per_item_value=8,
            per_item_tip="Vessel-aligned 227×227 patches per candidate (3 widths × 3 shifts "
                         "× 6 rotations = 54 in the paper; fewer is faster on a CPU). Test "
                         "scores average at least 6 per candidate.",
            result_view=self.froc, result_title="FROC on test volumes",
            evaluate_tip="FROC per volume with 95 % CIs of the newest run on the test volumes")
        self.training.crops.setMaximum(54)
        self.training.evaluate_button.setText("Evaluate on test volumes")

        self.cand_list = QListWidget()
        self.cand_list.setToolTip("The volume's candidates in scan order; click one to go "
                                  "there (N / Shift+N: next / previous)")
        self.cand_list.currentRowChanged.connect(self._on_list_row)
        self.queue_title = QLabel("")
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
        self.side_tabs = QTabWidget()
        self.side_tabs.addTab(self.cand_list, "Candidates")
        self.side_tabs.addTab(qbox, "Review queue")
        self.lay_out(centre, self.side_tabs, centre_share=4, below_share=2)
        install_shortcuts(self)
        self._update_queue()
        self.reload_studies()

    def focus_home(self) -> QWidget:
        return self.viewer.views["axial"]

    # ------------------------------------------------------------------ studies
    def reload_studies(self) -> None:
        keep = self.study.id if self.study else None
        self._studies = [s for s in self.project.studies()
                         if self.owns_task(s.task) and s.kind == "ct_series"]
        rows = [(s.id, f"{s.name}  [{s.split}]{patient_text(s)}\n{_shape_text(s)}", s.split)
                for s in self._studies]
        self.show_study_rows(rows, keep)

    def reload(self) -> None:
        keep = self.study.id if self.study else None
        self.reload_studies()
        if self.study is not None and self.study.id == keep and self.volume is not None:
            self.study = self.project.study(keep)
            self._show_warnings()
            self._load_candidates()
            self._refresh_markers()

    def open_study(self, study_id: int) -> None:
        """Show ``study_id``: its volume loads in the background (``volume_loaded``)."""
        self.close_sources()
        self.study = self.project.study(study_id)
        self._cands, self._pos, self._centres = [], {}, np.zeros((0, 3))
        self._scores, self._decisions = {}, {}
        self._show_warnings()
        self.cand_list.clear()
        self._update_queue()
        self.info.setText(f"reading {self.study.name}…")
        self.loader.start(self.project, self.study)

    def _on_volume_loaded(self, study_id: int, hu, geometry) -> None:
        if self.study is None or study_id != self.study.id:
            return
        self.study = self.project.study(study_id)  # the loader may have added its contrast
        self.volume, self.geometry = hu, geometry
        step = geometry.matrix()[:, 0]  # world (x, y, z) step from one plane to the next
        self.viewer.set_volume(hu, geometry.spacing_mm, flip_z=bool(step[2] > 0))
        self._show_warnings()
        self._load_candidates()
        self._refresh_markers()
        self._on_cursor(self.viewer.cursor)
        self.volume_loaded.emit(study_id)

    def _on_volume_failed(self, study_id: int, why: str) -> None:
        if self.study is not None and study_id == self.study.id:
            self._say(f"cannot open {self.study.name}: {why}")

    def close_sources(self) -> None:
        self.volume, self.geometry = None, None
        self.viewer.set_volume(None)
        self.planes.clear()

    def _show_warnings(self) -> None:
        lines = warning_lines(self.study.meta or {}) if self.study is not None else []
        self.warn.setText("\n".join(lines))
        self.warn.setVisible(bool(lines))

    def _caption(self) -> None:
        if self.study is None or self.volume is None:
            return
        t = self._truth
        n_dec = len(self._decisions)
        marks = len(t.spheres) + t.n_components if t is not None else 0
        self.info.setText(f"{self.study.name} · {_shape_text(self.study)} · "
                          f"{len(self._cands)} candidates · {marks} emboli marked · "
                          f"{n_dec} decided")

    def _on_cursor(self, zyx) -> None:
        if self.volume is None or self.geometry is None:
            self.pos_label.setText("")
            return
        z, y, x = (int(v) for v in zyx)
        w = self.geometry.voxel_to_world(np.array([[z, y, x]], float))[0]
        self.pos_label.setText(f"voxel ({z}, {y}, {x}) · ({w[0]:.1f}, {w[1]:.1f}, "
                               f"{w[2]:.1f}) mm · {int(self.volume[z, y, x])} HU")

    # ------------------------------------------------------------------ protocol
    def task_options(self) -> dict:
        n = self.training.crops.value()
        return {"train_patches": n, "test_patches": max(n, 6), "preview_patches": 2}

    def result_view(self) -> QWidget:
        return self.froc

    def show_result(self, result) -> None:
        super().show_result(result)
        verdict = getattr(result, "verdict", None)
        if callable(verdict):
            self.froc.verdict_lines = list(verdict())
        self.highlight_fp(HIGHLIGHT_FP)

    def highlight_fp(self, fp: float) -> tuple[float, float] | None:
        """Ring the FROC point at ``fp`` false positives per volume, with a legend entry
        giving its sensitivity and CI (the widget has no highlight of its own: the ring
        is added to its plot). Returns the (log2 fp, sensitivity) ringed, or None when
        the result has no such point."""
        import pyqtgraph as pg

        for item in self._froc_marks:
            self.froc.legend.removeItem(item)
            self.froc.plot.removeItem(item)
        self._froc_marks = []
        v = self.froc.view
        if v is None or not len(v.points):
            return None
        k = np.flatnonzero(np.isclose(v.points[:, 0], fp))
        if not len(k):
            return None
        _, sens, lo, hi = v.points[k[0]]
        x = math.log2(fp)
        ring = pg.ScatterPlotItem([x], [sens], size=22, symbol="o", brush=pg.mkBrush(None),
                                  pen=pg.mkPen(220, 38, 38, width=2.5))
        ring.setZValue(10)
        ci = f" [{lo:.2f}–{hi:.2f}]" if np.isfinite(lo) and np.isfinite(hi) else ""
        self.froc.plot.addItem(ring)
        self.froc.legend.addItem(ring, f"{fp:g} FP/volume: {sens:.2f}{ci}")
        self._froc_marks = [ring]
        return x, float(sens)

    def result_summary(self, result) -> str:
        v = froc_view(result)
        pts = []
        for fp, s, _lo, _hi in v.points[:6]:
            t = f"{s:.2f} at {fp:g}"
            pts.append(f"<b>{t}</b>" if np.isclose(fp, HIGHLIGHT_FP) else t)
        lo, hi = v.cpm_ci
        n = v.counts
        return (f"<b>CPM {v.cpm:.3f}</b> (95% CI {lo:.3f}–{hi:.3f}) over "
                f"{n.get('n_lesions', '?')} emboli in {n.get('n_images', '?')} volumes<br>"
                f"sensitivity at FPs/volume: {', '.join(pts)}")

    # ------------------------------------------------------------------ files
    def import_actions(self) -> list[MenuAction]:
        return [MenuAction("Import &DICOM folder (CT)…", self.import_dicom_folder, None,
                           "Add every CT series found in a folder tree (or a DICOMDIR's "
                           "folder) to the emboli project"),
                MenuAction("Import emboli marks (LUNA16 CSV)…", self.import_marks, None,
                           "seriesuid,coordX,coordY,coordZ,diameter_mm in patient mm")]

    def export_actions(self) -> list[MenuAction]:
        return [MenuAction("Export emboli marks (LUNA16 CSV)…", self.export_marks, None,
                           "The spheres of every CT series, by series UID (no names)")]


def _shape_text(study) -> str:
    meta = study.meta or {}
    shape = meta.get("shape") or (study.n_frames, study.height, study.width)
    sp = meta.get("spacing_mm")
    spacing = f" · {' × '.join(f'{v:.2g}' for v in sp)} mm" if sp else ""
    return f"{' × '.join(str(int(v)) for v in shape)} voxels{spacing}"
