"""ROC analysis of one continuous predictor against a binary outcome.

  * Empirical ROC curve and AUC (trapezoidal AUC = Mann-Whitney U / (n1 n0), ties counted 1/2;
    Bamber 1975, J Math Psychol 12:387-415).
  * Variance of the AUC by DeLong, DeLong & Clarke-Pearson (1988, Biometrics 44:837-845), computed from
    midranks as in Sun & Xu (2014, IEEE Signal Process Lett 21:1389-1393); or by Hanley & McNeil (1982,
    Radiology 143:29-36).
  * Youden index J = sensitivity + specificity - 1 (Youden 1950, Cancer 3:32-35).
  * Sensitivity/specificity/PPV/NPV with exact Clopper-Pearson intervals (1934, Biometrika 26:404-413).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as _dist

from .groups import midranks


def _split(values, outcome):
    x = np.asarray(values, dtype=float)
    y = np.asarray(outcome).astype(int)
    if x.shape != y.shape:
        raise ValueError("predictor and outcome must have the same length")
    positives = x[y == 1]
    negatives = x[y == 0]
    if positives.size == 0 or negatives.size == 0:
        raise ValueError("ROC analysis needs cases with and without the outcome")
    return positives, negatives


@dataclass
class RocCurve:
    thresholds: np.ndarray   # decreasing; the rule is "positive if value >= threshold" (direction 'higher')
    fpr: np.ndarray          # 1 - specificity, starts at 0
    tpr: np.ndarray          # sensitivity, starts at 0
    direction: str

    @property
    def auc(self) -> float:
        return float(np.sum(np.diff(self.fpr) * (self.tpr[1:] + self.tpr[:-1]) / 2))


def roc_curve(values, outcome, direction: str = "higher") -> RocCurve:
    """Empirical ROC curve. direction 'higher': larger values indicate the outcome (rule value >= c);
    'lower': smaller values do (rule value <= c). Points run from (0, 0) to (1, 1)."""
    positives, negatives = _split(values, outcome)
    sign = 1.0 if direction == "higher" else -1.0
    p, n = np.sort(sign * positives), np.sort(sign * negatives)
    cuts = np.unique(np.concatenate([p, n]))[::-1]
    tpr = (p.size - np.searchsorted(p, cuts, side="left")) / p.size
    fpr = (n.size - np.searchsorted(n, cuts, side="left")) / n.size
    return RocCurve(np.r_[np.inf, sign * cuts], np.r_[0.0, fpr], np.r_[0.0, tpr], direction)


@dataclass
class AucResult:
    auc: float
    se: float
    ci_lower: float
    ci_upper: float
    method: str
    n_positive: int
    n_negative: int


def auc_mann_whitney(values, outcome) -> float:
    """AUC = P(X1 > X0) + 0.5 P(X1 = X0) = U / (n1 n0), with larger values indicating the outcome."""
    positives, negatives = _split(values, outcome)
    ranks = midranks(np.concatenate([positives, negatives]))
    m = positives.size
    u = ranks[:m].sum() - m * (m + 1) / 2
    return float(u / (m * negatives.size))


def delong_components(values, outcome):
    """DeLong placement values V10 (one per positive case) and V01 (one per negative case)."""
    positives, negatives = _split(values, outcome)
    m, n = positives.size, negatives.size
    tz = midranks(np.concatenate([positives, negatives]))
    tx = midranks(positives)
    ty = midranks(negatives)
    v10 = (tz[:m] - tx) / n
    v01 = 1.0 - (tz[m:] - ty) / m
    return v10, v01


def auc_ci(values, outcome, method: str = "delong", confidence: float = 0.95) -> AucResult:
    """AUC (larger values indicate the outcome) with a Wald interval clipped to [0, 1]."""
    positives, negatives = _split(values, outcome)
    m, n = positives.size, negatives.size
    z = float(_dist.norm.ppf(0.5 + confidence / 2))
    if method == "delong":
        v10, v01 = delong_components(values, outcome)
        auc = float(v10.mean())
        s10 = np.var(v10, ddof=1) if m > 1 else 0.0
        s01 = np.var(v01, ddof=1) if n > 1 else 0.0
        se = float(np.sqrt(s10 / m + s01 / n))
        label = "DeLong"
    elif method == "hanley":
        auc = auc_mann_whitney(values, outcome)
        q1 = auc / (2 - auc)
        q2 = 2 * auc ** 2 / (1 + auc)
        var = (auc * (1 - auc) + (m - 1) * (q1 - auc ** 2) + (n - 1) * (q2 - auc ** 2)) / (m * n)
        se = float(np.sqrt(max(var, 0.0)))
        label = "Hanley-McNeil"
    else:
        raise ValueError(f"unknown AUC interval method {method!r}; use 'delong' or 'hanley'")
    return AucResult(auc, se, max(0.0, auc - z * se), min(1.0, auc + z * se), label, m, n)


def clopper_pearson(successes: int, trials: int, confidence: float = 0.95):
    """Exact binomial interval for a proportion."""
    if trials == 0:
        return float("nan"), float("nan")
    alpha = 1 - confidence
    lower = 0.0 if successes == 0 else float(_dist.beta.ppf(alpha / 2, successes, trials - successes + 1))
    upper = 1.0 if successes == trials else float(_dist.beta.ppf(1 - alpha / 2, successes + 1,
                                                                   trials - successes))
    return lower, upper


@dataclass
class Proportion:
    estimate: float
    ci_lower: float
    ci_upper: float
    numerator: int
    denominator: int


def _proportion(k: int, n: int, confidence: float) -> Proportion:
    lower, upper = clopper_pearson(k, n, confidence)
    return Proportion(k / n if n else float("nan"), lower, upper, int(k), int(n))


@dataclass
class CutoffResult:
    cutoff: float
    rule: str                 # e.g. "value >= 3.0"
    true_positive: int
    false_positive: int
    false_negative: int
    true_negative: int
    sensitivity: Proportion
    specificity: Proportion
    ppv: Proportion
    npv: Proportion
    accuracy: Proportion

    @property
    def youden(self) -> float:
        return self.sensitivity.estimate + self.specificity.estimate - 1


_OPERATORS = {
    ">=": np.greater_equal,
    ">": np.greater,
    "<=": np.less_equal,
    "<": np.less,
}


def evaluate_cutoff(values, outcome, cutoff: float, operator: str = ">=",
                    confidence: float = 0.95) -> CutoffResult:
    """2x2 table of the rule "test positive if value OPERATOR cutoff" against the outcome.
    PPV/NPV are those of this sample: they depend on its prevalence of the outcome."""
    if operator not in _OPERATORS:
        raise ValueError(f"unknown comparison {operator!r}; use one of {', '.join(_OPERATORS)}")
    x = np.asarray(values, dtype=float)
    y = np.asarray(outcome).astype(int)
    test = _OPERATORS[operator](x, cutoff)
    tp = int(np.sum(test & (y == 1)))
    fp = int(np.sum(test & (y == 0)))
    fn = int(np.sum(~test & (y == 1)))
    tn = int(np.sum(~test & (y == 0)))
    return CutoffResult(
        float(cutoff), f"value {operator} {cutoff:g}", tp, fp, fn, tn,
        _proportion(tp, tp + fn, confidence), _proportion(tn, tn + fp, confidence),
        _proportion(tp, tp + fp, confidence), _proportion(tn, tn + fn, confidence),
        _proportion(tp + tn, tp + fp + fn + tn, confidence),
    )


def youden_cutoff(values, outcome, direction: str = "higher",
                  confidence: float = 0.95, curve: RocCurve | None = None) -> CutoffResult:
    """Observed value maximising sensitivity + specificity - 1. Among equal J the most specific cut-off
    (the first on the curve) is taken. Being chosen on the same data, its accuracy is optimistic."""
    curve = curve or roc_curve(values, outcome, direction)
    j = curve.tpr[1:] - curve.fpr[1:]
    best = int(np.argmax(j)) + 1
    operator = ">=" if direction == "higher" else "<="
    return evaluate_cutoff(values, outcome, float(curve.thresholds[best]), operator, confidence)
