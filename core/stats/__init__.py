"""Statistics: ROC, DeLong, bootstrap (pure numpy/scipy)."""

from core.stats.roc import (  # noqa: F401
    OperatingPoint,
    RocAccumulator,
    RocResult,
    auc,
    delong_ci,
    delong_covariance,
    delong_test,
    delong_variance,
    read_scores_csv,
    roc_analysis,
    roc_curve,
    tpr_at_fpr,
)

__all__ = ['OperatingPoint', 'RocAccumulator', 'RocResult', 'auc', 'delong_ci', 'delong_covariance', 'delong_test', 'delong_variance', 'read_scores_csv', 'roc_analysis', 'roc_curve', 'tpr_at_fpr']
