"""Figures without a screen and the self-contained HTML report of an experiment.

``figures.py``      :func:`figure_png` / :func:`figure_svg` by kind (ROC, FROC, CIMT box
                    plots and Bland-Altman, training curves, label budget, layer change)
``plots_curves.py`` the curve figures; ``plots_misc.py`` box plots, Bland-Altman, bars
``results.py``      task results read back from stored JSON; number formatting
``collect.py``      what the report says, gathered from the project database
``evidence.py``     pairwise significance and the depth recommendation (statistics
                    package), degrading to a note when a piece is missing
``html.py``         :func:`write_report`: one HTML file, figures embedded

matplotlib is the optional extra ``report``; nothing here imports it until a figure is
drawn (:class:`ReportUnavailable` then says what to install).
"""

from core.report._mpl import ReportUnavailable
from core.report.figures import FIGURE_KINDS, figure_png, figure_svg
from core.report.html import render_report, write_report

__all__ = ["FIGURE_KINDS", "ReportUnavailable", "figure_png", "figure_svg", "render_report",
           "write_report"]
