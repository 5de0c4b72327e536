"""Two-group comparisons: descriptive statistics, Welch's t-test and the Mann-Whitney U test.

Formulas:
  * Welch's t-test with the Welch-Satterthwaite degrees of freedom (Welch 1947, Biometrika 34:28-35).
  * Mann-Whitney U (Mann & Whitney 1947) with the tie-corrected normal approximation and continuity
    correction (Lehmann, *Nonparametrics*, 1975, ch. 1), or the exact null distribution (no ties, a
    small group) counted by dynamic programming over rank sums.
  * Hedges' g: Cohen's d on the pooled SD times J = 1 - 3 / (4 (n1 + n2) - 9) (Hedges 1981).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy import stats as _dist


@dataclass
class GroupSummary:
    n: int
    mean: float
    sd: float
    median: float
    q1: float
    q3: float
    minimum: float
    maximum: float

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1


def describe(values) -> GroupSummary:
    """n, mean, SD (n - 1), median and quartiles (linear interpolation, numpy/R type 7)."""
    x = np.asarray(values, dtype=float)
    n = x.size
    if n == 0:
        nan = float("nan")
        return GroupSummary(0, nan, nan, nan, nan, nan, nan, nan)
    q1, median, q3 = np.percentile(x, [25, 50, 75])
    sd = float(np.std(x, ddof=1)) if n > 1 else float("nan")
    return GroupSummary(n, float(x.mean()), sd, float(median), float(q1), float(q3), float(x.min()),
                        float(x.max()))


@dataclass
class WelchResult:
    t: float
    df: float
    p_value: float
    difference: float
    ci_lower: float
    ci_upper: float


def welch_t_test(x, y, confidence: float = 0.95) -> WelchResult:
    """Welch's unequal-variance t-test of mean(x) - mean(y), two-sided, with a CI for the difference."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    nx, ny = x.size, y.size
    if nx < 2 or ny < 2:
        raise ValueError("Welch's t-test needs at least two values in each group")
    vx = np.var(x, ddof=1) / nx
    vy = np.var(y, ddof=1) / ny
    difference = float(x.mean() - y.mean())
    se = float(np.sqrt(vx + vy))
    if se == 0:
        nan = float("nan")
        return WelchResult(nan, nan, nan, difference, nan, nan)
    t = difference / se
    df = float((vx + vy) ** 2 / (vx ** 2 / (nx - 1) + vy ** 2 / (ny - 1)))
    p = float(2 * _dist.t.sf(abs(t), df))
    half = float(_dist.t.ppf(0.5 + confidence / 2, df)) * se
    return WelchResult(float(t), df, p, difference, difference - half, difference + half)


def hedges_g(x, y) -> float:
    """Standardised mean difference (x - y) / pooled SD with Hedges' small-sample correction."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    nx, ny = x.size, y.size
    if nx < 2 or ny < 2:
        return float("nan")
    pooled = np.sqrt(((nx - 1) * np.var(x, ddof=1) + (ny - 1) * np.var(y, ddof=1)) / (nx + ny - 2))
    if pooled == 0:
        return float("nan")
    return float((x.mean() - y.mean()) / pooled * (1 - 3 / (4 * (nx + ny) - 9)))


def midranks(values) -> np.ndarray:
    """Ranks 1..n with tied values sharing the mean of their ranks."""
    v = np.asarray(values, dtype=float)
    order = np.argsort(v, kind="mergesort")
    sorted_v = v[order]
    ranks = np.empty(v.size, dtype=float)
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_v) != 0) + 1]
    ends = np.r_[starts[1:], v.size]
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    return ranks


@dataclass
class MannWhitneyResult:
    u: float          # U of the first sample: #(x > y) + 0.5 #(x == y)
    p_value: float
    method: str       # "exact" or "asymptotic"
    z: float          # normal deviate (asymptotic method), NaN for exact


def _exact_upper_tail(u_stat: float, n1: int, n2: int) -> float:
    """P(U >= u_stat) under H0 without ties, U = rank sum of a size-n1 sample minus n1 (n1 + 1) / 2."""
    n = n1 + n2
    max_u = n1 * n2
    # counts[k, u]: subsets of size k of the first i ranks with U-value u (rank sum minus k (k + 1) / 2)
    counts = np.zeros((n1 + 1, max_u + 1), dtype=float)
    counts[0, 0] = 1.0
    for i in range(1, n + 1):
        for k in range(min(i, n1), 0, -1):
            shift = i - k  # adding rank i as the k-th member raises U by i - k
            if shift <= max_u:
                counts[k, shift:] += counts[k - 1, : max_u + 1 - shift]
    total = special.comb(n, n1, exact=False)
    start = int(np.ceil(u_stat - 1e-9))
    return float(counts[n1, start:].sum() / total)


def mann_whitney_u(x, y, method: str = "auto", use_continuity: bool = True) -> MannWhitneyResult:
    """Two-sided Mann-Whitney U test; 'auto' uses the exact distribution when a group has at most 8
    values and there are no ties (the same rule as scipy.stats.mannwhitneyu)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n1, n2 = x.size, y.size
    if n1 == 0 or n2 == 0:
        raise ValueError("the Mann-Whitney U test needs values in both groups")
    ranks = midranks(np.concatenate([x, y]))
    u1 = float(ranks[:n1].sum() - n1 * (n1 + 1) / 2)
    u2 = n1 * n2 - u1
    upper = max(u1, u2)
    _, tie_counts = np.unique(ranks, return_counts=True)
    ties = bool((tie_counts > 1).any())
    if method == "auto":
        method = "asymptotic" if (n1 > 8 and n2 > 8) or ties else "exact"
    if method == "exact":
        p = min(1.0, 2 * _exact_upper_tail(upper, n1, n2))
        return MannWhitneyResult(u1, p, "exact", float("nan"))
    n = n1 + n2
    tie_term = float((tie_counts ** 3 - tie_counts).sum()) / (n * (n - 1)) if n > 1 else 0.0
    sigma = np.sqrt(n1 * n2 / 12.0 * ((n + 1) - tie_term))
    if sigma == 0:
        return MannWhitneyResult(u1, 1.0, "asymptotic", 0.0)
    z = (upper - n1 * n2 / 2.0 - (0.5 if use_continuity else 0.0)) / sigma
    p = min(1.0, float(2 * _dist.norm.sf(z)))
    return MannWhitneyResult(u1, p, "asymptotic", float(z))
