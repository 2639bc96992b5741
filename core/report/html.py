"""The experiment report: one self-contained HTML file.

:func:`write_report` gathers an experiment from the project database
(:func:`core.report.collect.collect`), its pairwise tests, recommendation and budget
curve (:mod:`core.report.evidence`), draws the figures headless
(:mod:`core.report.figures`) and writes a single HTML file: figures embedded as base64
PNG ``data:`` URIs, the style sheet inline, no script, no link to anything outside the
file — it can be mailed or archived as it is.
"""

from __future__ import annotations

import math
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from core.report import html_parts as hp
from core.report._mpl import ReportUnavailable
from core.report.collect import ReportData, collect
from core.report.evidence import Evidence, gather
from core.report.figures import figure_png, png_data_uri, result_figure_kinds
from core.report.plots_curves import has_curve
from core.report.results import FP_UNITS, fmt, fmt_ci

KIND_TITLES = {"depth": "Depth sweep", "data": "Reduced training data",
               "convergence": "Convergence", "budget": "Label budget"}


class Figure:
    """One embedded figure: a stable id (``data-figure``), caption and PNG bytes."""

    def __init__(self, key: str, caption: str, png: bytes) -> None:
        self.key, self.caption, self.png = key, caption, png

    def html(self) -> str:
        return (f'<figure data-figure="{hp.esc(self.key)}"><img alt="{hp.esc(self.caption)}" '
                f'src="{png_data_uri(self.png)}"><figcaption>{hp.esc(self.caption)}'
                "</figcaption></figure>")


def build_figures(rep: ReportData, ev: Evidence, notes: list[str]) -> dict[str, list[Figure]]:
    """The report's figures by section; a note instead when matplotlib is missing."""
    out: dict[str, list[Figure]] = {"results": [], "training": [], "budget": []}
    done = [s for s in rep.runs if s.result is not None]
    try:
        if done and len(rep.kinds) == 1:
            results = {s.label: s.result for s in done}
            per = getattr(done[0].result, "per", "image")
            unit = "group" if per == "group" else FP_UNITS.get(rep.experiment.task, "image")
            for kind in result_figure_kinds(done[0].result):
                cap = {"roc": "ROC curves of the runs on the test studies; shaded: pointwise "
                              "95 % bootstrap band; bars: 95 % CIs at the operating points.",
                       "froc": f"FROC curves (false positives per {unit}); shaded: 95 % "
                               "bootstrap band over subjects; bars: 95 % CIs.",
                       "cimt_box": "Per-ROI boundary errors against the expert, per run.",
                       "bland_altman": "IMT agreement with the expert (Bland-Altman)."}[kind]
                out["results"].append(Figure(kind, cap, figure_png(kind, results,
                                                                   fp_unit=unit)))
        hist = {s.label: s.run.metrics for s in rep.runs if has_curve(s.run.metrics)}
        if hist:
            out["training"].append(Figure(
                "training", "Validation AUC and loss against iterations, per run.",
                figure_png("training", hist)))
        change = {s.label: s.run.metrics["layer_change"] for s in rep.runs
                  if (s.run.metrics or {}).get("layer_change")}
        if change:
            out["training"].append(Figure(
                "layer_change", "Relative change ‖W − W₀‖/‖W₀‖ of each tuned layer at the end "
                "of training" + (" (one run: per epoch)." if len(change) == 1 else "."),
                figure_png("layer_change", change)))
        if ev.budget:
            out["budget"].append(Figure(
                "budget", "Performance against labelled items, with the fitted learning "
                "curve, its extrapolation (dashed) and 95 % band.", figure_png("budget",
                                                                               ev.budget)))
    except ReportUnavailable as exc:
        notes.append(f"No figures: {exc}.")
    return out


