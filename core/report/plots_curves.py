"""Curves: ROC and FROC with their 95 % bands, training curves, the label-budget curve.

Each ``draw_*`` takes the data (see :func:`core.report.figures.figure_png`) and options,
and returns a matplotlib ``Figure`` (Agg; never shown). The bands and intervals are those
the statistics computed (:func:`core.stats.roc.roc_analysis`,
:func:`core.stats.froc.froc_analysis`); nothing is re-estimated here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from core.report._mpl import colour, new_figure
from core.report.results import as_result, fmt, fmt_ci, labelled


def _finite(a: Any) -> np.ndarray:
    return np.asarray([math.nan if v is None else float(v) for v in a], dtype=np.float64)


def _legend(ax, **kw) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small", **kw)


# --------------------------------------------------------------------------- ROC
def draw_roc(data: Any, *, title: str | None = None, width: float = 6.4,
             height: float = 5.6, **_: Any):
    """ROC curves with their pointwise bootstrap bands and the operating points' CIs.

    ``data``: a :class:`~core.stats.roc.RocResult` (or its dict), or ``{label: result}``.
    """
    fig, (ax,) = new_figure(width, height)
    ax.plot([0, 1], [0, 1], ls=":", lw=0.8, color="0.6", label="chance")
    fprs: set[float] = set()
    for i, (name, res) in enumerate(labelled(data).items()):
        r, c = as_result(res), colour(i)
        if r.band_fpr.size:
            ax.fill_between(r.band_fpr, r.band_lo, r.band_hi, color=c, alpha=0.15, lw=0)
        text = f"AUC {fmt(r.auc)} ({fmt_ci(r.auc_ci)})"
        ax.plot(r.fpr, r.tpr, color=c, lw=1.6, label=f"{name}: {text}" if name else text)
        for op in r.operating_points:
            fprs.add(op.fpr)
            lo, hi = op.tpr_ci
            if math.isfinite(lo) and math.isfinite(hi):
                ax.errorbar([op.fpr], [op.tpr], yerr=[[op.tpr - lo], [hi - op.tpr]],
                            fmt="o", ms=4, color=c, capsize=3, lw=1)
            else:
                ax.plot([op.fpr], [op.tpr], "o", ms=4, color=c)
    for f in sorted(fprs):
        ax.axvline(f, color="0.85", lw=0.8, zorder=0)
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false positive rate (1 − specificity)",
           ylabel="true positive rate (sensitivity)", aspect="equal",
           title=title or "ROC with 95 % CIs (band: bootstrap; AUC: DeLong)")
    _legend(ax, loc="lower right")
    return fig


# --------------------------------------------------------------------------- FROC
def draw_froc(data: Any, *, title: str | None = None, fp_unit: str = "image",
              width: float = 6.4, height: float = 4.8, **_: Any):
    """FROC curves (log FP axis) with bootstrap bands and CIs at the requested rates.

    ``data``: a :class:`~core.stats.froc.FrocResult` (or its dict), or ``{label: result}``.
    ``fp_unit``: what false positives are counted per ("image", "frame", "volume").
    """
    fig, (ax,) = new_figure(width, height)
    rates: set[float] = set()
    for i, (name, res) in enumerate(labelled(data).items()):
        r, c = as_result(res), colour(i)
        rates |= {p.fp_rate for p in r.points if p.fp_rate > 0}
        if r.band_fps.size:
            ax.fill_between(r.band_fps, r.band_lo, r.band_hi, color=c, alpha=0.15, lw=0)
        keep = r.curve_fps > 0
        text = f"CPM {fmt(r.cpm)} ({fmt_ci(r.cpm_ci)})"
        ax.plot(r.curve_fps[keep], r.curve_sens[keep], color=c, lw=1.6,
                label=f"{name}: {text}" if name else text)
        for p in r.points:
            if p.fp_rate <= 0:
                continue
            lo, hi = p.ci
            yerr = ([[p.sensitivity - lo], [hi - p.sensitivity]]
                    if math.isfinite(lo) and math.isfinite(hi) else None)
            ax.errorbar([p.fp_rate], [p.sensitivity], yerr=yerr, fmt="o", ms=4, color=c,
                        capsize=3, lw=1)
    ax.set_xscale("log")
    if rates:
        ax.set_xlim(min(rates) / 1.5, max(rates) * 1.5)
        ax.set_xticks(sorted(rates), [f"{v:g}" for v in sorted(rates)])
    per = "group" if fp_unit == "group" else fp_unit
    ax.set(ylim=(0, 1.01), xlabel=f"false positives per {per}",
           ylabel="sensitivity (lesions detected)",
           title=title or "FROC with 95 % CIs (bootstrap over subjects)")
    ax.grid(True, which="major", color="0.92")
    _legend(ax, loc="lower right")
    return fig


# --------------------------------------------------------------------------- training
def _history(h: Any) -> list[dict]:
    """Validation points of a run as dicts with ``iteration``, ``val_auc`` and, where
    known, ``train_loss`` / ``val_loss``: from a list of such dicts, a Run, or its
    metrics (the queue's ``val_curve`` — every validation, keys ``auc``/``loss`` — is
    preferred to the per-epoch ``history``)."""
    metrics = getattr(h, "metrics", h)
    if isinstance(metrics, Mapping):
        curve = metrics.get("val_curve")
        if curve:
            return [{"iteration": p.get("iteration"), "val_auc": p.get("auc"),
                     "val_loss": p.get("loss")} for p in curve if isinstance(p, Mapping)]
        h = metrics.get("history") or []
    return [p for p in h if isinstance(p, Mapping)]


def has_curve(metrics: Any) -> bool:
    """True when a run's metrics hold a validation curve :func:`draw_training` can draw."""
    return bool(isinstance(metrics, Mapping) and (metrics.get("val_curve") or
                                                  metrics.get("history")))


