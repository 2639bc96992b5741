"""Headless figures of an experiment, as PNG bytes or SVG text (matplotlib, Agg).

One entry point per output format, the figure chosen by ``kind``:

=================  ============================================================  ==========
kind               data                                                          task
=================  ============================================================  ==========
``roc``            RocResult (or its dict), or ``{label: result}``               frame qual.
``froc``           FrocResult (or its dict), or ``{label: result}``              polyps, PE
``cimt_box``       CimtResult (or its dict), or ``{label: result}``              CIMT
``bland_altman``   CimtResult / BlandAltman, or ``{label: ...}``                 CIMT
``training``       ``{label: metrics["history"]}`` (or Runs, or metrics)         all
``budget``         budget dict, or ``{label: budget dict}`` (see draw_budget)    all
``layer_change``   ``{label: metrics["layer_change"]}``, or one run's list       all
=================  ============================================================  ==========

Options go to the drawing function (``title``, ``width``, ``height`` in inches,
``fp_unit`` for FROC...). Without matplotlib (the ``report`` extra) every call raises
:class:`~core.report._mpl.ReportUnavailable` saying what to install.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from core.report import plots_curves, plots_misc
from core.report._mpl import ReportUnavailable, pyplot, to_png, to_svg
from core.report.results import result_kind

__all__ = ["FIGURE_KINDS", "ReportUnavailable", "draw", "figure_png", "figure_svg",
           "png_data_uri", "result_figure_kinds"]

_DRAW: dict[str, Callable[..., Any]] = {
    "roc": plots_curves.draw_roc,
    "froc": plots_curves.draw_froc,
    "cimt_box": plots_misc.draw_cimt_box,
    "bland_altman": plots_misc.draw_bland_altman,
    "training": plots_curves.draw_training,
    "budget": plots_curves.draw_budget,
    "layer_change": plots_misc.draw_layer_change,
}
#: The figure kinds :func:`figure_png` and :func:`figure_svg` draw.
FIGURE_KINDS: tuple[str, ...] = tuple(_DRAW)
_ALIASES = {"cimt": "cimt_box", "box": "cimt_box", "convergence": "training",
            "learning_curve": "budget", "layers": "layer_change"}


def draw(kind: str, data: Any, **options: Any):
    """The matplotlib ``Figure`` of ``kind`` for ``data`` (not attached to pyplot)."""
    pyplot()  # ReportUnavailable before anything else when matplotlib is missing
    name = _ALIASES.get(kind, kind)
    if name not in _DRAW:
        raise ValueError(f"unknown figure kind {kind!r}; choose one of "
                         f"{', '.join(FIGURE_KINDS)}")
    return _DRAW[name](data, **options)


def figure_png(kind: str, data: Any, *, dpi: int = 110, **options: Any) -> bytes:
    """The figure as PNG bytes (``dpi`` dots per inch; sizes in inches via options).

    Parameters
    ----------
    kind : str
        One of :data:`FIGURE_KINDS` (see the module's table for ``data``).
    data
        What the figure shows.
    **options
        ``title``, ``width``, ``height`` and the kind's own options.

    Raises
    ------
    ReportUnavailable
        matplotlib is not installed.
    ValueError
        Unknown ``kind`` or data it cannot draw.
    """
    return to_png(draw(kind, data, **options), dpi=dpi)


def figure_svg(kind: str, data: Any, **options: Any) -> str:
    """The figure as standalone SVG text (text as paths: no font needed to view it)."""
    return to_svg(draw(kind, data, **options))


def png_data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for embedding a PNG in HTML."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def result_figure_kinds(result: Any) -> tuple[str, ...]:
    """Figure kinds that show a task's result: ("roc",), ("froc",) or the CIMT pair."""
    kind = result_kind(result)
    if kind == "cimt":
        return ("cimt_box", "bland_altman")
    return (kind,) if kind else ()
