"""The CIMT results view: per interface, a box plot of the distance between the expert's
and the system's boundary per ROI (Tukey whiskers, outliers, mean ± sd beside each box),
and a Bland–Altman plot of the system's IMT against the expert's.

The widget draws numbers only; the statistics are :func:`core.stats.boxplot.tukey_box`
and :func:`core.stats.agreement.bland_altman`. :func:`cimt_view` is the one place that
reads an evaluation result's fields. The Export button writes both plots as PNG or SVG
(side by side, as on screen) and the per-ROI numbers as CSV.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QEvent, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QMenu, QToolButton, QVBoxLayout, QWidget

from .us_items import LI_RGB, MA_RGB

BOX_HALF = 0.22  # half the width of a box, in category units
IMT_RGB = (37, 99, 235)
EXPORT_SUFFIXES = (".png", ".svg", ".csv")
FIGURE_SIZE = (900, 380)  # the smallest figure exported (screen pixels; PNG at twice)
CSV_HEADER = ("roi", "li_distance", "ma_distance", "imt_system", "imt_expert", "unit")


@dataclass
class CimtView:
    """What the results view draws: per-ROI numbers and their unit."""

    distances: dict[str, np.ndarray]  # {"LI": (n,), "MA": (n,)} expert-system distance
    imt_system: np.ndarray
    imt_expert: np.ndarray
    unit: str = "mm"
    verdict: list[str] = field(default_factory=list)


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    for n in names:
        v = obj.get(n) if isinstance(obj, dict) else getattr(obj, n, None)
        if v is not None:
            return v
    return default


def _arr(v: Any) -> np.ndarray:
    a = np.asarray([math.nan if x is None else x for x in (v if v is not None else ())],
                   dtype=np.float64)
    return a.reshape(-1)


def cimt_view(result: Any) -> CimtView:
    """Read a CIMT evaluation result: a :class:`core.tasks.cimt.results.CimtResult` or
    its ``to_dict()``.

    Fields read: ``unit`` ("mm", or "px" when a test ROI has no spacing) and ``rois``,
    each with ``li_mm`` / ``ma_mm`` (or ``li_px`` / ``ma_px``, by the unit),
    ``imt_system`` and ``imt_expert``; the verdict sentences.
    """
    if isinstance(result, CimtView):
        return result
    unit = str(_get(result, "unit", default="mm"))
    rows = list(_get(result, "rois", default=()) or ())
    col = lambda *n: _arr([_get(r, *n) for r in rows])  # noqa: E731
    li, ma = col(f"li_{unit}"), col(f"ma_{unit}")
    sys_, exp = col("imt_system"), col("imt_expert")
    verdict = _get(result, "verdict", default=[])
    if callable(verdict):
        try:
            verdict = verdict()
        except Exception:  # noqa: BLE001 - a verdict is a nicety; the plots stand without
            verdict = []
    if isinstance(verdict, str):
        verdict = [verdict]
    return CimtView({"LI": li, "MA": ma}, sys_, exp, unit, list(verdict or []))


def _styled(plot: pg.PlotWidget) -> None:
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    plot.showGrid(x=False, y=True, alpha=0.25)
    for side in ("left", "bottom"):
        axis = plot.getAxis(side)
        axis.enableAutoSIPrefix(False)  # mm stay mm (no "x0.001")
        axis.setPen(pg.mkPen(120, 120, 120))
        axis.setTextPen(pg.mkPen(50, 50, 50))


class CimtResultsWidget(QWidget):
    """Box plots of boundary distances (LI, MA) and the Bland–Altman plot of IMT."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view: CimtView | None = None
        self.verdict_lines: list[str] = []
        self.boxes = pg.PlotWidget(background="w")
        self.agreement = pg.PlotWidget(background="w")
        for p in (self.boxes, self.agreement):
            _styled(p)
        self.boxes.getAxis("bottom").setTicks([[(0, "LI"), (1, "MA")]])
        self.boxes.setXRange(-0.5, 2.15, padding=0)
        self.stats: dict[str, Any] = {}
        self.bland_altman: Any = None
        self.export_button = QToolButton(self)
        self.export_button.setText("Export")
        self.export_button.setToolTip("Save the two plots as PNG or SVG, or the per-ROI "
                                      "numbers as CSV")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        for suffix, text in ((".png", "PNG image…"), (".svg", "SVG drawing…"),
                             (".csv", "CSV numbers…")):
            menu.addAction(text, lambda s=suffix: self.export_dialog(s))
        self.export_button.setMenu(menu)
        self.export_button.setEnabled(False)
        plots = QHBoxLayout()
        plots.setContentsMargins(0, 0, 0, 0)
        plots.addWidget(self.boxes, 1)
        plots.addWidget(self.agreement, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.export_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(plots, 1)
        lay.addLayout(row)
        self.setMinimumSize(420, 240)
        self.clear_result()

    # -- drawing ---------------------------------------------------------------------------
    def set_result(self, result: Any) -> None:
        """Draw a CIMT evaluation result (see :func:`cimt_view`)."""
        self.view = v = cimt_view(result)
        self._draw_boxes(v)
        self._draw_agreement(v)
        self.export_button.setEnabled(True)

    def set_data(self, li, ma, imt_system, imt_expert, unit: str = "mm") -> None:
        """Draw per-ROI numbers directly: LI and MA distances, IMT of system and expert."""
        self.set_result(CimtView({"LI": _arr(li), "MA": _arr(ma)}, _arr(imt_system),
                                 _arr(imt_expert), unit))

    def clear_result(self) -> None:
        self.view, self.stats, self.bland_altman = None, {}, None
        for p in (self.boxes, self.agreement):
            p.clear()
        self.boxes.setTitle("Boundary error per ROI", color="#333", size="9pt")
        self.agreement.setTitle("IMT agreement, Bland–Altman", color="#333", size="9pt")
        self.export_button.setEnabled(False)

    def _draw_boxes(self, v: CimtView) -> None:
        from core.stats.boxplot import tukey_box

        p = self.boxes
        p.clear()
        self.stats = {}
        top = 0.0
        for x, (name, rgb) in enumerate((("LI", LI_RGB), ("MA", MA_RGB))):
            d = v.distances.get(name, np.zeros(0))
            d = d[np.isfinite(d)]
            if not d.size:
                continue
            s = self.stats[name] = tukey_box(d)
            pen = pg.mkPen(QColor(*rgb).darker(140), width=1.5)
            box = pg.QtWidgets.QGraphicsRectItem(x - BOX_HALF, s.q1, 2 * BOX_HALF, s.q3 - s.q1)
            box.setPen(pen)
            box.setBrush(pg.mkBrush(*rgb, 90))
            p.addItem(box)
            lines = [((x - BOX_HALF, x + BOX_HALF), (s.median, s.median)),  # median
                     ((x, x), (s.q3, s.whisker_high)), ((x, x), (s.q1, s.whisker_low)),
                     ((x - BOX_HALF / 2, x + BOX_HALF / 2), (s.whisker_high,) * 2),
                     ((x - BOX_HALF / 2, x + BOX_HALF / 2), (s.whisker_low,) * 2)]
            for xs, ys in lines:
                p.addItem(pg.PlotDataItem(list(xs), list(ys),
                                          pen=pg.mkPen(QColor(*rgb).darker(160), width=2
                                                       if ys[0] == ys[1] == s.median else 1.5)))
            out = np.asarray(s.outliers, float)
            if out.size:
                p.addItem(pg.ScatterPlotItem(np.full(out.size, float(x)), out, size=7,
                                             symbol="o", pen=pg.mkPen(*rgb),
                                             brush=pg.mkBrush(255, 255, 255)))
            mx = x + BOX_HALF + 0.12  # mean ± sd beside the box
            p.addItem(pg.ErrorBarItem(x=np.array([mx]), y=np.array([s.mean]),
                                      height=np.array([2 * np.nan_to_num(s.sd)]), beam=0.06,
                                      pen=pg.mkPen(60, 60, 60, width=1.5)))
            p.addItem(pg.ScatterPlotItem([mx], [s.mean], size=8, symbol="d",
                                         brush=pg.mkBrush(60, 60, 60), pen=pg.mkPen(None)))
            sd = "n/a" if math.isnan(s.sd) else f"{s.sd:.2g}"
            label = pg.TextItem(f"{s.mean:.3g} ± {sd}", color=(40, 40, 40), anchor=(0, 0.5))
            label.setPos(mx + 0.05, s.mean)
            p.addItem(label)
            top = max(top, s.whisker_high, float(out.max()) if out.size else 0.0,
                      s.mean + np.nan_to_num(s.sd))
        p.setLabel("left", f"mean |expert − system| ({v.unit})")
        p.setLabel("bottom", "interface")
        p.setXRange(-0.5, 2.15, padding=0)
        p.setYRange(0, max(top, 1e-3) * 1.08, padding=0)
        n = max((s.n for s in self.stats.values()), default=0)
        p.setTitle(f"Boundary error per ROI (n = {n})<br><span style='font-size:7pt'>box: "
                   "quartiles · whiskers: 1.5 IQR · ◆ mean ± sd</span>", color="#333",
                   size="9pt")

    def _draw_agreement(self, v: CimtView) -> None:
        from core.stats.agreement import bland_altman

        p = self.agreement
        p.clear()
        a, b = v.imt_system, v.imt_expert
        ok = np.isfinite(a) & np.isfinite(b)
        a, b = a[ok], b[ok]
        p.setLabel("bottom", f"mean of system and expert IMT ({v.unit})")
        p.setLabel("left", f"system − expert IMT ({v.unit})")
        if a.size < 2:
            self.bland_altman = None
            p.setTitle("IMT agreement, Bland–Altman<br><span style='font-size:7pt'>needs 2 "
                       "ROIs or more</span>", color="#333", size="9pt")
            return
        ba = self.bland_altman = bland_altman(a, b)
        mean, diff = (a + b) / 2, a - b
        lo_x, hi_x = float(mean.min()), float(mean.max())
        pad = max((hi_x - lo_x) * 0.08, 1e-3)
        xs = [lo_x - pad, hi_x + pad]
        for value, style, text in ((ba.bias, Qt.PenStyle.SolidLine, "bias"),
                                   (ba.loa_low, Qt.PenStyle.DashLine, "−1.96 sd"),
                                   (ba.loa_high, Qt.PenStyle.DashLine, "+1.96 sd")):
            p.addItem(pg.PlotDataItem(xs, [value, value], pen=pg.mkPen(IMT_RGB, width=1.5,
                                                                       style=style)))
            label = pg.TextItem(f"{text} {value:+.3g}", color=IMT_RGB, anchor=(1, 1))
            label.setPos(xs[1], value)
            p.addItem(label)
        p.addItem(pg.PlotDataItem(xs, [0, 0], pen=pg.mkPen(150, 150, 150, width=1)))
        p.addItem(pg.ScatterPlotItem(mean, diff, size=8, brush=pg.mkBrush(*IMT_RGB, 160),
                                     pen=pg.mkPen(255, 255, 255)))
        span = max(abs(ba.loa_high), abs(ba.loa_low), float(np.abs(diff).max()), 1e-3)
        p.setXRange(*xs, padding=0)
        p.setYRange(-span * 1.25, span * 1.25, padding=0)
        p.setTitle(f"IMT agreement, Bland–Altman (n = {ba.n})<br><span style='font-size:7pt'>"
                   f"bias {ba.bias:+.3g} {v.unit} · limits of agreement {ba.loa_low:+.3g} to "
                   f"{ba.loa_high:+.3g}</span>", color="#333", size="9pt")

    # -- export ----------------------------------------------------------------------------
    def export(self, path: str | Path) -> Path:
        """Write both plots side by side (``.png``, ``.svg``) or the per-ROI numbers
        (``.csv``: ``roi, li_distance, ma_distance, imt_system, imt_expert, unit``; a
        missing value is an empty cell)."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in EXPORT_SUFFIXES:
            raise ValueError(f"cannot export to {path.name!r}: the name must end in one of "
                             f"{', '.join(EXPORT_SUFFIXES)}")
        if self.view is None:
            raise ValueError("no CIMT result to export")
        if suffix == ".csv":
            self._write_csv(path)
            return path
        figure = self._figure()
        try:
            if suffix == ".svg":
                figure._write_svg(path)
            else:
                figure._write_png(path)
        finally:
            if figure is not self:
                figure.deleteLater()
        return path

    def _figure(self) -> CimtResultsWidget:
        """The widget to draw a figure from: this one when it is at least
        :data:`FIGURE_SIZE` (the plots as on screen), else an off-screen copy of that size
        (a narrow side panel would clip the titles and squeeze the axes)."""
        w, h = FIGURE_SIZE
        if self.isVisible() and self.width() >= w and self.height() >= h:
            return self
        copy = CimtResultsWidget()
        copy.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        copy.resize(max(w, self.width()), max(h, self.height()))
        copy.set_result(self.view)
        copy.show()  # lays the plots out, off screen
        QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest.value)
        copy.set_result(self.view)  # ranges and labels for the final size
        copy.grab()  # one paint: the views map their items for the final size (SVG needs it)
        return copy

    def _write_csv(self, path: Path) -> None:
        v = self.view
        cols = [v.distances.get("LI", np.zeros(0)), v.distances.get("MA", np.zeros(0)),
                v.imt_system, v.imt_expert]
        n = max(len(c) for c in cols)
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(CSV_HEADER)
            for i in range(n):
                w.writerow([i + 1, *(repr(float(c[i])) if i < len(c) and
                                     math.isfinite(c[i]) else "" for c in cols), v.unit])

    def _write_png(self, path: Path) -> None:
        img = QImage(self.size() * 2, QImage.Format.Format_ARGB32)
        img.setDevicePixelRatio(2.0)
        img.fill(QColor(255, 255, 255))
        painter = QPainter(img)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            for plot in (self.boxes, self.agreement):
                plot.render(painter, QRectF(plot.geometry()))
        finally:
            painter.end()
        if not img.save(str(path), "PNG"):
            raise OSError(f"could not write {path}")

    def _write_svg(self, path: Path) -> None:
        """One SVG drawing: each plot exported by pyqtgraph's SVGExporter (vector paths,
        text as text, clipped to its axes), placed side by side as on screen (a group
        each); each plot's element ids get a prefix so that the two plots' clip paths
        stay apart."""
        from xml.dom import minidom

        from pyqtgraph.exporters import SVGExporter

        from .froc_plot import _svg_closed_paths

        parts = []
        for k, plot in enumerate((self.boxes, self.agreement)):
            with _svg_closed_paths():
                data = SVGExporter(plot.plotItem).export(toBytes=True)
            root = minidom.parseString(data).documentElement
            _prefix_ids(root, f"p{k + 1}_")
            box = [float(t) for t in root.getAttribute("viewBox").split()]
            w, h = box[2], box[3]
            x = float(plot.geometry().x()) if k else 0.0
            parts.append((root, x, w, h))
        width = max(x + w for _r, x, w, _h in parts)
        height = max(h for _r, _x, _w, h in parts)
        doc = minidom.getDOMImplementation().createDocument(None, "svg", None)
        out = doc.documentElement
        for k, v in (("xmlns", "http://www.w3.org/2000/svg"),
                     ("xmlns:xlink", "http://www.w3.org/1999/xlink"), ("version", "1.1"),
                     ("width", f"{width:g}"), ("height", f"{height:g}"),
                     ("viewBox", f"0 0 {width:g} {height:g}")):
            out.setAttribute(k, v)
        title = doc.createElement("title")
        title.appendChild(doc.createTextNode("CIMT results: boundary error per ROI and IMT "
                                             "agreement (Bland–Altman)"))
        out.appendChild(title)
        bg = doc.createElement("rect")
        for k, v in (("width", "100%"), ("height", "100%"), ("fill", "#ffffff")):
            bg.setAttribute(k, v)
        out.appendChild(bg)
        for root, x, w, h in parts:
            inner = doc.createElement("g")  # not a nested <svg>: SVG Tiny readers skip it
            inner.setAttribute("transform", f"translate({x:g},0)")
            for child in list(root.childNodes):
                if child.nodeType != child.ELEMENT_NODE or child.tagName in ("title",
                                                                             "desc"):
                    continue
                node = doc.importNode(child, True)
                if node.tagName == "rect" and node.getAttribute("width") == "100%":
                    node.setAttribute("width", f"{w:g}")  # the plot's own background
                    node.setAttribute("height", f"{h:g}")
                inner.appendChild(node)
            out.appendChild(inner)
        text = doc.toxml(encoding="UTF-8")
        path.write_bytes(text)

    def export_dialog(self, suffix: str) -> Path | None:
        """Ask where to save (``suffix`` .png, .svg or .csv) and export; None if cancelled."""
        kinds = {".png": "PNG image (*.png)", ".svg": "SVG drawing (*.svg)",
                 ".csv": "CSV file (*.csv)"}
        name, _ = QFileDialog.getSaveFileName(self, "Export CIMT results", f"cimt{suffix}",
                                              kinds[suffix])
        if not name:
            return None
        return self.export(name if name.lower().endswith(suffix) else name + suffix)


def _prefix_ids(node, prefix: str) -> None:
    """Give every ``id`` under ``node`` the ``prefix`` and rewrite the references to them
    (``url(#id)``, ``href="#id"``)."""
    if node.nodeType != node.ELEMENT_NODE:
        return
    for name, value in list(node.attributes.items()):
        if name == "id":
            node.setAttribute(name, prefix + value)
        elif "url(#" in value:
            node.setAttribute(name, value.replace("url(#", "url(#" + prefix))
        elif name in ("href", "xlink:href") and value.startswith("#"):
            node.setAttribute(name, "#" + prefix + value[1:])
    for child in node.childNodes:
        _prefix_ids(child, prefix)
