"""Correlation of a predictor with a continuous outcome.

  * Pearson r, t = r sqrt((n - 2) / (1 - r^2)) on n - 2 df; CI by Fisher's z = atanh(r) with
    SE 1 / sqrt(n - 3) (Fisher 1921, Metron 1:3-32).
  * Spearman rho = Pearson r of midranks; p from the same t approximation (as scipy.stats.spearmanr);
    CI by Fisher's z with the Bonett & Wright (2000, Psychometrika 65:23-28) variance
    (1 + rho^2 / 2) / (n - 3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as _dist

from .groups import midranks


@dataclass
class CorrelationResult:
    estimate: float
    ci_lower: float
    ci_upper: float
    p_value: float
    n: int
    method: str


def _pearson_r(x: np.ndarray, y: np.ndarray) -> float:
    dx, dy = x - x.mean(), y - y.mean()
    denominator = np.sqrt(np.sum(dx * dx) * np.sum(dy * dy))
    if denominator == 0:
        return float("nan")
    return float(np.clip(np.sum(dx * dy) / denominator, -1.0, 1.0))


def _result(r: float, n: int, method: str, variance_factor: float, confidence: float) -> CorrelationResult:
    if np.isnan(r) or n < 3:
        nan = float("nan")
        return CorrelationResult(r, nan, nan, nan, n, method)
    if abs(r) >= 1:
        p = 0.0
    else:
        t = r * np.sqrt((n - 2) / (1 - r * r))
        p = float(2 * _dist.t.sf(abs(t), n - 2))
    if n > 3 and abs(r) < 1:
        q = _dist.norm.ppf(0.5 + confidence / 2)
        half = q * np.sqrt(variance_factor / (n - 3))
        lower, upper = np.tanh(np.arctanh(r) - half), np.tanh(np.arctanh(r) + half)
    else:
        lower = upper = float("nan")
    return CorrelationResult(r, float(lower), float(upper), p, n, method)


def pearson(x, y, confidence: float = 0.95) -> CorrelationResult:
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    return _result(_pearson_r(x, y), x.size, "Pearson", 1.0, confidence)


def spearman(x, y, confidence: float = 0.95) -> CorrelationResult:
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    rho = _pearson_r(midranks(x), midranks(y))
    return _result(rho, x.size, "Spearman", 1.0 + (rho * rho / 2 if not np.isnan(rho) else 0), confidence)
