"""matplotlib, loaded on demand with the Agg backend (no screen), and figure output.

matplotlib is the optional extra ``report`` (``pip install "layertune[report]"``): the
rest of LayerTune runs without it, and asking for a figure without it raises
:class:`ReportUnavailable` saying what to install.
"""

from __future__ import annotations

import io
from typing import Any

INSTALL_HINT = ('the report figures need matplotlib: pip install "layertune[report]" '
                '(or pip install "matplotlib>=3.8")')

#: Run colours (colour-blind safe: Okabe & Ito, "Color Universal Design", 2008), cycled.
PALETTE: tuple[str, ...] = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00",
                            "#56B4E9", "#000000", "#F0E442", "#999999")


class ReportUnavailable(ImportError):
    """matplotlib (the ``report`` extra) is not installed."""


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend; :class:`ReportUnavailable` without it."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ReportUnavailable(INSTALL_HINT) from exc
    # Agg whatever the user's default: figures are drawn off-screen, also with Qt loaded
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def available() -> bool:
    """True when matplotlib can be imported."""
    try:
        pyplot()
    except ReportUnavailable:
        return False
    return True


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def new_figure(width: float = 6.4, height: float = 4.8, ncols: int = 1):
    """(figure, axes) not registered with pyplot's global state, so nothing leaks."""
    pyplot()
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def to_png(fig, dpi: int = 110) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def to_svg(fig) -> str:
    """SVG text with its fonts as paths (no external font needed), metadata-free dates."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "layertune"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()