def draw_training(data: Any, *, title: str | None = None, loss: bool = True,
                  width: float = 9.6, height: float = 4.2, **_: Any):
    """Validation AUC (and loss) against iterations, one line per run.

    ``data``: ``{label: curve}`` where a curve is a run's ``metrics["history"]`` (dicts
    with ``iteration``, ``val_auc``, ``train_loss``), a Run, or its metrics (then its
    ``val_curve`` when recorded). Loss panel: training loss solid, validation loss dashed.
    """
    runs = labelled(data)
    fig, axes = new_figure(width if loss else width / 2, height, ncols=2 if loss else 1)
    for i, (name, h) in enumerate(runs.items()):
        pts = _history(h)
        it = _finite([p.get("iteration") for p in pts])
        auc = _finite([p.get("val_auc") for p in pts])
        c = colour(i)
        axes[0].plot(it, auc, "o-", ms=3, lw=1.3, color=c, label=name or None)
        if loss:
            for key, ls in (("train_loss", "-"), ("val_loss", "--")):
                v = _finite([p.get(key) for p in pts])
                if np.isfinite(v).any():
                    axes[1].plot(it, v, ls, lw=1.3, color=c)
    axes[0].set(xlabel="iteration", ylabel="validation AUC",
                title=title or "Validation AUC against iterations")
    axes[0].grid(True, color="0.92")
    _legend(axes[0], loc="lower right")
    if loss:
        axes[1].set(xlabel="iteration", ylabel="cross-entropy",
                    title="Loss (solid: training, dashed: validation)")
        axes[1].grid(True, color="0.92")
    return fig


# --------------------------------------------------------------------------- label budget
def _budget_single(d: Mapping) -> bool:
    return "n" in d and "perf" in d


def draw_budget(data: Any, *, title: str | None = None, width: float = 6.8,
                height: float = 4.8, **_: Any):
    """Performance against number of labels, its fitted curve, the extrapolation band.

    ``data``: one budget dict or ``{label: dict}`` (e.g. two depths); a budget dict holds
    ``n`` (labels of each run), ``perf`` (their performance), optionally ``ci``
    ([lo, hi] per run), ``fit`` (``{"n", "perf", "lo", "hi"}`` on a grid reaching past
    the data: the fitted learning curve and its uncertainty band), ``target``
    (the performance asked for), ``needed`` ([estimate, lo, hi] labels to reach it, or
    None when not reachable) and ``metric`` (axis name).
    """
    fig, (ax,) = new_figure(width, height)
    items = {"": data} if isinstance(data, Mapping) and _budget_single(data) else labelled(data)
    metric = "performance"
    for i, (name, d) in enumerate(items.items()):
        c = colour(i)
        metric = d.get("metric", metric)
        n, perf = _finite(d["n"]), _finite(d["perf"])
        ci = d.get("ci")
        if ci is not None and len(ci) == len(n):
            lo, hi = _finite([v[0] for v in ci]), _finite([v[1] for v in ci])
            ok = np.isfinite(lo) & np.isfinite(hi)
            ax.errorbar(n[ok], perf[ok], yerr=[perf[ok] - lo[ok], hi[ok] - perf[ok]],
                        fmt="none", color=c, capsize=3, lw=1)
        ax.plot(n, perf, "o", color=c, ms=5, label=f"{name} runs".strip())
        fit = d.get("fit")
        if fit:
            fn, fp = _finite(fit["n"]), _finite(fit["perf"])
            last = np.nanmax(n) if n.size else np.inf
            inside = fn <= last
            ax.plot(fn[inside], fp[inside], "-", color=c, lw=1.5,
                    label=f"{name} fitted curve".strip())
            ax.plot(fn[~inside], fp[~inside], "--", color=c, lw=1.5,
                    label=f"{name} extrapolation".strip())
            if fit.get("lo") is not None and fit.get("hi") is not None:
                ax.fill_between(fn, _finite(fit["lo"]), _finite(fit["hi"]), color=c,
                                alpha=0.15, lw=0, label=f"{name} 95 % band".strip())
        target = d.get("target")
        if target is not None:
            ax.axhline(float(target), color="0.4", ls=":", lw=1)
            needed = d.get("needed")
            if needed is not None and needed[0] is not None and math.isfinite(needed[0]):
                est, lo, hi = (float(v) if v is not None else math.nan for v in needed)
                ax.axvline(est, color=c, ls=":", lw=1)
                if math.isfinite(lo) and math.isfinite(hi):
                    ax.axvspan(lo, hi, color=c, alpha=0.08, lw=0)
                ax.annotate(f"≈ {est:,.0f} labels", (est, float(target)),
                            textcoords="offset points", xytext=(4, -12), fontsize="small",
                            color=c)
            else:
                ax.annotate("target not reachable on this curve", (0.02, float(target)),
                            xycoords=("axes fraction", "data"), textcoords="offset points",
                            xytext=(0, 4), fontsize="small", color="0.3")
    ax.set(xlabel="labelled items used for training", ylabel=metric,
           title=title or "Label budget: performance against labels (95 % CIs)")
    ax.grid(True, color="0.92")
    _legend(ax, loc="lower right")
    return fig


def budget_grid(n: Sequence[float], reach: float = 4.0, points: int = 60) -> np.ndarray:
    """Label counts from the smallest run to ``reach`` times the largest, log-spaced."""
    a = np.asarray(n, dtype=np.float64)
    a = a[np.isfinite(a) & (a > 0)]
    if not a.size:
        return np.zeros(0)
    return np.geomspace(a.min(), a.max() * reach, points)
