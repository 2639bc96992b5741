"""The snakes' parameters in the CIMT workspace: a dialog, and where the project keeps them.

The parameters are :class:`core.tasks.cimt.snake.SnakeParams`. The dialog shows the ones
an expert tunes (tension, rigidity, pull to the map or to its edges, smoothing of the
map, the step, the largest move, iterations, convergence, ends), each with a plain
explanation in its tooltip; ``vertical_only`` and ``inside`` stay on (IMT and the
boundary distances need one row per column inside the ROI). Values are checked as they
are typed (ranges, the core's own checks, a trial run that catches a singular system);
*Defaults* puts back the core's defaults; *Apply* and *OK* re-converge the open frame's
snakes.

The project keeps the fields that differ from the defaults (project setting
:data:`SETTING`, a JSON object field -> value), so a project made with the defaults
follows the core's defaults if they change; the same object is the task option
``snake`` of training runs, so evaluation converges its snakes the same way.
"""

from __future__ import annotations

import math
from dataclasses import asdict, fields, replace

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.tasks.cimt.snake import ENDS, SnakeParams

__all__ = ["SETTING", "SnakeSettingsDialog", "check_params", "describe", "load_params",
           "options_of", "params_from", "save_params"]

SETTING = "cimt/snake"

# name, label, unit suffix, minimum, maximum, decimals (None: whole number), tooltip
FIELDS: tuple[tuple[str, str, str, float, float, int | None, str], ...] = (
    ("alpha", "Tension", "", 0.0, 10.0, 4,
     "How strongly the snake resists stretching (alpha). Larger values pull it shorter and "
     "straighter between its ends; 0 = no tension."),
    ("beta", "Rigidity", "", 0.0, 100.0, 4,
     "How strongly the snake resists bending (beta). Larger values give a smoother boundary "
     "that ignores small bumps of the map, and spread a dragged point's correction over "
     "more columns; smaller values follow the map closely."),
    ("w_line", "Pull to the ridge", "", -10.0, 10.0, 3,
     "Weight of the confidence map itself (w_line). Positive pulls the snake onto the "
     "ridge of high LI / MA confidence (the usual choice); negative pushes it away; 0 "
     "ignores it."),
    ("w_edge", "Pull to edges", "", -10.0, 10.0, 3,
     "Weight of the map's edges (w_edge, Sobel gradient magnitude): pulls the snake to "
     "where the confidence changes steeply rather than to its ridge. 0 ignores edges."),
    ("sigma", "Map smoothing", " px", 0.0, 20.0, 2,
     "Gaussian blur of the confidence map before the snake reads it, in pixels (sigma). "
     "A little widens the pull of a thin ridge so the snake finds it from further away; "
     "too much blurs LI and MA together. 0 = none."),
    ("gamma", "Step damping", "", 0.001, 0.5, 3,
     "Time-step parameter (gamma): each iteration moves a point by the image force "
     "divided by gamma, before the cap below. Smaller values move faster but the snake "
     "may end oscillating around the boundary; it becomes unstable near 1, so at most "
     "0.5 here."),
    ("max_px_move", "Largest move", " px", 0.01, 10.0, 2,
     "The most a point may move in one iteration, in pixels (max_px_move)."),
    ("max_iterations", "Iterations (most)", "", 1, 100000, None,
     "The snake stops after this many iterations if it has not converged before "
     "(max_iterations)."),
    ("convergence", "Convergence", " px", 0.0, 10.0, 3,
     "The snake has converged when no point is further than this (pixels) from where it "
     "was in one of the last ten iterations (convergence); 0 always runs every "
     "iteration."),
)
ENDS_TIP = ("How the snake's ends behave (boundary condition): free ends slide to where "
            "the map pulls them; fixed ends stay where the thinned boundary starts and "
            "ends; fixed-free / free-fixed fix only the first / last (left / right) end.")
SHOWN = tuple(f[0] for f in FIELDS) + ("ends",)
STEPS = {"alpha": 0.005, "beta": 0.05, "gamma": 0.01, "max_px_move": 0.1, "sigma": 0.25,
         "convergence": 0.05}  # arrow-key steps (others: 0.1, or 1 for whole numbers)


def options_of(params: SnakeParams) -> dict:
    """The fields of ``params`` that differ from the defaults (JSON values)."""
    default = asdict(SnakeParams())
    return {k: v for k, v in asdict(params).items() if v != default[k]}


def params_from(options) -> SnakeParams:
    """SnakeParams from stored options; unknown fields are skipped, and a value the core
    refuses gives the defaults (ValueError is not raised)."""
    known = {f.name for f in fields(SnakeParams)}
    opts = ({k: v for k, v in options.items() if k in known}
            if isinstance(options, dict) else {})
    try:
        return SnakeParams(**opts)
    except (TypeError, ValueError):
        return SnakeParams()


def load_params(project) -> SnakeParams:
    """The project's snake parameters (the defaults when none are set)."""
    return params_from(project.get_setting(SETTING, {}))


def save_params(project, params: SnakeParams) -> None:
    project.set_setting(SETTING, options_of(params))


