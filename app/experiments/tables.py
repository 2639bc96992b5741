"""The board's tables: one row per run, and the pairwise p-values (p < .05 marked).

Both are plain :class:`QTableWidget` views of numbers computed elsewhere, and both export
what they show as CSV.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from app.session import fmt_duration

from .api import RunResult
from .evidence import ALPHA, Pairwise

SIGNIFICANT = QColor(255, 222, 173)  # light orange behind p < .05


def _fmt(v: float | None, digits: int = 3) -> str:
    return "–" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


def _ci(lo: float, hi: float) -> str:
    return "–" if not (math.isfinite(lo) and math.isfinite(hi)) else f"{lo:.3f}–{hi:.3f}"


def run_rows(runs: list[RunResult]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the per-run table: the metric with its CI, the sensitivity at
    each operating point with its CI, training time, images/s, device."""
    metric = next((r.metric_name for r in runs if r.result is not None), "AUC")
    ops: list[float] = []
    for r in runs:
        for p in r.points:
            if not any(abs(p[0] - o) < 1e-9 for o in ops):
                ops.append(p[0])
    op_word = "FPR" if metric == "AUC" else "FP"
    head = ["run", "configuration", "status", metric, "95 % CI",
            *[f"sens @ {o * 100:g} % {op_word}" if metric == "AUC" else f"sens @ {o:g} {op_word}"
              for o in ops],
            "training time", "images/s", "device"]
    rows = []
    for r in runs:
        by = {round(p[0], 9): p for p in r.points}
        cells = []
        for o in ops:
            p = by.get(round(o, 9))
            cells.append("–" if p is None else f"{p[1]:.3f} ({_ci(p[2], p[3])})")
        rows.append([str(r.run_id), r.label, r.status, _fmt(r.metric), _ci(*r.metric_ci),
                     *cells, fmt_duration(r.seconds),
                     "–" if r.images_per_s is None else f"{r.images_per_s:.0f}", r.device or "–"])
    return head, rows


def write_csv(path: str | Path, head: list[str], rows: list[list[str]]) -> Path:
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(head)
        w.writerows(rows)
    return path


class _Table(QTableWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setVisible(False)
        self.head: list[str] = []
        self.rows: list[list[str]] = []

    def fill(self, head: list[str], rows: list[list[str]]) -> None:
        self.head, self.rows = head, rows
        self.clear()
        self.setColumnCount(len(head))
        self.setRowCount(len(rows))
        self.setHorizontalHeaderLabels(head)
        for i, row in enumerate(rows):
            for j, text in enumerate(row):
                item = QTableWidgetItem(text)
                if j >= 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(i, j, item)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)

    def export_csv(self, path: str | Path) -> Path:
        if not self.rows:
            raise ValueError("the table is empty")
        return write_csv(path, self.head, self.rows)


class RunsTableWidget(_Table):
    """One row per run of the experiment."""

    def set_runs(self, runs: list[RunResult], recommended: str | None = None) -> None:
        self.fill(*run_rows(runs))
        if recommended is None:
            return
        bold = QFont(self.font())
        bold.setBold(True)
        for i, r in enumerate(runs):
            if r.label == recommended or r.depth == recommended:
                for j in range(self.columnCount()):
                    self.item(i, j).setFont(bold)
                self.item(i, 1).setText(f"{r.label}  ← recommended")
                self.rows[i][1] = f"{r.label} (recommended)"
                break


class PairwiseTableWidget(_Table):
    """The p-value of every pair of runs; p < .05 bold on orange, with an asterisk."""

    def set_pairwise(self, pw: Pairwise) -> None:
        n = len(pw.labels)
        head = ["", *pw.labels]
        rows = []
        for i in range(n):
            row = [pw.labels[i]]
            for j in range(n):
                v = pw.p[i, j]
                if i == j:
                    row.append("")
                elif not np.isfinite(v):
                    row.append("–")
                else:
                    row.append(f"{v:.3g}" + (" *" if v < ALPHA else ""))
            rows.append(row)
        self.fill(head, rows)
        bold = QFont(self.font())
        bold.setBold(True)
        for i in range(n):
            for j in range(n):
                if i != j and pw.significant(i, j):
                    it = self.item(i, j + 1)
                    it.setBackground(QBrush(SIGNIFICANT))
                    it.setFont(bold)
                    d = None if pw.diff is None else pw.diff[i, j]
                    tip = f"p = {pw.p[i, j]:.4g} < {ALPHA:g}: significant"
                    if d is not None and np.isfinite(d):
                        tip += f"; {pw.labels[i]} − {pw.labels[j]} = {d:+.3f}"
                    it.setToolTip(tip)
