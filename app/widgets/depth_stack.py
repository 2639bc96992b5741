"""The fine-tuning depth selector, drawn as AlexNet's layer stack (SPEC §2.2).

Tajbakhsh et al., IEEE TMI 2016, Table II: a depth names the lowest layer that is
tuned; it and every layer above it learn, the layers below stay frozen at their
ImageNet weights. ``scratch`` trains every layer from a random initialisation.
The numbers come from :func:`core.train.model.schedule`; this widget only shows and edits
them.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import (
    QFontMetrics,
    QValidator,
)
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.train import model as core_model
from core.train.model import DEPTHS, INITS, Schedule

from .layer_stack import LAYER_INFO, LayerStackCanvas, fmt_rate

# The form's fields: keyword of core.train.model.schedule, label, range, spin step (None:
# adaptive, for rates spanning decades), tooltip.
_FIELDS: tuple[tuple[str, str, float, float, float | None, str], ...] = (
    ("base_lr", "Weight rate (tuned layers)", 1e-7, 1.0, None,
     "Weight learning rate of every tuned layer except fc8 (Table II: 0.001)."),
    ("fc8_lr", "fc8 weight rate", 1e-7, 1.0, None,
     "Weight learning rate of the new fc8 layer (Table II: 0.01 when fine-tuning, "
     "0.001 from scratch). Follows the depth until you edit it."),
    ("bias_factor", "Bias rate factor", 0.01, 100.0, 0.5,
     "Each bias learns this many times faster than its layer's weights (Table II: 2)."),
    ("momentum", "Momentum", 0.0, 0.999, 0.01, "SGD momentum (Table II: 0.9)."),
    ("gamma", "Decay per epoch γ", 0.01, 1.0, 0.01,
     "After every epoch all rates are multiplied by γ (Table II: 0.95)."),
)  # fmt: skip
_TABLE_II = {"base_lr": 0.001, "bias_factor": 2.0, "momentum": 0.9, "gamma": 0.95}




class _RateSpinBox(QDoubleSpinBox):
    """A spin box that shows learning rates as 0.001, not 0.00100000."""

    def __init__(self, lo: float, hi: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(10)
        self.setRange(lo, hi)
        self.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        self.setKeyboardTracking(False)
        self.setAlignment(Qt.AlignmentFlag.AlignRight)

    def textFromValue(self, value: float) -> str:  # noqa: N802 (Qt override)
        return fmt_rate(value)

    def valueFromText(self, text: str) -> float:  # noqa: N802 (Qt override)
        try:
            return float(text.replace(",", "."))
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:
        # Accept anything that can become a float while typing ("1e-", "0."), so that
        # rates can be typed in scientific notation.
        t = text.replace(",", ".").strip()
        try:
            v = float(t)
        except ValueError:
            ok = t == "" or t[-1] in "eE.-+" or t in ("-", "+")
            return QValidator.State.Intermediate if ok else QValidator.State.Invalid
        state = (
            QValidator.State.Acceptable
            if self.minimum() <= v <= self.maximum()
            else QValidator.State.Intermediate
        )
        return state


class DepthStackWidget(QWidget):
    """Pick the fine-tuning depth on AlexNet's layer stack and edit Table II's rates.

    Click a layer to tune it and every layer above it (Up/Down move the depth when the
    stack has focus); tick *Train from scratch* to train all layers from a random
    initialisation chosen in the combo. The fc8 rate follows the depth (0.01 when
    fine-tuning, the base rate for scratch) until the user edits it. Disable the
    widget while training to lock the choice.

    Signals
    -------
    schedule_changed(object)
        The new :class:`core.train.model.Schedule`, after any change of depth or rate.
    depth_changed(str)
        One of :data:`core.train.model.DEPTHS`.
    init_changed(str)
        One of :data:`core.train.model.INITS` (only meaningful for ``scratch``).
    """

    schedule_changed = Signal(object)
    depth_changed = Signal(str)
    init_changed = Signal(str)

    def __init__(
        self, parent: QWidget | None = None, *, depth: str = "conv1", n_classes: int = 2
    ) -> None:
        super().__init__(parent)
        if depth not in DEPTHS:
            raise ValueError(f"unknown depth {depth!r}; choose one of {', '.join(DEPTHS)}")
        self._depth = depth
        self._last_finetune = depth if depth != "scratch" else "conv1"
        self._n_classes = n_classes
        self._fc8_edited = False

        self._canvas = LayerStackCanvas(self)
        self._canvas.layer_clicked.connect(self.set_depth)
        self._canvas.step_requested.connect(self._step)

        self._scratch = QCheckBox("Train from scratch")
        self._scratch.setObjectName("scratch")
        self._scratch.setToolTip(
            "Train every layer from a random initialisation instead of starting from "
            "the ImageNet weights (Table II: all rates 0.001)."
        )
        self._scratch.toggled.connect(self._on_scratch_toggled)
        self._init = QComboBox()
        self._init.setObjectName("init")
        self._init.addItems(list(INITS))
        self._init.setToolTip(
            "Initialisation for training from scratch: caffe (the BVLC AlexNet recipe: "
            "Gaussian 0.01/0.005, biases 0.1 on conv2/4/5, fc6/7), caffe_xavier, gaussian "
            "(biases 0), xavier (Glorot) or msra (He)."
        )
        self._init.currentTextChanged.connect(self.init_changed)
        self._init_label = QLabel("init")
        init_row = QHBoxLayout()
        init_row.addWidget(self._scratch)
        init_row.addStretch(1)
        init_row.addWidget(self._init_label)
        init_row.addWidget(self._init)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._spins: dict[str, _RateSpinBox] = {}
        for key, label, lo, hi, step, tip in _FIELDS:
            spin = _RateSpinBox(lo, hi, self)
            spin.setObjectName(key)
            spin.setToolTip(tip)
            if step is not None:
                spin.setStepType(QAbstractSpinBox.StepType.DefaultStepType)
                spin.setSingleStep(step)
            spin.valueChanged.connect(
                self._on_fc8_edited if key == "fc8_lr" else self._on_rate_edited
            )
            self._spins[key] = spin
            if key == "fc8_lr":  # with its "auto"/"edited" state beside it
                self._fc8_state = QLabel()
                self._fc8_state.setObjectName("fc8_state")
                fm = QFontMetrics(self.font())
                self._fc8_state.setMinimumWidth(fm.horizontalAdvance("edited") + 4)
                row = QHBoxLayout()
                row.addWidget(spin, 1)
                row.addWidget(self._fc8_state)
                form.addRow(label, row)
            else:
                form.addRow(label, spin)
        self._reset = QPushButton("Reset to Table II")
        self._reset.setObjectName("reset")
        self._reset.setToolTip("Restore the paper's values (Tajbakhsh et al. 2016, Table II).")
        self._reset.clicked.connect(self.reset_to_table_ii)
        reset_row = QHBoxLayout()
        reset_row.addStretch(1)
        reset_row.addWidget(self._reset)
        form.addRow(reset_row)
        box = QGroupBox("Learning parameters")
        box.setLayout(form)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self._canvas)
        lay.addLayout(init_row)
        lay.addWidget(box)
        lay.addStretch(1)
        self.reset_to_table_ii()

    # -------------------------------------------------------------------- API
    def depth(self) -> str:
        """The chosen depth, one of :data:`core.train.model.DEPTHS`."""
        return self._depth

    def init(self) -> str:
        """The scratch initialisation, one of :data:`core.train.model.INITS`."""
        return self._init.currentText()

    def set_init(self, init: str) -> None:
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
        self._init.setCurrentText(init)

    def n_classes(self) -> int:
        return self._n_classes

    def set_n_classes(self, n: int) -> None:
        """Number of fc8 outputs shown on the fc8 block (2, or 3 for CIMT)."""
        self._n_classes = int(n)
        self._canvas.update()

    def set_depth(self, depth: str) -> None:
        """Tune ``depth`` and every layer above it (or everything, for ``scratch``)."""
        if depth not in DEPTHS:
            raise ValueError(f"unknown depth {depth!r}; choose one of {', '.join(DEPTHS)}")
        if depth == self._depth:
            return
        self._depth = depth
        if depth != "scratch":
            self._last_finetune = depth
        self._changed(depth_too=True)

    def schedule(self) -> Schedule:
        """The Table II schedule of the current depth with the form's values."""
        v = {key: spin.value() for key, spin in self._spins.items()}
        # None lets core apply the paper's fc8 rule itself, so an untouched form gives
        # exactly core.train.model.schedule(depth).
        v["fc8_lr"] = v["fc8_lr"] if self._fc8_edited else None
        return core_model.schedule(self._depth, **v)

    def set_schedule(self, sched: Schedule) -> None:
        """Show a saved schedule (depth and rates), e.g. when reopening a run."""
        tuned = [ls for ls in sched.layers if ls.tuned and ls.layer != "fc8"]
        base = tuned[0].weight_lr if tuned else self._spins["base_lr"].value()
        fc8 = sched.layer("fc8")
        self._set_values(
            base_lr=base,
            bias_factor=fc8.bias_lr / fc8.weight_lr,
            momentum=sched.momentum,
            gamma=sched.gamma,
            fc8_lr=fc8.weight_lr,
        )
        auto = base if sched.depth == "scratch" else 10.0 * base
        self._fc8_edited = abs(fc8.weight_lr - auto) > 1e-12 * auto
        self._depth = sched.depth
        if sched.depth != "scratch":
            self._last_finetune = sched.depth
        self._changed(depth_too=True)

    def reset_to_table_ii(self) -> None:
        """Restore the paper's rates; fc8 follows the depth again."""
        self._set_values(**_TABLE_II)
        self._fc8_edited = False
        self._changed()

    # ---------------------------------------------------------------- private
    def _set_values(self, **values: float) -> None:
        """Set spin boxes without it counting as the user's edit."""
        for key, v in values.items():
            with QSignalBlocker(self._spins[key]):
                self._spins[key].setValue(v)

    def _changed(self, depth_too: bool = False) -> None:
        if not self._fc8_edited:
            base = self._spins["base_lr"].value()
            self._set_values(fc8_lr=base if self._depth == "scratch" else 10.0 * base)
        self._sync_controls()
        if depth_too:
            self.depth_changed.emit(self._depth)
        self.schedule_changed.emit(self.schedule())

    def _on_fc8_edited(self, _value: float) -> None:
        self._fc8_edited = True
        self._changed()

    def _on_rate_edited(self, _value: float) -> None:
        self._changed()

    def _on_scratch_toggled(self, on: bool) -> None:
        self.set_depth("scratch" if on else self._last_finetune)

    def _step(self, delta: int) -> None:
        i = min(max(DEPTHS.index(self._depth) + delta, 0), len(DEPTHS) - 1)
        self.set_depth(DEPTHS[i])

    def _sync_controls(self) -> None:
        scratch = self._depth == "scratch"
        with QSignalBlocker(self._scratch):
            self._scratch.setChecked(scratch)
        self._init.setEnabled(scratch)
        self._init_label.setEnabled(scratch)
        self._fc8_state.setText("edited" if self._fc8_edited else "auto")
        self._fc8_state.setToolTip(
            "You set this rate; it no longer follows the depth. Reset to Table II to undo."
            if self._fc8_edited
            else "Follows the depth: 10× the base rate when fine-tuning, the base rate "
            "from scratch."
        )
        self._canvas.update()

    def _layer_tooltip(self, layer: str) -> str:
        ls = self.schedule().layer(layer)
        desc = LAYER_INFO[layer][1].format(c=self._n_classes)
        if ls.tuned:
            state = f"trained · weight rate {fmt_rate(ls.weight_lr)}, bias rate {fmt_rate(ls.bias_lr)}"
        else:
            state = "frozen at its ImageNet weights"
        here = self._depth != "scratch" and layer == self._depth
        action = "Fine-tuning starts here." if here else "Click to fine-tune from here up."
        return f"<b>{layer}</b> — {desc}<br>{state}<br><i>{action}</i>"
