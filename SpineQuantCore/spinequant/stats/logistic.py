"""Logistic regression by maximum likelihood (Newton-Raphson = iteratively reweighted least squares).

The score is X'(y - p) and the observed = expected information X'WX with W = diag(p (1 - p))
(McCullagh & Nelder, *Generalized Linear Models*, 2nd ed., 1989, sec. 4.4; Hosmer, Lemeshow &
Sturdivant, *Applied Logistic Regression*, 3rd ed., 2013, ch. 1-2). Wald intervals are
beta +/- z SE with SE from the inverse information; the likelihood-ratio test compares with the
intercept-only model.

Separation (Albert & Anderson 1984, Biometrika 71:1-10): when a linear combination of the predictors
splits cases with and without the outcome, the maximum-likelihood estimate does not exist (the
coefficient runs off to infinity). For one predictor it is detected exactly before fitting; for
several, by fitted probabilities collapsing onto 0 or 1 while the coefficients keep growing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Sequence

import numpy as np
from scipy import special
from scipy import stats as _dist


class SeparationError(ValueError):
    """The outcome is (quasi-)completely separated: the odds ratio is not estimable by maximum likelihood."""


class ConvergenceError(ValueError):
    """Newton-Raphson did not converge."""


@dataclass
class LogisticFit:
    names: List[str]
    coef: np.ndarray
    se: np.ndarray
    covariance: np.ndarray
    log_likelihood: float
    null_log_likelihood: float
    n: int
    n_events: int
    iterations: int
    confidence: float = 0.95
    z: np.ndarray = field(init=False)
    p_values: np.ndarray = field(init=False)

    def __post_init__(self):
        with np.errstate(divide="ignore", invalid="ignore"):
            self.z = self.coef / self.se
        self.p_values = 2 * _dist.norm.sf(np.abs(self.z))

    @property
    def conf_int(self) -> np.ndarray:
        q = _dist.norm.ppf(0.5 + self.confidence / 2)
        return np.column_stack([self.coef - q * self.se, self.coef + q * self.se])

    @property
    def lr_chi2(self) -> float:
        return float(2 * (self.log_likelihood - self.null_log_likelihood))

    @property
    def lr_df(self) -> int:
        return len(self.names) - 1

    @property
    def lr_p_value(self) -> float:
        return float(_dist.chi2.sf(self.lr_chi2, self.lr_df)) if self.lr_df > 0 else float("nan")

    @property
    def aic(self) -> float:
        return float(-2 * self.log_likelihood + 2 * len(self.names))

    def index(self, name: str) -> int:
        return self.names.index(name)

    def odds_ratio(self, name: str, step: float = 1.0):
        """OR for a `step`-unit increase of `name`, with its Wald CI: (or, lower, upper)."""
        i = self.index(name)
        lower, upper = self.conf_int[i]
        ends = sorted([np.exp(step * lower), np.exp(step * upper)])
        return float(np.exp(step * self.coef[i])), float(ends[0]), float(ends[1])


def _log_likelihood(y: np.ndarray, eta: np.ndarray) -> float:
    # sum y*eta - log(1 + exp(eta)), computed stably
    return float(np.sum(y * eta - np.logaddexp(0.0, eta)))


def check_separation_1d(x, y) -> str | None:
    """A message when one predictor separates the outcome completely or quasi-completely, else None."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y).astype(int)
    events, others = x[y == 1], x[y == 0]
    if events.size == 0 or others.size == 0:
        return "the outcome does not vary (all cases in one group)"
    if events.min() > others.max():
        return (f"complete separation: every case with value > {others.max():g} has the outcome and none "
                "at or below it does; the odds ratio is infinite and has no maximum-likelihood estimate")
    if events.max() < others.min():
        return (f"complete separation: every case with value < {others.min():g} has the outcome and none "
                "at or above it does; the odds ratio is zero and has no maximum-likelihood estimate")
    if events.min() >= others.max() or events.max() <= others.min():
        boundary = others.max() if events.min() >= others.max() else others.min()
        return (f"quasi-complete separation: the groups overlap only at value {boundary:g}; the odds ratio "
                "has no finite maximum-likelihood estimate")
    return None


def fit_logistic(X, y, names: Sequence[str] | None = None, add_intercept: bool = True,
                 confidence: float = 0.95, tol: float = 1e-10, max_iter: int = 100) -> LogisticFit:
    """Maximum-likelihood logistic regression of y (0/1) on the columns of X (plus an intercept).

    Raises SeparationError when the estimate does not exist, ConvergenceError when Newton-Raphson fails.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    y = np.asarray(y, dtype=float)
    if X.shape[0] != y.size:
        raise ValueError("X and y must have the same number of rows")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("the outcome must be coded 0/1")
    names = list(names) if names is not None else [f"x{i + 1}" for i in range(X.shape[1])]
    if add_intercept:
        X = np.column_stack([np.ones(y.size), X])
        names = ["intercept"] + names
    n, k = X.shape
    n_events = int(y.sum())
    if n_events in (0, n):
        raise SeparationError("the outcome does not vary (all cases in one group)")
    if np.linalg.matrix_rank(X) < k:
        raise ValueError("the predictors are collinear (or one is constant); the model is not identifiable")
    if add_intercept and k == 2:
        message = check_separation_1d(X[:, 1], y)
        if message:
            raise SeparationError(message)

    prevalence = n_events / n
    beta = np.zeros(k)
    if add_intercept:
        beta[0] = np.log(prevalence / (1 - prevalence))
    eta = X @ beta
    ll = _log_likelihood(y, eta)
    null_ll = float(n_events * np.log(prevalence) + (n - n_events) * np.log(1 - prevalence))
    converged = False
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        p = special.expit(eta)
        w = p * (1 - p)
        information = X.T @ (X * w[:, None])
        score = X.T @ (y - p)
        try:
            step = np.linalg.solve(information, score)
        except np.linalg.LinAlgError:
            raise SeparationError("the information matrix became singular: fitted probabilities reached 0 "
                                  "or 1 (separation)") from None
        # step-halving keeps the log-likelihood increasing
        new_ll = -np.inf
        for _ in range(30):
            new_beta = beta + step
            new_eta = X @ new_beta
            new_ll = _log_likelihood(y, new_eta)
            if new_ll >= ll - 1e-12:
                break
            step = step / 2
        beta, eta, old_ll, ll = new_beta, new_eta, ll, new_ll
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))) and abs(ll - old_ll) < tol * (1 + abs(ll)):
            converged = True
            break
    p = special.expit(eta)
    if not converged:
        if np.max(np.abs(eta)) > 15:
            raise SeparationError("fitted probabilities collapse onto 0 or 1 while the coefficients keep "
                                  "growing (complete or quasi-complete separation); the odds ratios have "
                                  "no finite maximum-likelihood estimate")
        raise ConvergenceError(f"Newton-Raphson did not converge in {max_iter} iterations")
    w = p * (1 - p)
    covariance = np.linalg.inv(X.T @ (X * w[:, None]))
    se = np.sqrt(np.diag(covariance))
    return LogisticFit(names, beta, se, covariance, ll, null_ll, n, n_events, iterations, confidence)
