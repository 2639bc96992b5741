"""CIMT box plots and Bland-Altman plots; bars of how far each tuned layer moved.

Box plots use the statistics the CIMT evaluation stored (Tukey whiskers, Tukey 1977;
:func:`core.stats.boxplot.tukey_box`) through ``Axes.bxp``, so the plot shows exactly
the numbers of the table; the mean ± sd is drawn beside each box (SPEC §1.7).
Bland-Altman plots (Bland & Altman, Lancet 1986) show the bias and the 95 % limits of
agreement with their confidence intervals (:func:`core.stats.agreement.bland_altman`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from core.report._mpl import colour, new_figure
from core.report.results import as_result, labelled

#: AlexNet's layers, input to output (as :data:`core.train.model.LAYERS`).
LAYERS: tuple[str, ...] = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")


# --------------------------------------------------------------------------- CIMT
def _bxp_stats(box, label: str) -> dict:
    return {"label": label, "med": box.median, "q1": box.q1, "q3": box.q3,
            "whislo": box.whisker_low, "whishi": box.whisker_high,
            "fliers": np.asarray(box.outliers, np.float64), "mean": box.mean}


def draw_cimt_box(data: Any, *, title: str | None = None, width: float = 9.0,
                  height: float = 4.4, **_: Any):
    """Per-ROI boundary errors (LI, MA) as Tukey box plots, one box per run.

    ``data``: a :class:`~core.tasks.cimt.results.CimtResult` (or its dict), or
    ``{label: result}``.
    """
    runs = {k: as_result(v) for k, v in labelled(data).items()}
    fig, axes = new_figure(width, height, ncols=2)
    unit = next(iter(runs.values())).unit if runs else ""
    for ax, iface in zip(axes, ("LI", "MA")):
        stats, pos, cols, boxes = [], [], [], []
        for i, (name, r) in enumerate(runs.items()):
            box = r.li if iface == "LI" else r.ma
            if box is None:
                continue
            stats.append(_bxp_stats(box, name or f"run {i + 1}"))
            pos.append(i + 1)
            cols.append(colour(i))
            boxes.append(box)
        if stats:
            parts = ax.bxp(stats, positions=pos, widths=0.5, showmeans=False,
                           patch_artist=True, flierprops={"marker": ".", "ms": 4})
            for patch, c in zip(parts["boxes"], cols):
                patch.set(facecolor=c, alpha=0.35, edgecolor=c)
            for p, box, c in zip(pos, boxes, cols):  # mean ± sd beside the box
                sd = 0.0 if math.isnan(box.sd) else box.sd
                ax.errorbar([p + 0.36], [box.mean], yerr=[[sd], [sd]], fmt="D", ms=4,
                            color=c, capsize=3, lw=1)
            ax.tick_params(axis="x", labelrotation=30 if len(stats) > 3 else 0)
        else:
            ax.text(0.5, 0.5, "no ROI", transform=ax.transAxes, ha="center", color="0.4")
        ax.set(title=f"{iface} boundary", ylabel=f"distance to the expert ({unit})")
        ax.set_ylim(bottom=0)
        ax.grid(True, axis="y", color="0.92")
    fig.suptitle(title or "CIMT boundary errors per ROI (Tukey box; ◆ mean ± sd)")
    return fig


def _bland_altman(obj: Any):
    """(BlandAltman, unit) from a CimtResult (or dict) or a BlandAltman itself."""
    if hasattr(obj, "loa_low"):
        return obj, ""
    r = as_result(obj)
    return r.imt, r.unit


def draw_bland_altman(data: Any, *, title: str | None = None, width: float = 6.4,
                      height: float = 4.8, **_: Any):
    """Bland-Altman plot of IMT, system against expert, one colour per run.

    ``data``: a CimtResult (or its dict) or a :class:`~core.stats.agreement.BlandAltman`,
    or ``{label: one of those}``. Bias and limits of agreement are lines; their CIs
    shaded bands.
    """
    fig, (ax,) = new_figure(width, height)
    unit = ""
    for i, (name, obj) in enumerate(labelled(data).items()):
        ba, u = _bland_altman(obj)
        unit = u or unit
        if ba is None:
            continue
        c = colour(i)
        ax.scatter(ba.means, ba.differences, s=14, color=c, alpha=0.8,
                   label=f"{name} (n = {ba.n})".strip())
        for value, ci, ls in ((ba.bias, ba.bias_ci, "-"), (ba.loa_low, ba.loa_low_ci, "--"),
                              (ba.loa_high, ba.loa_high_ci, "--")):
            if math.isfinite(value):
                ax.axhline(value, color=c, ls=ls, lw=1.2)
            if all(math.isfinite(v) for v in ci):
                ax.axhspan(ci[0], ci[1], color=c, alpha=0.10, lw=0)
    ax.axhline(0, color="0.6", lw=0.8, ls=":")
    u = f" ({unit})" if unit else ""
    ax.set(xlabel=f"mean of system and expert IMT{u}", ylabel=f"system − expert IMT{u}",
           title=title or "IMT agreement: bias and 95 % limits of agreement (shaded: CIs)")
    ax.grid(True, color="0.92")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
    return fig


# --------------------------------------------------------------------------- layer change
def _epochs(change: Any) -> list[dict[str, float]]:
    """A run's ``metrics["layer_change"]`` (list of {layer: value} per epoch), a Run,
    its metrics, or one epoch's dict."""
    metrics = getattr(change, "metrics", change)
    if isinstance(metrics, Mapping) and "layer_change" in metrics:
        change = metrics["layer_change"]
    if isinstance(change, Mapping):
        change = [change]
    out = []
    for e in change or ():
        if isinstance(e, Mapping):
            out.append({str(k): float(v) for k, v in e.items()
                        if isinstance(v, (int, float)) and math.isfinite(float(v))})
    return out


