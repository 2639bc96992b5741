"""FROC plot of a detection evaluation: sensitivity over lesions against false positives
per frame on a log2 axis, the requested FP rates with their 95 % CIs, the pointwise
bootstrap band and the CPM in the title; exports PNG, SVG and CSV.

The widget only draws a :class:`core.stats.froc.FrocResult` (or its ``to_dict()`` form);
:func:`froc_view` is the one place that reads the result's fields.
"""

from __future__ import annotations

import csv
import importlib
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

EXPORT_SUFFIXES = (".png", ".svg", ".csv")
CURVE_RGB = (37, 99, 235)
POINT_RGB = (245, 158, 11)
CSV_HEADER = ("kind", "fp_rate", "sensitivity", "ci_low", "ci_high")


@dataclass
class FrocView:
    """What the plot draws, read from a FROC result by :func:`froc_view`."""

    curve_fps: np.ndarray
    curve_sens: np.ndarray
    points: np.ndarray  # (k, 4): fp_rate, sensitivity, ci_low, ci_high (NaN: no CI)
    cpm: float
    cpm_ci: tuple[float, float]
    band: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # fps, lo, hi
    counts: dict[str, int] = field(default_factory=dict)
    per: str = "image"
    verdict: list[str] = field(default_factory=list)


def _f(v: Any) -> float:
    return math.nan if v is None else float(v)


def _arr(values: Any) -> np.ndarray:
    """A float array from a list (None = NaN), an array, or None (empty)."""
    return np.asarray([_f(v) for v in (() if values is None else values)], dtype=np.float64)


def froc_view(result: Any) -> FrocView:
    """Read a FROC result: a :class:`core.stats.froc.FrocResult` or its ``to_dict()``.

    Fields read: ``curve_fps``, ``curve_sens`` (or ``curve`` = (fps, sens)); ``points``,
    each with ``fp_rate``, ``sensitivity`` and ``ci`` = (lo, hi) (objects, dicts or
    4-tuples); ``cpm``, ``cpm_ci``; optional ``band_fps``, ``band_lo``, ``band_hi``,
    ``n_lesions``, ``n_images``, ``n_tp``, ``n_fp``, ``per`` and the verdict sentences.
    """
    d = result if isinstance(result, dict) else None

    def get(name: str, default: Any = None) -> Any:
        return d.get(name, default) if d is not None else getattr(result, name, default)

    if get("curve_fps") is not None:
        c_fps, c_sens = get("curve_fps"), get("curve_sens")
    else:
        c_fps, c_sens = get("curve", ((), ()))
    rows = []
    for p in get("points") or ():
        if isinstance(p, (tuple, list)):
            rows.append([_f(v) for v in p[:4]])
            continue
        pg_ = p.get if isinstance(p, dict) else (lambda k, default=None, p=p: getattr(p, k, default))
        lo, hi = pg_("ci", (None, None)) or (None, None)
        rows.append([_f(pg_("fp_rate")), _f(pg_("sensitivity")), _f(lo), _f(hi)])
    bf = _arr(get("band_fps"))
    band = (bf, _arr(get("band_lo")), _arr(get("band_hi"))) if bf.size else None
    ci = get("cpm_ci") or (None, None)
    verdict = get("verdict")
    if callable(verdict):
        try:
            verdict = verdict()
        except Exception:  # noqa: BLE001 - a verdict is a nicety; the plot stands without
            verdict = []
    counts = {k: int(get(k)) for k in ("n_lesions", "n_images", "n_groups", "n_tp", "n_fp")
              if get(k) is not None}
    return FrocView(
        curve_fps=_arr(c_fps), curve_sens=_arr(c_sens),
        points=np.asarray(rows, float).reshape(-1, 4), cpm=_f(get("cpm")),
        cpm_ci=(_f(ci[0]), _f(ci[1])), band=band, counts=counts,
        per=str(get("per", "image") or "image"), verdict=list(verdict or []))


def fp_label(v: float) -> str:
    """Tick label of log2 value ``v``: 1/8, 1/4, 1/2, 1, 2 ... (false positives)."""
    x = 2.0 ** v
    if x >= 1:
        return f"{x:g}"
    inv = 1 / x
    return f"1/{inv:g}" if abs(inv - round(inv)) < 1e-9 else f"{x:.2g}"


