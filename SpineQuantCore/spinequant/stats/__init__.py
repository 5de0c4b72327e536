"""Cohort statistics: group comparisons, ROC/AUC, cut-offs, logistic regression and correlations.

Everything is computed with numpy/scipy here (no statsmodels or scikit-learn at runtime).
"""

from __future__ import annotations

from .correlation import pearson, spearman
from .groups import describe, hedges_g, mann_whitney_u, welch_t_test
from .logistic import ConvergenceError, SeparationError, fit_logistic
from .roc import auc_ci, auc_mann_whitney, evaluate_cutoff, roc_curve, youden_cutoff

__all__ = [
    "ConvergenceError", "SeparationError", "auc_ci", "auc_mann_whitney", "describe", "evaluate_cutoff",
    "fit_logistic", "hedges_g", "mann_whitney_u", "pearson", "roc_curve", "spearman", "welch_t_test",
    "youden_cutoff",
]