def _layer_order(names) -> list[str]:
    known = [n for n in LAYERS if n in names]
    return known + sorted(n for n in names if n not in LAYERS)


def draw_layer_change(data: Any, *, title: str | None = None, epochs: int = 6,
                      width: float = 8.0, height: float = 4.4, **_: Any):
    """Relative weight change ‖W_t − W_0‖ / ‖W_0‖ per tuned layer, as bars.

    ``data``: ``{label: layer_change}`` with a run's per-epoch list of ``{layer: value}``
    (its ``metrics["layer_change"]``): one bar per run and layer at the run's last epoch;
    or one run's list: one bar per layer for up to ``epochs`` epochs spread over its
    training. Frozen layers (absent) get no bar; the value axis turns logarithmic when
    the changes span more than two decades.
    """
    runs = labelled(data)
    single = len(runs) == 1
    series: list[tuple[str, dict[str, float]]] = []
    if single:
        eps = _epochs(next(iter(runs.values())))
        pick = sorted({int(round(x)) for x in np.linspace(0, len(eps) - 1,
                                                          min(epochs, len(eps)))}) if eps else []
        series = [(f"epoch {k + 1}", eps[k]) for k in pick]
    else:
        for name, change in runs.items():
            eps = _epochs(change)
            if eps:
                series.append((name, eps[-1]))
    fig, (ax,) = new_figure(width, height)
    layers = _layer_order({k for _, s in series for k in s})
    if not layers:
        ax.text(0.5, 0.5, "no layer change recorded", transform=ax.transAxes, ha="center",
                color="0.4")
        ax.set_axis_off()
        return fig
    w = 0.8 / len(series)
    values = []
    for i, (name, s) in enumerate(series):
        x = [j + (i - (len(series) - 1) / 2) * w for j, k in enumerate(layers) if k in s]
        y = [s[k] for k in layers if k in s]
        values += y
        ax.bar(x, y, width=w, color=colour(i), label=name, alpha=0.85 if single else 1.0)
    pos = [v for v in values if v > 0]
    if pos and max(pos) / min(pos) > 100:
        ax.set_yscale("log")
    ax.set_xticks(range(len(layers)), layers)
    ax.set(xlabel="layer (input → output)", ylabel="‖W − W₀‖ / ‖W₀‖",
           title=title or "How far each tuned layer moved from its starting weights")
    ax.grid(True, axis="y", color="0.92")
    ax.legend(fontsize="small", ncols=2 if len(series) > 4 else 1)
    return fig