class Log2AxisItem(pg.AxisItem):
    """An axis whose data are log2(x): ticks at whole powers of two, labelled as x."""

    def tickValues(self, minVal, maxVal, size):  # noqa: N802
        lo, hi = math.ceil(minVal - 1e-9), math.floor(maxVal + 1e-9)
        if hi < lo:
            return super().tickValues(minVal, maxVal, size)
        step = max(1, math.ceil((hi - lo + 1) / 12))
        return [(float(step), [float(v) for v in range(lo, hi + 1, step)])]

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        return [fp_label(v) for v in values]


@contextmanager
def _svg_closed_paths() -> Iterator[None]:
    """Let pyqtgraph 0.14's SVGExporter read closed paths.

    Qt 6.12 ends closed paths with " Z", which the exporter's coordinate rewriting cannot
    parse (pyqtgraph issue #3495, fixed after 0.14.0): every plot's frame has one. The
    "Z" tokens are dropped while it rewrites coordinates; fills close on their own, and
    the outlines concerned already end at their first point.
    """
    mod = importlib.import_module("pyqtgraph.exporters.SVGExporter")
    original = mod.correctCoordinates

    def without_close(node, defs, item, options):
        for path in node.getElementsByTagName("path"):
            d = path.getAttribute("d")
            if "Z" in d or "z" in d:
                path.setAttribute("d", " ".join(t for t in d.split() if t not in ("Z", "z")))
        return original(node, defs, item, options)

    mod.correctCoordinates = without_close
    try:
        yield
    finally:
        mod.correctCoordinates = original


class _BandSample(pg.ItemSample):
    """Legend swatch of the CI band: a filled square."""

    def paint(self, p: QPainter, *args) -> None:
        p.setPen(pg.mkPen(None))
        p.setBrush(self.item.brush())
        p.drawRect(QRectF(2, 4, 16, 12))


