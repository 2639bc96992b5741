"""The label-budget view: performance against the number of labels, with 95 % CIs, the
fitted learning curve extrapolated beyond the data with its uncertainty band, and the
answer to "about how many labels to reach the target I type".

The fit is :func:`core.stats.learning_curve.learning_curve_fit` (inverse power law,
Figueroa et al., BMC Med Inform Decis Mak 12:8, 2012); this widget only draws it and
asks it :meth:`labels_needed` for the typed target.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from .live_curves import run_colour


def _finite(v) -> np.ndarray:
    return np.asarray([math.nan if x is None else x for x in (v if v is not None else ())],
                      float)


class LabelBudgetWidget(QWidget):
    """Draws ``{group: {"n", "perf", "ci", "metric", "fit"...}}`` (the report's budget
    data, :func:`core.report.providers.budget_curves`) and re-asks each group's fitted
    model for the labels needed when the target changes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="w")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLabel("bottom", "labelled items used for training")
        self.plot.setLabel("left", "performance")
        self.plot.setMouseEnabled(x=False, y=False)
        for axis in ("left", "bottom"):  # 0.12 is 0.12, not "120 (x0.001)"
            self.plot.getAxis(axis).enableAutoSIPrefix(False)
        self.target = QDoubleSpinBox(minimum=0.01, maximum=1.0, singleStep=0.01, value=0.9,
                                     decimals=3)
        self.target.setToolTip("The performance you want (e.g. AUC 0.9, or sensitivity 0.9 "
                               "at 10 % FPR when the experiment measures that)")
        self.target.valueChanged.connect(self._redraw)
        self.answer = QLabel("")
        self.answer.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("Target"))
        row.addWidget(self.target)
        row.addWidget(self.answer, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(row)
        lay.addWidget(self.plot, 1)
        self.groups: dict = {}
        self.fits: dict = {}
        self.note = ""

    def set_budget(self, groups: dict | None, target: float | None = None) -> None:
        """Draw ``groups``; each group's fitted curve is its ``fit["model"]`` (fitted by
        the board's statistics job, never here: a bootstrap of refits takes seconds)."""
        self.groups = dict(groups or {})
        self.fits = {name: (d.get("fit") or {}).get("model") for name, d in self.groups.items()}
        if target is not None and 0 < float(target) <= 1:
            self.target.blockSignals(True)
            self.target.setValue(float(target))
            self.target.blockSignals(False)
        self._redraw()

    def needed(self, name: str):
        """:class:`core.stats.learning_curve.LabelsNeeded` of group ``name`` for the typed
        target, or None (no fit: fewer than 3 runs, or the fit failed)."""
        fit = self.fits.get(name)
        if fit is None:
            return None
        try:
            return fit.labels_needed(float(self.target.value()))
        except ValueError:
            return None

    def _answer(self, name: str, got, have: float) -> str:
        """The sentence for group ``name`` (``got``: its :meth:`needed`): labels needed
        with its interval, or why not."""
        target = float(self.target.value())
        if got is None:
            return f"{name}: no learning-curve fit (it needs 3 or more evaluated runs)"
        if not got.reachable:
            return (f"{name}: {target:g} is not reachable on this curve: it levels off below "
                    f"it ({100 * got.share_reachable:.0f} % of bootstrap fits reach it)")
        hi = "no upper bound" if math.isinf(got.hi) else f"{got.hi:,.0f}"
        more = (f"; about {max(got.estimate - have, 0):,.0f} more than the {have:,.0f} "
                "used now" if math.isfinite(have) else "")
        return (f"{name}: about {got.estimate:,.0f} labels to reach {target:g} (95 % "
                f"{got.lo:,.0f} to {hi}){more}")

    def _redraw(self) -> None:
        p = self.plot
        p.clear()
        legend = p.addLegend(offset=(-8, -8), labelTextSize="8pt",
                             brush=pg.mkBrush(255, 255, 255, 220), pen=pg.mkPen(200, 200, 200),
                             labelTextColor=(40, 40, 40))
        if not self.groups:
            p.setTitle("a label-budget or reduced-data experiment draws its curve here",
                       color="#666", size="9pt")
            self.answer.setText("")
            return
        target = float(self.target.value())
        answers = []
        for i, (name, d) in enumerate(self.groups.items()):
            c = run_colour(i)
            n, perf = _finite(d.get("n")), _finite(d.get("perf"))
            p.setLabel("left", str(d.get("metric") or "performance"))
            ci = d.get("ci")
            if ci is not None and len(ci) == len(n):
                lo, hi = _finite([v[0] for v in ci]), _finite([v[1] for v in ci])
                p.addItem(pg.ErrorBarItem(x=n, y=perf, top=np.nan_to_num(hi - perf),
                                          bottom=np.nan_to_num(perf - lo), beam=0,
                                          pen=pg.mkPen(c, width=1.5)))
            pts = pg.ScatterPlotItem(n, perf, size=8, brush=pg.mkBrush(*c))
            p.addItem(pts)
            legend.addItem(pts, f"{name} runs")
            fit = d.get("fit")
            if fit:
                fn, fp = _finite(fit.get("n")), _finite(fit.get("perf"))
                inside = fn <= np.nanmax(n)
                p.plot(fn[inside], fp[inside], pen=pg.mkPen(c, width=2))
                p.plot(fn[~inside], fp[~inside],
                       pen=pg.mkPen(c, width=2, style=pg.QtCore.Qt.PenStyle.DashLine))
                if fit.get("lo") is not None and fit.get("hi") is not None:
                    # an invisible pen, not None: with no pen there is no path to fill
                    lo_i = pg.PlotDataItem(fn, np.nan_to_num(_finite(fit["lo"])),
                                           pen=pg.mkPen(None))
                    hi_i = pg.PlotDataItem(fn, np.nan_to_num(_finite(fit["hi"])),
                                           pen=pg.mkPen(None))
                    p.addItem(pg.FillBetweenItem(lo_i, hi_i, brush=pg.mkBrush(*c, 40)))
            have = float(np.nanmax(n)) if n.size else math.nan
            got = self.needed(name)
            answers.append(self._answer(name, got, have))
            if got is not None and got.reachable and math.isfinite(got.estimate):
                p.addItem(pg.InfiniteLine(got.estimate, angle=90, pen=pg.mkPen(
                    c, style=pg.QtCore.Qt.PenStyle.DotLine)))
        p.addItem(pg.InfiniteLine(target, angle=0,
                                  pen=pg.mkPen((100, 100, 100), style=pg.QtCore.Qt.PenStyle.DotLine)))
        p.setTitle("performance against labels, 95 % CIs; dashed: extrapolation",
                   color="#333", size="9pt")
        self.answer.setText("<br>".join(answers))
