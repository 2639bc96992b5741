"""Statistics, pure numpy/scipy: ROC, DeLong, bootstrap.

``roc.py``         ROC curve, AUC, TPR at an FPR, :func:`roc_analysis` and its results
``delong.py``      DeLong variance/covariance of AUCs, the AUC CI, the paired DeLong test
``bootstrap.py``   item and whole-group (cluster) resampling, percentile intervals
``roc_bootstrap.py`` whole-curve bootstrap: operating points, AUC, pointwise band
``froc.py``        FROC curve, sensitivity at FP rates, CPM: :func:`froc_analysis`
``froc_data.py``   FROC input checks and integer coding; ``froc_bootstrap.py`` its
                   vectorised whole-group bootstrap; ``froc_verdict.py`` its plain verdict
``threshold.py``   Youden's J threshold chosen on validation predictions
``verdict.py``     plain sentences on what a ROC result shows
``accumulate.py``  :class:`RocAccumulator`, batches in, one analysis out
``compare.py``     paired DeLong comparison of two AUCs, with the CI of the difference
``froc_compare.py`` two FROC curves at an operating point, paired bootstrap over subjects
``recommend.py``   the shallowest depth not significantly worse than the best
``learning_curve.py`` inverse power-law learning curves, labels needed for a target
``boxplot.py``     Tukey box-plot statistics with mean and sd
``agreement.py``   boundary distance, Bland–Altman, paired Wilcoxon
``_checks.py``     the input checks they share
"""

from core.stats.accumulate import RocAccumulator
from core.stats.agreement import bland_altman, boundary_distance, paired_wilcoxon
from core.stats.bootstrap import (
    bootstrap_counts,
    group_bootstrap_counts,
    group_bootstrap_indices,
    percentile_ci,
)
from core.stats.boxplot import tukey_box
from core.stats.compare import paired_delong
from core.stats.delong import delong_ci, delong_covariance, delong_test, delong_variance
from core.stats.froc import (
    DEFAULT_FROC_FPS,
    FrocPoint,
    FrocResult,
    froc_analysis,
    froc_curve,
    froc_sensitivity,
)
from core.stats.froc_compare import compare_froc_at
from core.stats.froc_verdict import froc_text, froc_verdict
from core.stats.learning_curve import learning_curve_fit
from core.stats.recommend import recommend_depth
from core.stats.roc import (
    DEFAULT_FPRS,
    OperatingPoint,
    RocResult,
    auc,
    roc_analysis,
    roc_curve,
    tpr_at_fpr,
)
from core.stats.threshold import youden_j, youden_threshold
from core.stats.verdict import verdict

__all__ = [
    "DEFAULT_FPRS",
    "DEFAULT_FROC_FPS",
    "FrocPoint",
    "FrocResult",
    "OperatingPoint",
    "RocAccumulator",
    "RocResult",
    "auc",
    "bland_altman",
    "boundary_distance",
    "compare_froc_at",
    "learning_curve_fit",
    "paired_delong",
    "paired_wilcoxon",
    "recommend_depth",
    "tukey_box",
    "bootstrap_counts",
    "delong_ci",
    "delong_covariance",
    "delong_test",
    "delong_variance",
    "froc_analysis",
    "froc_curve",
    "froc_sensitivity",
    "froc_text",
    "froc_verdict",
    "group_bootstrap_counts",
    "group_bootstrap_indices",
    "percentile_ci",
    "roc_analysis",
    "roc_curve",
    "tpr_at_fpr",
    "verdict",
    "youden_j",
    "youden_threshold",
]