class FrocPlotWidget(QWidget):
    """The FROC plot and its export button.

    Parameters
    ----------
    parent : QWidget, optional
    unit : str
        What false positives are counted per ("frame", "volume"); with a result of
        ``per="group"``, ``group_unit`` ("video") is used instead.
    lesions : str
        The plural noun of the lesions ("polyps", "emboli").

    Signals
    -------
    exported(str)
        The path of a file written by :meth:`export`.
    """

    exported = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, unit: str = "frame",
                 group_unit: str = "video", lesions: str = "polyps") -> None:
        super().__init__(parent)
        self.unit, self.group_unit, self.lesions = unit, group_unit, lesions
        self.view: FrocView | None = None
        self.plot = pg.PlotWidget(background="w", axisItems={"bottom": Log2AxisItem("bottom")})
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        for side in ("left", "bottom"):
            axis = self.plot.getAxis(side)
            axis.setPen(pg.mkPen(120, 120, 120))
            axis.setTextPen(pg.mkPen(50, 50, 50))
        self.plot.setLabel("left", f"sensitivity ({lesions} found)")
        self.plot.setLabel("bottom", f"false positives per {unit}")
        self.plot.setYRange(0, 1, padding=0.02)
        self.plot.setXRange(-3.5, 3.5, padding=0)
        self.band_lo = pg.PlotDataItem([], [], pen=pg.mkPen(None))
        self.band_hi = pg.PlotDataItem([], [], pen=pg.mkPen(None))
        self.band = pg.FillBetweenItem(self.band_lo, self.band_hi,
                                       brush=pg.mkBrush(*CURVE_RGB, 55))
        self.curve = pg.PlotDataItem([], [], pen=pg.mkPen(CURVE_RGB, width=2))
        self.hold = pg.PlotDataItem([], [], pen=pg.mkPen(CURVE_RGB, width=1.5,
                                                         style=Qt.PenStyle.DotLine))
        self.bars = pg.ErrorBarItem(pen=pg.mkPen(*POINT_RGB, width=2), beam=0.12)
        self.points = pg.ScatterPlotItem(size=9, brush=pg.mkBrush(*POINT_RGB),
                                         pen=pg.mkPen(120, 70, 0))
        for item in (self.band, self.curve, self.hold, self.bars, self.points):
            self.plot.addItem(item)
        self.legend = self.plot.addLegend(offset=(-10, -10), labelTextSize="8pt",
                                          brush=pg.mkBrush(255, 255, 255, 220),
                                          pen=pg.mkPen(200, 200, 200),
                                          labelTextColor=(40, 40, 40))
        self.legend.addItem(self.curve, "FROC curve")
        self.legend.addItem(self.points, "at the FP rates, 95% CI")
        self.legend.addItem(_BandSample(self.band), "95% CI band")

        self.export_button = QToolButton(self)
        self.export_button.setText("Export")
        self.export_button.setToolTip("Save the plot as PNG or SVG, or its numbers as CSV")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        for suffix, text in ((".png", "PNG image…"), (".svg", "SVG drawing…"),
                             (".csv", "CSV numbers…")):
            menu.addAction(text, lambda s=suffix: self.export_dialog(s))
        self.export_button.setMenu(menu)
        self.export_button.setEnabled(False)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addStretch(1)
        row.addWidget(self.export_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.plot, 1)
        lay.addLayout(row)
        self.setMinimumSize(320, 240)

    # -- drawing ---------------------------------------------------------------------------
    def set_result(self, result: Any) -> None:
        """Draw a FROC result (a ``FrocResult`` or its ``to_dict()``; see :func:`froc_view`)."""
        v = self.view = froc_view(result)
        pos_rates = v.points[:, 0][v.points[:, 0] > 0]
        pos_curve = v.curve_fps[v.curve_fps > 0]
        ref = pos_rates if pos_rates.size else pos_curve
        if ref.size:
            x0, x1 = math.log2(ref.min()) - 0.5, math.log2(ref.max()) + 0.5
        else:
            x0, x1 = -3.5, 3.5
        lx = lambda f: np.log2(np.maximum(np.asarray(f, float), 2.0 ** x0))  # noqa: E731
        self.curve.setData(lx(v.curve_fps), v.curve_sens)
        if v.curve_fps.size and v.curve_fps[-1] < 2.0 ** x1:  # sensitivity held beyond
            self.hold.setData([lx(v.curve_fps[-1:])[0], x1], [v.curve_sens[-1]] * 2)
        else:
            self.hold.setData([], [])
        if v.band is not None and np.isfinite(v.band[1]).any():
            bx = lx(v.band[0])
            self.band_lo.setData(bx, np.nan_to_num(v.band[1]))
            self.band_hi.setData(bx, np.nan_to_num(v.band[2]))
        else:  # no band: the points' CIs joined
            ok = np.isfinite(v.points[:, 2:]).all(axis=1) & (v.points[:, 0] > 0)
            p = v.points[ok][np.argsort(v.points[ok, 0])]
            self.band_lo.setData(lx(p[:, 0]), p[:, 2])
            self.band_hi.setData(lx(p[:, 0]), p[:, 3])
        px, py = lx(v.points[:, 0]), v.points[:, 1]
        self.points.setData(px, py)
        self.bars.setData(x=px, y=py, top=np.nan_to_num(v.points[:, 3] - py),
                          bottom=np.nan_to_num(py - v.points[:, 2]))
        per = self.group_unit if v.per == "group" else self.unit
        self.plot.setLabel("bottom", f"false positives per {per}")
        self.plot.setTitle(self.title_html(), color="#333", size="9pt")
        self.plot.setToolTip(self.tooltip_text())
        self.plot.setXRange(x0, x1, padding=0)
        self.plot.setYRange(0, 1, padding=0.02)
        self.export_button.setEnabled(True)

    def title_html(self) -> str:
        v = self.view
        if v is None:
            return ""
        ci = ""
        if all(math.isfinite(c) for c in v.cpm_ci):
            ci = f" (95% CI {v.cpm_ci[0]:.3f}–{v.cpm_ci[1]:.3f})"
        n = v.counts
        parts = [f"{n['n_lesions']} {self.lesions}" if "n_lesions" in n else "",
                 f"{n['n_images']} {self.unit}s" if "n_images" in n else "",
                 f"{n['n_tp']} found" if "n_tp" in n else "",
                 f"{n['n_fp']} false positives" if "n_fp" in n else ""]
        second = " · ".join(p for p in parts if p)
        return f"<b>CPM {v.cpm:.3f}</b>{ci}" + (f"<br>{second}" if second else "")

    def tooltip_text(self) -> str:
        """What the CPM is, and the result's verdict sentences."""
        v = self.view
        if v is None:
            return ""
        per = self.group_unit if v.per == "group" else self.unit
        rates = ", ".join(fp_label(math.log2(r)) if r > 0 else "0" for r in v.points[:, 0])
        return "\n".join([f"CPM: the mean sensitivity at {rates} false positives per {per}.",
                          *v.verdict])

    def clear_result(self) -> None:
        self.view = None
        for item in (self.curve, self.hold, self.band_lo, self.band_hi):
            item.setData([], [])
        self.points.setData([], [])
        self.bars.setData(x=np.zeros(0), y=np.zeros(0), top=np.zeros(0), bottom=np.zeros(0))
        self.plot.setTitle("")
        self.plot.setToolTip("")
        self.export_button.setEnabled(False)

    # -- export ----------------------------------------------------------------------------
    def export(self, path: str | Path, *, width: int | None = None) -> Path:
        """Write the plot (``.png``, ``.svg``) or its numbers (``.csv``) to ``path``.

        PNG ``width`` defaults to twice the plot's width on screen (at least 1200 px).
        The CSV has columns ``kind, fp_rate, sensitivity, ci_low, ci_high``: one ``point``
        row per requested FP rate, a ``cpm`` row (fp_rate empty), the ``curve`` rows and
        the ``band`` rows (sensitivity empty); a missing value is an empty cell.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in EXPORT_SUFFIXES:
            raise ValueError(f"cannot export to {path.name!r}: the name must end in one of "
                             f"{', '.join(EXPORT_SUFFIXES)}")
        if self.view is None:
            raise ValueError("no FROC result to export")
        if suffix == ".csv":
            self._write_csv(path)
        elif suffix == ".svg":
            self._write_svg(path)
        else:
            self._write_png(path, width)
        self.exported.emit(str(path))
        return path

    def _write_png(self, path: Path, width: int | None) -> None:
        # The scene drawn on an image of a higher device-pixel ratio: everything scales
        # alike, the legend and the point symbols (which ignore the view's scale) too;
        # pyqtgraph's ImageExporter enlarges the plot but not the legend.
        src = self.plot.plotItem.sceneBoundingRect()
        w = int(width or max(1200, 2 * round(src.width())))
        ratio = w / max(src.width(), 1.0)
        img = QImage(w, max(1, round(src.height() * ratio)), QImage.Format.Format_ARGB32)
        img.setDevicePixelRatio(ratio)
        img.fill(QColor(255, 255, 255))
        painter = QPainter(img)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
            self.plot.scene().render(painter, QRectF(0, 0, src.width(), src.height()), src)
        finally:
            painter.end()
        if not img.save(str(path), "PNG"):
            raise OSError(f"could not write {path}")

    def _write_svg(self, path: Path) -> None:
        from pyqtgraph.exporters import SVGExporter

        with _svg_closed_paths():
            SVGExporter(self.plot.plotItem).export(str(path))

    def _write_csv(self, path: Path) -> None:
        v = self.view

        def cell(x: float) -> str:
            return repr(float(x)) if math.isfinite(x) else ""

        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(CSV_HEADER)
            for fp, s, lo, hi in v.points:
                w.writerow(["point", cell(fp), cell(s), cell(lo), cell(hi)])
            w.writerow(["cpm", "", cell(v.cpm), cell(v.cpm_ci[0]), cell(v.cpm_ci[1])])
            for fp, s in zip(v.curve_fps, v.curve_sens):
                w.writerow(["curve", cell(fp), cell(s), "", ""])
            if v.band is not None:
                for fp, lo, hi in zip(*v.band):
                    w.writerow(["band", cell(fp), "", cell(lo), cell(hi)])

    def export_dialog(self, suffix: str) -> Path | None:
        """Ask where to save (``suffix`` .png, .svg or .csv) and export; None if cancelled."""
        kinds = {".png": "PNG image (*.png)", ".svg": "SVG drawing (*.svg)",
                 ".csv": "CSV file (*.csv)"}
        name, _ = QFileDialog.getSaveFileName(self, "Export FROC", f"froc{suffix}", kinds[suffix])
        if not name:
            return None
        if not name.lower().endswith(suffix):
            name += suffix
        return self.export(name)
