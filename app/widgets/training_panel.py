"""The training panel: depth drawing, Table II values, device, start/cancel, live curves.

A view only: it turns the user's choices into a :class:`core.train.engine.TrainConfig`
(``train_requested``) and draws the events a worker forwards (``show_event``). It knows no
task: the workspace that embeds it turns its per-item patch count (``crops``) into the
task's options (:meth:`app.workspaces.base.Workspace.task_options`).
"""

from __future__ import annotations

import math
import time

import torch
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.events import BatchEnd, EpochEnd, Notice, Progress, Validated
from core.train.engine import TrainConfig
from core.train.model import Schedule

from .depth_stack import DepthStackWidget
from .roc_plot import RocPlotWidget
from .training_curves import TrainingCurvesWidget


def config_from_schedule(sched: Schedule, init: str, **kw) -> TrainConfig:
    """A TrainConfig whose Table II values reproduce ``sched``."""
    fc8 = sched.layer("fc8")
    others = [ls for ls in sched.layers if ls.tuned and ls.layer != "fc8"]
    base = others[0].weight_lr if others else 0.001
    return TrainConfig(depth=sched.depth, init=init, base_lr=base, fc8_lr=fc8.weight_lr,
                       bias_factor=fc8.bias_lr / fc8.weight_lr, momentum=sched.momentum,
                       gamma=sched.gamma, **kw)


