"""Numerical checks of spinequant.stats against scipy, statsmodels and textbook results."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as ss

from spinequant.stats import correlation, groups, logistic, report, roc


def _logistic_sample(n, b0, b1, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(b0 + b1 * x)))).astype(int)
    return x, y


def _binormal_sample(n1, n0, d, seed):
    rng = np.random.default_rng(seed)
    x = np.r_[rng.normal(d, 1.0, n1), rng.normal(0.0, 1.0, n0)]
    y = np.r_[np.ones(n1, int), np.zeros(n0, int)]
    return x, y


# ---- logistic regression -------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_logistic_matches_statsmodels(seed):
    sm = pytest.importorskip("statsmodels.api")
    x, y = _logistic_sample(250, -0.7, 0.9, seed)
    x = 20 + 6 * x  # a fat-fraction-like scale
    fit = logistic.fit_logistic(x, y, ["fat"])
    ref = sm.Logit(y, sm.add_constant(x)).fit(method="newton", tol=1e-12, maxiter=100, disp=0)
    np.testing.assert_allclose(fit.coef, ref.params, rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit.se, ref.bse, rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit.conf_int, ref.conf_int(0.05), rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit.p_values, ref.pvalues, rtol=1e-6, atol=1e-12)
    assert fit.log_likelihood == pytest.approx(ref.llf, abs=1e-8)
    assert fit.null_log_likelihood == pytest.approx(ref.llnull, abs=1e-6)  # statsmodels iterates
    assert fit.lr_p_value == pytest.approx(ref.llr_pvalue, rel=1e-6, abs=1e-12)


def test_logistic_with_covariate_matches_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(5)
    x = rng.normal(size=300)
    age = rng.normal(60, 10, size=300)
    y = (rng.random(300) < 1 / (1 + np.exp(-(-2 + 0.8 * x + 0.03 * age)))).astype(int)
    fit = logistic.fit_logistic(np.column_stack([x, age]), y, ["x", "age"])
    ref = sm.Logit(y, sm.add_constant(np.column_stack([x, age]))).fit(method="newton", tol=1e-12, disp=0)
    np.testing.assert_allclose(fit.coef, ref.params, atol=1e-6)
    np.testing.assert_allclose(fit.se, ref.bse, atol=1e-6)
    np.testing.assert_allclose(fit.conf_int, ref.conf_int(), atol=1e-6)


def test_odds_ratio_per_sd_equals_fit_on_z_scores():
    x, y = _logistic_sample(200, 0.2, 0.6, 3)
    x = 3 + 0.5 * x
    raw = logistic.fit_logistic(x, y, ["x"])
    z = logistic.fit_logistic((x - x.mean()) / x.std(ddof=1), y, ["z"])
    sd = x.std(ddof=1)
    assert raw.odds_ratio("x", sd) == pytest.approx(z.odds_ratio("z"), rel=1e-9)
    assert raw.odds_ratio("x", 2.0)[0] == pytest.approx(np.exp(2 * raw.coef[1]), rel=1e-12)


def test_true_odds_ratio_inside_ci():
    true_beta = np.log(2.0)
    x, y = _logistic_sample(400, -1.0, true_beta, 11)
    fit = logistic.fit_logistic(x, y, ["x"])
    estimate, lower, upper = fit.odds_ratio("x")
    assert lower < 2.0 < upper
    assert estimate == pytest.approx(2.0, rel=0.35)


def test_logistic_wald_ci_coverage():
    """Over 400 simulated cohorts (n=200, true OR=2 per SD) the 95 % Wald CI covers the truth ~95 %."""
    hits = 0
    reps = 400
    for seed in range(reps):
        x, y = _logistic_sample(200, -0.5, np.log(2.0), 1000 + seed)
        _, lower, upper = logistic.fit_logistic(x, y, ["x"]).odds_ratio("x")
        hits += lower < 2.0 < upper
    assert 0.92 <= hits / reps <= 0.98


def test_complete_separation_is_reported():
    x = np.array([1.0, 2, 3, 4, 5, 6, 7, 8])
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    with pytest.raises(logistic.SeparationError, match="complete separation.*> 4"):
        logistic.fit_logistic(x, y, ["x"])
    with pytest.raises(logistic.SeparationError, match="complete separation"):
        logistic.fit_logistic(-x, y, ["x"])


def test_quasi_complete_separation_is_reported():
    x = np.array([1.0, 2, 3, 4, 4, 5, 6, 7])
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    with pytest.raises(logistic.SeparationError, match="quasi-complete"):
        logistic.fit_logistic(x, y, ["x"])


def test_separation_with_two_predictors_is_detected():
    rng = np.random.default_rng(2)
    a = rng.normal(size=60)
    b = rng.normal(size=60)
    y = (a + b > 0).astype(int)
    with pytest.raises(logistic.SeparationError, match="separation"):
        logistic.fit_logistic(np.column_stack([a, b]), y, ["a", "b"])


# ---- group comparisons -----------------------------------------------------------------------------

def test_welch_matches_scipy():
    rng = np.random.default_rng(4)
    a, b = rng.normal(10, 2, 23), rng.normal(11, 4, 41)
    mine = groups.welch_t_test(a, b)
    ref = ss.ttest_ind(a, b, equal_var=False)
    assert mine.t == pytest.approx(ref.statistic, rel=1e-12)
    assert mine.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert mine.df == pytest.approx(ref.df, rel=1e-12)
    ci = ref.confidence_interval(0.95)
    assert (mine.ci_lower, mine.ci_upper) == pytest.approx((ci.low, ci.high), rel=1e-10)


@pytest.mark.parametrize("n1,n2,rounding,method", [
    (40, 55, None, "asymptotic"), (40, 55, 0, "asymptotic"), (6, 30, None, "exact"), (5, 7, None, "exact"),
    (6, 30, None, "auto"), (12, 15, 0, "auto"),
])
def test_mann_whitney_matches_scipy(n1, n2, rounding, method):
    rng = np.random.default_rng(n1 * 100 + n2)
    a, b = rng.normal(0.5, 1, n1) * 3, rng.normal(0, 1, n2) * 3
    if rounding is not None:
        a, b = np.round(a, rounding), np.round(b, rounding)  # ties
    mine = groups.mann_whitney_u(a, b, method=method)
    ref = ss.mannwhitneyu(a, b, method=method)
    assert mine.u == ref.statistic
    assert mine.p_value == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-15)


def test_describe_quartiles():
    s = groups.describe([1, 2, 3, 4, 100])
    assert (s.n, s.median, s.q1, s.q3, s.iqr) == (5, 3.0, 2.0, 4.0, 2.0)
    assert s.mean == 22.0 and s.sd == pytest.approx(np.std([1, 2, 3, 4, 100], ddof=1))


# ---- ROC -------------------------------------------------------------------------------------------

def test_auc_equals_mann_whitney_u_and_trapezoid():
    x, y = _binormal_sample(37, 58, 1.0, 6)
    x = np.round(x, 1)  # ties
    u = ss.mannwhitneyu(x[y == 1], x[y == 0]).statistic
    auc = roc.auc_mann_whitney(x, y)
    assert auc == pytest.approx(u / (37 * 58), abs=1e-14)
    assert roc.roc_curve(x, y).auc == pytest.approx(auc, abs=1e-14)
    assert roc.auc_ci(x, y).auc == pytest.approx(auc, abs=1e-14)
    assert roc.roc_curve(x, y, "lower").auc == pytest.approx(1 - auc, abs=1e-14)


def test_delong_variance_matches_brute_force():
    x, y = _binormal_sample(25, 31, 0.8, 8)
    x = np.round(x, 1)
    pos, neg = x[y == 1], x[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    var = v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size
    assert roc.auc_ci(x, y, "delong").se == pytest.approx(np.sqrt(var), rel=1e-12)


def test_hanley_mcneil_formula():
    # Hanley & McNeil 1982: A = 0.9, n_abnormal = n_normal = 50
    x, y = _binormal_sample(50, 50, 1.8, 9)
    result = roc.auc_ci(x, y, "hanley")
    a = result.auc
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    expected = np.sqrt((a * (1 - a) + 49 * (q1 - a * a) + 49 * (q2 - a * a)) / 2500)
    assert result.se == pytest.approx(expected, rel=1e-12)
    assert result.method == "Hanley-McNeil"


def test_binormal_true_auc_inside_ci():
    d = 1.2
    true_auc = ss.norm.cdf(d / np.sqrt(2))  # 0.802
    x, y = _binormal_sample(120, 180, d, 12)
    for method in ("delong", "hanley"):
        result = roc.auc_ci(x, y, method)
        assert result.ci_lower < true_auc < result.ci_upper
        assert result.auc == pytest.approx(true_auc, abs=0.06)


def test_auc_ci_coverage():
    """Over 400 binormal cohorts (60 vs 90 cases, d=1) DeLong and Hanley-McNeil 95 % CIs cover ~95 %."""
    d = 1.0
    true_auc = ss.norm.cdf(d / np.sqrt(2))
    reps = 400
    hits = {"delong": 0, "hanley": 0}
    for seed in range(reps):
        x, y = _binormal_sample(60, 90, d, 5000 + seed)
        for method in hits:
            result = roc.auc_ci(x, y, method)
            hits[method] += result.ci_lower < true_auc < result.ci_upper
    for method, count in hits.items():
        assert 0.92 <= count / reps <= 0.98, method


def test_cutoff_two_by_two_and_clopper_pearson():
    x = np.array([1.0, 2.5, 3.0, 3.5, 4.0, 2.0, 2.9, 3.1, 1.5, 0.5])
    y = np.array([0, 1, 1, 1, 1, 0, 0, 0, 0, 0])
    result = roc.evaluate_cutoff(x, y, 3.0, ">=")
    counts = (result.true_positive, result.false_positive, result.false_negative, result.true_negative)
    assert counts == (3, 1, 1, 5)
    assert result.sensitivity.estimate == 0.75 and result.specificity.estimate == pytest.approx(5 / 6)
    assert result.ppv.estimate == 0.75 and result.npv.estimate == pytest.approx(5 / 6)
    ci = ss.binomtest(3, 4).proportion_ci(0.95, method="exact")
    assert (result.sensitivity.ci_lower, result.sensitivity.ci_upper) == pytest.approx((ci.low, ci.high))
    assert roc.evaluate_cutoff(x, y, 3.0, ">").true_positive == 2


def test_youden_cutoff_on_small_example():
    x = np.array([1.0, 2, 3, 4, 5, 6, 7, 8])
    y = np.array([0, 0, 1, 0, 1, 1, 0, 1])
    best = roc.youden_cutoff(x, y)
    assert best.rule == "value >= 5"  # sens 3/4, spec 3/4: J = 0.5 (>= 3 also gives J = 0.5, less specific)
    assert best.youden == pytest.approx(0.5)
    lower = roc.youden_cutoff(-x, y, "lower")
    assert lower.rule == "value <= -5"


# ---- correlations and multiplicity -----------------------------------------------------------------

def test_correlations_match_scipy():
    rng = np.random.default_rng(13)
    x = rng.normal(size=80)
    y = 0.4 * x + rng.normal(size=80)
    y[:5] = np.round(y[:5])
    pearson = correlation.pearson(x, y)
    ref = ss.pearsonr(x, y)
    assert pearson.estimate == pytest.approx(ref.statistic, rel=1e-12)
    assert pearson.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    ci = ref.confidence_interval(0.95)
    assert (pearson.ci_lower, pearson.ci_upper) == pytest.approx((ci.low, ci.high), rel=1e-9)
    spearman = correlation.spearman(x, y)
    ref = ss.spearmanr(x, y)
    assert spearman.estimate == pytest.approx(ref.statistic, rel=1e-12)
    assert spearman.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_holm_matches_statsmodels():
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan, 0.5])
    mine = report.holm(p)
    ref = multitest.multipletests(p[~np.isnan(p)], method="holm")[1]
    np.testing.assert_allclose(mine[~np.isnan(p)], ref, rtol=1e-12)
    assert np.isnan(mine[4])