def check_params(params: SnakeParams) -> str:
    """Why these parameters cannot drive a snake ("" when they can)."""
    if params.w_line == 0 and params.w_edge == 0:
        return ("with both pulls at 0 the snake ignores the confidence map: give the ridge "
                "or the edges a weight")
    from core.tasks.cimt.snake import open_snake

    ridge = np.exp(-0.5 * ((np.arange(12.0)[:, None] - 5) / 2) ** 2) * np.ones((1, 12))
    init = np.column_stack([np.full(6, 4.0), np.arange(3.0, 9.0)])
    try:  # a few steps on a tiny ridge: catches a singular system before it is used
        with np.errstate(all="raise"):
            out = open_snake(ridge, init, replace(params, max_iterations=3))
    except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
        return str(exc)
    if not np.isfinite(out).all():
        return "these parameters make the snake diverge; raise gamma or lower the weights"
    return ""


def describe(params: SnakeParams) -> str:
    """A short line: the parameters that differ from the defaults, or "defaults"."""
    opts = {k: v for k, v in options_of(params).items() if k in SHOWN}
    if not opts:
        return "default snake parameters"
    labels = {f[0]: f[1].lower() for f in FIELDS} | {"ends": "ends"}

    def fmt(v) -> str:
        return f"{v:g}" if isinstance(v, float) and math.isfinite(v) else str(v)

    return "snake: " + ", ".join(f"{labels.get(k, k)} {fmt(v)}" for k, v in opts.items())


class SnakeSettingsDialog(QDialog):
    """The snake parameters, with Defaults, Apply, OK and Cancel.

    Signals
    -------
    applied(object)
        The :class:`SnakeParams` chosen, on Apply and on OK (valid ones only).
    """

    applied = Signal(object)

    def __init__(self, params: SnakeParams, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Snake parameters")
        self._base = params  # fields not shown (vertical_only, inside) keep their values
        self.fields: dict[str, QAbstractSpinBox | QComboBox] = {}
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        for name, label, suffix, lo, hi, decimals, tip in FIELDS:
            if decimals is None:
                box = QSpinBox()
                box.setRange(int(lo), int(hi))
            else:
                box = QDoubleSpinBox()
                box.setDecimals(decimals)
                box.setRange(lo, hi)
                box.setSingleStep(STEPS.get(name, 0.1))
            box.setSuffix(suffix)
            box.setToolTip(f"{tip}\nDefault: {getattr(SnakeParams(), name):g}")
            box.setMinimumWidth(110)
            box.valueChanged.connect(self._check)
            self.fields[name] = box
            lab = QLabel(label)
            lab.setToolTip(box.toolTip())
            form.addRow(lab, box)
        ends = QComboBox()
        for e in ENDS:
            ends.addItem(e, e)
        ends.setToolTip(f"{ENDS_TIP}\nDefault: {SnakeParams().ends}")
        ends.currentIndexChanged.connect(self._check)
        self.fields["ends"] = ends
        lab = QLabel("Ends")
        lab.setToolTip(ENDS_TIP)
        form.addRow(lab, ends)
        self.problem = QLabel("")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #b91c1c")
        note = QLabel("Points move along their column only and stay inside the ROI. "
                      "Apply or OK re-converges the snakes of the open frame; the project "
                      "keeps these values (evaluation uses them too).")
        note.setWordWrap(True)
        note.setStyleSheet("color: #555")
        B = QDialogButtonBox.StandardButton  # noqa: N806
        self.buttons = QDialogButtonBox(B.RestoreDefaults | B.Apply | B.Ok | B.Cancel)
        defaults = self.buttons.button(B.RestoreDefaults)
        defaults.setText("Defaults")
        defaults.setToolTip("Put back the default values (Apply or OK to use them)")
        defaults.clicked.connect(self.set_defaults)
        self.buttons.button(B.Apply).clicked.connect(self.apply)
        self.buttons.accepted.connect(self._ok)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(note)
        lay.addWidget(self.problem)
        lay.addWidget(self.buttons)
        self.set_params(params)

    # -- values ----------------------------------------------------------------------------
    def set_params(self, params: SnakeParams) -> None:
        """Show ``params`` in the fields."""
        for name in SHOWN:
            w = self.fields[name]
            w.blockSignals(True)
            if isinstance(w, QComboBox):
                w.setCurrentIndex(max(w.findData(params.ends), 0))
            else:
                w.setValue(getattr(params, name))
            w.blockSignals(False)
        self._check()

    def set_defaults(self) -> None:
        self.set_params(replace(SnakeParams(), vertical_only=self._base.vertical_only,
                                inside=self._base.inside))

    def values(self) -> dict:
        out = {}
        for name in SHOWN:
            w = self.fields[name]
            out[name] = w.currentData() if isinstance(w, QComboBox) else w.value()
        return out

    def params(self) -> SnakeParams | None:
        """The parameters in the fields, or None when they are not valid (the reason is
        shown below the fields)."""
        try:
            p = replace(self._base, **self.values())
        except (TypeError, ValueError) as exc:
            self._show_problem(str(exc))
            return None
        problem = check_params(p)
        self._show_problem(problem)
        return None if problem else p

    def _show_problem(self, text: str) -> None:
        self.problem.setText(f"⚠ {text}" if text else "")
        B = QDialogButtonBox.StandardButton  # noqa: N806
        for b in (B.Ok, B.Apply):
            self.buttons.button(b).setEnabled(not text)

    def _check(self, *_args) -> None:
        self.params()

    # -- buttons ---------------------------------------------------------------------------
    def apply(self) -> bool:
        """Emit ``applied`` with valid parameters; False (nothing emitted) otherwise."""
        p = self.params()
        if p is None:
            return False
        self.applied.emit(p)
        return True

    def _ok(self) -> None:
        if self.apply():
            self.accept()