def _fmt_eta(s: float) -> str:
    if not math.isfinite(s):
        return "--"
    s = int(max(0, s))
    return f"{s // 60}:{s % 60:02d}" if s < 3600 else f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class TrainingPanelWidget(QWidget):
    """Depth selector + run options + Train/Cancel + progress/ETA + live curves."""

    train_requested = Signal(object)  # TrainConfig
    cancel_requested = Signal()
    evaluate_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.depth_stack = DepthStackWidget(depth="fc7")
        self.device = QComboBox()
        self.device.addItem("CPU", "cpu")
        if torch.cuda.is_available():
            self.device.insertItem(0, f"CUDA ({torch.cuda.get_device_name(0)})", "cuda")
            self.device.setCurrentIndex(0)
        self.device.setToolTip("Where training runs: the GPU when one is present, else the CPU")
        self.epochs = QSpinBox(minimum=1, maximum=500, value=10)
        self.epochs.setToolTip("Maximum epochs; training stops earlier when the validation "
                               "AUC stops improving (patience)")
        self.patience = QSpinBox(minimum=1, maximum=100, value=3)
        self.crops = QSpinBox(minimum=1, maximum=500, value=16)
        self.crops.setToolTip("Random 227×227 crops per labelled frame (paper: 200; fewer is "
                              "faster on a CPU)")
        form = self._form = QFormLayout()
        form.addRow("Device", self.device)
        form.addRow("Max epochs", self.epochs)
        form.addRow("Patience", self.patience)
        form.addRow("Crops / frame", self.crops)

        self.train_button = QPushButton("Train")
        # Ctrl+T is the window's Training > Train (one owner per key: no ambiguous shortcut)
        self.train_button.setToolTip("Start fine-tuning at the chosen depth (Ctrl+T)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop training; the best model so far is kept (Esc)")
        self.cancel_button.setEnabled(False)
        self.evaluate_button = QPushButton("Evaluate on test videos")
        self.evaluate_button.setToolTip("ROC with 95 % CI of the newest run on the test videos")
        self.evaluate_button.setEnabled(False)
        self.train_button.clicked.connect(self._on_train)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.evaluate_button.clicked.connect(self.evaluate_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_button)

        # The bar carries a few words (it never clips); the detail goes to the lines below.
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("idle")
        self.progress.setMinimumWidth(160)
        self.detail = QLabel("")
        self.detail.setWordWrap(True)
        self.status = QLabel("Choose a depth and press Train.")
        self.status.setWordWrap(True)
        self.result = QLabel("")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.curves = TrainingCurvesWidget()
        self.curves.setMinimumHeight(180)
        self.roc = RocPlotWidget()
        self.roc.setToolTip("ROC on the test videos; orange: sensitivity at 10/15/20 % "
                            "false-positive rate with 95 % CIs")

        opts = QGroupBox("Run")
        ol = QVBoxLayout(opts)
        ol.addLayout(form)
        ol.addLayout(buttons)
        ol.addWidget(self.progress)
        ol.addWidget(self.detail)
        ol.addWidget(self.status)
        ol.addWidget(self.evaluate_button)
        ol.addWidget(self.result)
        top = QHBoxLayout()
        top.addWidget(self.depth_stack, 3)
        top.addWidget(opts, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        self.plots = QTabWidget()
        self.plots.addTab(self.curves, "Training curves")
        self.plots.addTab(self.roc, "ROC on test videos")
        lay.addWidget(self.plots, 1)
        self._t_start = 0.0
        self._running = False

    # ------------------------------------------------------------------ task terms
    def set_task_terms(self, *, per_item: str, per_item_tip: str, per_item_value: int,
                       result_view: QWidget, result_title: str, evaluate_tip: str,
                       n_classes: int | None = None, input_text: str | None = None) -> None:
        """Words and result plot of a task other than frame quality (e.g. polyps:
        "Patches / candidate", a FROC plot instead of the ROC); ``n_classes`` and
        ``input_text`` (e.g. "input · 3×355×355 context patch") for the layer drawing."""
        if n_classes is not None:
            self.depth_stack.set_n_classes(n_classes)
        if input_text is not None:
            self.depth_stack._canvas.input_text = input_text
            self.depth_stack._canvas.update()
        label = self._form.labelForField(self.crops)
        if label is not None:
            label.setText(per_item)
        self.crops.setToolTip(per_item_tip)
        self.crops.setValue(per_item_value)
        i = self.plots.indexOf(self.roc)
        self.plots.removeTab(i)
        self.roc.hide()
        self.roc = result_view
        self.plots.insertTab(i, result_view, result_title)
        self.evaluate_button.setToolTip(evaluate_tip)

    # ------------------------------------------------------------------ config
    def config(self) -> TrainConfig:
        return config_from_schedule(
            self.depth_stack.schedule(), self.depth_stack.init(), epochs=self.epochs.value(),
            patience=self.patience.value(), device=self.device.currentData())

    def _on_train(self) -> None:
        if not self._running:
            self.train_requested.emit(self.config())

    # ------------------------------------------------------------------ state
    def set_running(self, running: bool, *, clear_curves: bool = True) -> None:
        """Lock the options while a job runs. A training job (``clear_curves``) starts
        fresh curves; an evaluation keeps them, whatever its outcome."""
        self._running = running
        self.train_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.depth_stack.setEnabled(not running)
        for w in (self.device, self.epochs, self.patience, self.crops):
            w.setEnabled(not running)
        if running:
            self._t_start = time.monotonic()
            if clear_curves:
                self.curves.clear()
                self.plots.setCurrentWidget(self.curves)
                self.curves.set_title(f"depth {self.depth_stack.depth()}")
                self.result.setText("")
            self.progress.setRange(0, 0)
            self.progress.setFormat("preparing…")
            self.detail.setText("")

    def is_running(self) -> bool:
        return self._running

    def finish(self, message: str) -> None:
        """Back to idle; the bar gets the first word(s), the status line the whole text."""
        self.set_running(False, clear_curves=False)
        self.progress.setRange(0, 100)
        done = message.startswith(("finished", "evaluation"))
        self.progress.setValue(100 if done else self.progress.value())
        self.progress.setFormat(message.split(":")[0])
        self.detail.setText("")
        self.status.setText(message)

    # ------------------------------------------------------------------ preferences
    def preferences(self) -> dict:
        """The choices worth remembering between sessions (plain JSON values)."""
        return {"depth": self.depth_stack.depth(), "epochs": self.epochs.value(),
                "patience": self.patience.value(), "crops": self.crops.value(),
                "device": self.device.currentData()}

    def apply_preferences(self, prefs: dict) -> None:
        """Restore :meth:`preferences`; unknown or out-of-range values are skipped."""
        for key, box in (("epochs", self.epochs), ("patience", self.patience),
                         ("crops", self.crops)):
            try:
                v = int(prefs[key])
            except (KeyError, TypeError, ValueError):
                continue
            if box.minimum() <= v <= box.maximum():
                box.setValue(v)
        i = self.device.findData(prefs.get("device"))
        if i >= 0:
            self.device.setCurrentIndex(i)
        depth = prefs.get("depth")
        if isinstance(depth, str):
            try:
                self.depth_stack.set_depth(depth)
            except (KeyError, ValueError):
                pass

    # ------------------------------------------------------------------ events
    def show_event(self, ev: object) -> None:
        if isinstance(ev, tuple):
            for b in ev:
                self.curves.add_batch(b.iteration, b.loss)
            last = ev[-1] if ev else None
            if isinstance(last, BatchEnd):
                self.progress.setRange(0, last.total)
                self.progress.setValue(last.done)
                self.progress.setFormat(f"epoch {last.epoch + 1} · %p%")
                self.detail.setText(f"step {last.done} of {last.total} · "
                                    f"{_fmt_eta(last.eta_s)} left")
                self.status.setText(f"loss {last.loss:.4f} · {last.images_per_s:.0f} images/s")
        elif isinstance(ev, Progress):
            self.progress.setRange(0, max(ev.total, 1))
            self.progress.setValue(ev.done)
            self.progress.setFormat(f"{ev.stage} · %p%")
            self.detail.setText(f"{ev.stage}: {ev.done} of {ev.total}"
                                + (f" ({ev.message})" if ev.message else ""))
        elif isinstance(ev, Validated):
            if not math.isnan(ev.auc):
                self.curves.add_validation(ev.iteration, ev.epoch, ev.auc, ev.is_best)
        elif isinstance(ev, EpochEnd):
            self.status.setText(ev.summary(digits=3))
        elif isinstance(ev, Notice):
            self.status.setText(ev.message)