def _run_table(rep: ReportData) -> str:
    names = list(dict.fromkeys(n for s in rep.runs for n, _, _ in s.points))
    metric = next((s.metric for s in rep.runs if s.metric), "result")
    header = ["run", "depth", "init", "data", "status", "items", f"{metric} (95 % CI)", *names,
              "best val AUC", "training", "images/s", "device"]
    rows = []
    for s in rep.runs:
        cfg = s.run.config or {}
        frac = cfg.get("fraction")
        pts = {n: (v, ci) for n, v, ci in s.points}
        cells = [f"#{s.run.id}", s.depth, cfg.get("init", "–") if s.depth == "scratch" else
                 "pretrained", "–" if frac is None else f"{100 * float(frac):g} %",
                 s.run.status + (" (diverged)" if (s.run.metrics or {}).get("diverged") else ""),
                 s.n_items if s.n_items is not None else "–",
                 _with_ci(s.value, s.ci)]
        cells += [_with_ci(*pts[n]) if n in pts else "–" for n in names]
        cells += [fmt(s.run.best_auc), _duration(s.train_s), fmt(s.images_per_s, 0),
                  (s.run.metrics or {}).get("device") or s.run.device or "–"]
        rows.append(cells)
    return hp.table(header, rows, numeric=range(5, len(header) - 1))


def _with_ci(value: float, ci) -> str:
    """``0.912 (0.880–0.944)``; the value alone when there is no interval."""
    if not math.isfinite(value):
        return "–"
    ci_text = fmt_ci(ci)
    return fmt(value) if ci_text == "–" else f"{fmt(value)} ({ci_text})"


def _duration(sec: float) -> str:
    if not math.isfinite(sec):
        return "–"
    m, s = divmod(int(round(sec)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _data_section(rep: ReportData) -> str:
    d = rep.data
    rows = [[split, v["studies"], v["subjects"], v["frames"], ", ".join(v["kinds"]) or "–"]
            for split, v in d["splits"].items()]
    out = [hp.table(["split", "studies", "subjects", "frames / slices", "kinds"], rows,
                    numeric=(1, 2, 3))]
    lab = d.get("labelled") or {}
    if lab:
        out.append("<h3>Labelled items</h3>" + hp.table(
            ["split", "items", "studies", "subjects", "per class"],
            [[k, v.get("items"), v.get("studies"), v.get("subjects"),
              ", ".join(f"{c}: {n}" for c, n in (v.get("classes") or {}).items()) or "–"]
             for k, v in lab.items()], numeric=(1, 2, 3)))
    if "split_unit" in d:
        unit = "subjects (videos / patients)" if d["split_unit"] == "subject" else "items"
        out.append(hp.dl({"training / validation split by": unit,
                          "training " + ("subjects" if d["split_unit"] == "subject" else
                                         "items"): d["n_train"],
                          "validation": d["n_val"],
                          "test studies": ", ".join(d["test_studies"]) or "–",
                          "same validation and test sets for every run":
                              "yes" if d["same_split"] else "NO"}))
    return "".join(out)


def render_report(rep: ReportData, ev: Evidence, figures: dict[str, list[Figure]]) -> str:
    """The HTML text of a report (see :func:`write_report`)."""
    exp = rep.experiment
    title = f"{KIND_TITLES.get(exp.kind, exp.kind)} — {exp.task} (experiment #{exp.id})"
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>LayerTune report: {hp.esc(title)}</title><style>{hp.STYLE}</style>"
             "</head><body>", f"<h1>{hp.esc(title)}</h1>",
             f"<p class=\"muted\">Project {hp.esc(rep.project)} · experiment created "
             f"{hp.esc(exp.created)}, status {hp.esc(exp.status)}"
             f"{' (finished ' + hp.esc(exp.finished) + ')' if exp.finished else ''} · report "
             f"written {hp.esc(datetime.now().astimezone().isoformat(timespec='seconds'))}"
             "</p>"]
    if ev.recommendation:
        parts += ["<h2>Recommendation</h2>", hp.recommendation(ev.recommendation)]
    parts += ["<h2>Results on the test studies</h2>", _run_table(rep)]
    parts += [f.html() for f in figures["results"]]
    if ev.tables:
        parts.append("<h2>Pairwise significance</h2><p>Each cell: row minus column, its 95 % "
                     "CI where the test gives one, and the two-sided p-value; shaded with * "
                     "when p &lt; 0.05 (no correction for multiple comparisons).</p>")
        parts += [hp.pair_matrix(t) for t in ev.tables]
    if figures["training"]:
        parts.append("<h2>Training</h2>")
        parts += [f.html() for f in figures["training"]]
    if ev.budget or figures["budget"]:
        parts.append("<h2>Label budget</h2>")
        parts += [f.html() for f in figures["budget"]]
        parts += [_budget_text(name, d) for name, d in (ev.budget or {}).items()]
    parts += ["<h2>Data</h2>", _data_section(rep)]
    s = rep.settings
    parts += ["<h2>Settings</h2>", hp.dl({"experiment": exp.kind, "task": exp.task,
                                          "seeds": s["seeds"], "devices": s["devices"],
                                          "pretrained weights": s["weights"],
                                          "weights SHA-256": s["weights_sha256"]}),
              "<h3>Schedule (shared by every run)</h3>", hp.dl(s["schedule"]),
              "<h3>Task options</h3>", hp.dl(s["task_options"] or {}),
              "<h3>Plan</h3>", hp.pre_json(s["plan"])]
    v = rep.versions
    parts += ["<h2>Software</h2>", "<h3>Recorded with the runs</h3>",
              hp.dl({k: ", ".join(vals) for k, vals in v["runs"].items()}),
              "<h3>This report</h3>", hp.dl(v["report"])]
    notes = rep.notes + ev.notes
    if notes:
        parts.append("<h2>Notes</h2>" + "".join(hp.note(n) for n in notes))
    parts.append("</body></html>")
    return "\n".join(parts)


def _budget_text(name: str, d: dict[str, Any]) -> str:
    target, needed = d.get("target"), d.get("needed")
    if target is None:
        return ""
    who = f"{name}: " if name else ""
    if needed and needed[0] is not None and math.isfinite(float(needed[0])):
        hi = float(needed[2]) if needed[2] is not None else math.nan
        hi_txt = "no upper bound" if math.isinf(hi) else fmt(hi, 0)
        return (f"<p>{hp.esc(who)}about {float(needed[0]):,.0f} labelled items to reach "
                f"{hp.esc(d.get('metric', 'performance'))} {float(target):g} (95 % interval "
                f"{fmt(needed[1], 0)} to {hp.esc(hi_txt)}).</p>")
    if d.get("fit"):
        return (f"<p>{hp.esc(who)}the fitted curve does not reach {float(target):g}: more "
                "labels of this kind are not expected to get there.</p>")
    return ""


def write_report(project, experiment_id: int, path: str | Path, *, pairwise=None,
                 recommendation=None, budget=None) -> Path:
    """Write the HTML report of an experiment to ``path`` (one file); returns its path.

    Parameters
    ----------
    project : core.store.Project
    experiment_id : int
    path : str or Path
        The file to write (``.html`` added when it has no suffix); written atomically.
    pairwise : list of core.report.evidence.PairTable, optional
        Pairwise tests already computed (default: computed here where possible).
    recommendation : Recommendation or dict, optional
        :func:`core.stats.recommend.recommend_depth`'s result for the experiment.
    budget : dict, optional
        The budget figure's data (:func:`core.report.plots_curves.draw_budget`).

    The figures need matplotlib (extra ``report``); without it the report is written
    with its tables and a note saying what to install.
    """
    rep = collect(project, experiment_id)
    ev = gather(project, rep, pairwise=pairwise, recommendation=recommendation, budget=budget)
    notes: list[str] = []
    figures = build_figures(rep, ev, notes)
    ev.notes += notes
    text = render_report(rep, ev, figures)
    out = Path(path)
    if not out.suffix:
        out = out.with_suffix(".html")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
