"""Run every analysis for every predictor and collect one tidy table (one row per estimate)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

import numpy as np
import pandas as pd

from . import correlation, groups, logistic, roc
from .inputs import MIN_PER_GROUP, Outcome

COLUMNS = ["outcome", "predictor", "analysis", "statistic", "group", "estimate", "se", "ci_lower", "ci_upper",
           "test_statistic", "df", "p_value", "p_holm", "n", "n_events", "method", "note"]

# p-values adjusted together across predictors (Holm 1979, Scand J Stat 6:65-70)
HOLM_FAMILIES = {("welch_t", "mean_difference"), ("mann_whitney", "U"), ("logistic", "coef"),
                 ("roc", "auc"), ("correlation", "pearson_r"), ("correlation", "spearman_rho")}


@dataclass
class Options:
    confidence: float = 0.95
    auc_method: str = "delong"
    direction: str = "auto"                          # auto | higher | lower
    steps: Dict[str, List[float]] = field(default_factory=dict)
    cutoffs: List[Tuple[str, str, float]] = field(default_factory=list)   # (predictor, operator, value)
    covariates: List[str] = field(default_factory=list)


@dataclass
class PredictorResult:
    """What the summary and the plots need beyond the table."""
    name: str
    n: int
    n_events: int = 0
    auc: roc.AucResult | None = None
    direction: str = "higher"
    curve: roc.RocCurve | None = None
    youden: roc.CutoffResult | None = None
    cutoffs: List[roc.CutoffResult] = field(default_factory=list)
    welch: groups.WelchResult | None = None
    mann_whitney: groups.MannWhitneyResult | None = None
    summaries: Tuple[groups.GroupSummary | None, groups.GroupSummary | None] = (None, None)
    odds_ratio_sd: Tuple[float, float, float] | None = None
    logistic_p: float = float("nan")
    pearson: correlation.CorrelationResult | None = None
    spearman: correlation.CorrelationResult | None = None
    warnings: List[str] = field(default_factory=list)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm step-down adjusted p-values; NaN stays NaN."""
    p = np.asarray(p_values, dtype=float)
    result = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    if m == 0:
        return result
    order = valid[np.argsort(p[valid], kind="mergesort")]
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    result[order] = adjusted
    return result


def _step_label(step: float) -> str:
    return f"{step:g}".replace(".", "p")


class _Rows:
    def __init__(self, outcome: str, predictor: str, n: int, n_events):
        self.base = {"outcome": outcome, "predictor": predictor, "n": n, "n_events": n_events}
        self.rows: List[dict] = []

    def add(self, analysis: str, statistic: str, estimate=np.nan, **values):
        row = {c: np.nan for c in COLUMNS}
        row.update(self.base)
        row.update({"analysis": analysis, "statistic": statistic, "estimate": estimate, "group": "",
                    "method": "", "note": ""})
        row.update(values)
        self.rows.append(row)


def _proportion_rows(rows: _Rows, analysis: str, result: roc.CutoffResult, note: str):
    method = "observed value" if analysis == "youden_cutoff" else ""
    rows.add(analysis, "cutoff", result.cutoff, method=method,
             note=f"test positive if {result.rule}; TP={result.true_positive} FP={result.false_positive} "
                  f"FN={result.false_negative} TN={result.true_negative}" + (f"; {note}" if note else ""))
    for name in ("sensitivity", "specificity", "ppv", "npv", "accuracy"):
        proportion = getattr(result, name)
        rows.add(analysis, name, proportion.estimate, ci_lower=proportion.ci_lower,
                 ci_upper=proportion.ci_upper, method="Clopper-Pearson",
                 note=f"{proportion.numerator}/{proportion.denominator}")
    rows.add(analysis, "youden_j", result.youden)


def analyse_binary(table: pd.DataFrame, predictor: str, outcome: Outcome, options: Options):
    values = table[predictor].reindex(outcome.values.index)
    keep = values.notna().to_numpy()
    x = values.to_numpy(dtype=float)[keep]
    y = outcome.values.to_numpy(dtype=int)[keep]
    n, n_events = int(x.size), int(y.sum())
    rows = _Rows(outcome.name, predictor, n, n_events)
    info = PredictorResult(predictor, n, n_events)
    no_label, yes_label = outcome.labels
    event, other = x[y == 1], x[y == 0]
    info.summaries = (groups.describe(other), groups.describe(event))
    for label, summary in ((no_label, info.summaries[0]), (yes_label, info.summaries[1])):
        for stat in ("n", "mean", "sd", "median", "q1", "q3", "iqr", "minimum", "maximum"):
            rows.add("descriptive", stat, float(getattr(summary, stat)), group=f"{outcome.name}={label}")
    missing = int((~keep).sum())
    if missing:
        info.warnings.append(f"{missing} case(s) without a value are left out")
    if event.size < MIN_PER_GROUP or other.size < MIN_PER_GROUP:
        message = (f"skipped: only {event.size} case(s) with and {other.size} without the outcome have a "
                   f"value (at least {MIN_PER_GROUP} each are needed)")
        rows.add("skipped", "none", note=message)
        info.warnings.append(message)
        return rows.rows, info
    if np.ptp(x) == 0:
        message = "skipped: the predictor has the same value in every case"
        rows.add("skipped", "none", note=message)
        info.warnings.append(message)
        return rows.rows, info

    contrast = f"{outcome.name}={yes_label} minus {outcome.name}={no_label}"
    welch = groups.welch_t_test(event, other, options.confidence)
    info.welch = welch
    rows.add("welch_t", "mean_difference", welch.difference, ci_lower=welch.ci_lower, ci_upper=welch.ci_upper,
             test_statistic=welch.t, df=welch.df, p_value=welch.p_value, method="Welch", note=contrast)
    rows.add("effect_size", "hedges_g", groups.hedges_g(event, other), note=contrast)
    mw = groups.mann_whitney_u(event, other)
    info.mann_whitney = mw
    rows.add("mann_whitney", "U", mw.u, test_statistic=mw.z, p_value=mw.p_value, method=mw.method,
             note=f"U of the {outcome.name}={yes_label} group; U/(n1 n0) = AUC")

    auc = roc.auc_ci(x, y, options.auc_method, options.confidence)
    direction = options.direction
    if direction == "auto":
        direction = "higher" if auc.auc >= 0.5 else "lower"
    if direction == "lower":
        auc = roc.AucResult(1 - auc.auc, auc.se, 1 - auc.ci_upper, 1 - auc.ci_lower, auc.method,
                            auc.n_positive, auc.n_negative)
    info.auc, info.direction = auc, direction
    chosen = " (direction chosen from the data)" if options.direction == "auto" else ""
    rows.add("roc", "auc", auc.auc, se=auc.se, ci_lower=auc.ci_lower, ci_upper=auc.ci_upper,
             p_value=mw.p_value, method=auc.method,
             note=f"{direction} values indicate {outcome.name}={yes_label}{chosen}; "
                  "p: Mann-Whitney test of AUC=0.5")
    info.curve = roc.roc_curve(x, y, direction)
    info.youden = roc.youden_cutoff(x, y, direction, options.confidence, info.curve)
    _proportion_rows(rows, "youden_cutoff", info.youden,
                     "cut-off chosen on these data: sensitivity/specificity are optimistic")
    for name, operator, value in options.cutoffs:
        if name == predictor:
            result = roc.evaluate_cutoff(x, y, value, operator, options.confidence)
            info.cutoffs.append(result)
            _proportion_rows(rows, f"cutoff {operator} {value:g}", result,
                             "PPV/NPV depend on the prevalence in this sample")

    _logistic_rows(rows, info, table, outcome, predictor, x, y, keep, options)
    return rows.rows, info


def _logistic_rows(rows: _Rows, info: PredictorResult, table: pd.DataFrame, outcome: Outcome, predictor: str,
                   x: np.ndarray, y: np.ndarray, keep: np.ndarray, options: Options):
    covariates = list(options.covariates)
    if covariates:
        extra = table[covariates].reindex(outcome.values.index).to_numpy(dtype=float)[keep]
        complete = ~np.isnan(extra).any(axis=1)
        design = np.column_stack([x, extra])[complete]
        response = y[complete]
        method = "maximum likelihood, adjusted for " + ", ".join(covariates)
    else:
        design, response, complete = x[:, None], y, np.ones(x.size, dtype=bool)
        method = "maximum likelihood (univariable)"
    n_model, events_model = int(response.size), int(response.sum())
    sd = float(np.std(x[complete], ddof=1))
    try:
        fit = logistic.fit_logistic(design, response, [predictor] + covariates, confidence=options.confidence)
    except (logistic.SeparationError, logistic.ConvergenceError, ValueError) as exc:
        message = f"logistic regression not estimable: {exc}"
        rows.add("logistic", "coef", n=n_model, n_events=events_model, method=method, note=message)
        info.warnings.append(message)
        return
    i = fit.index(predictor)
    low, high = fit.conf_int[i]
    base = {"n": n_model, "n_events": events_model, "method": method}
    rows.add("logistic", "coef", float(fit.coef[i]), se=float(fit.se[i]), ci_lower=float(low),
             ci_upper=float(high), test_statistic=float(fit.z[i]), p_value=float(fit.p_values[i]),
             note="log odds per unit; Wald z", **base)
    scales = [("odds_ratio_per_unit", 1.0, "per 1 unit")]
    scales.append(("odds_ratio_per_sd", sd, f"per SD ({sd:.4g} units); equals the OR of the z-score"))
    scales += [(f"odds_ratio_per_{_step_label(s)}", s, f"per {s:g} units")
               for s in options.steps.get(predictor, [])]
    for statistic, step, note in scales:
        estimate, lower, upper = fit.odds_ratio(predictor, step)
        rows.add("logistic", statistic, estimate, se=float(fit.se[i] * step), ci_lower=lower, ci_upper=upper,
                 p_value=float(fit.p_values[i]), note=f"{note}; Wald CI; se on the log scale", **base)
    info.odds_ratio_sd = fit.odds_ratio(predictor, sd)
    info.logistic_p = float(fit.p_values[i])
    for name in covariates:
        estimate, lower, upper = fit.odds_ratio(name)
        rows.add("logistic", "covariate_odds_ratio_per_unit", estimate, group=name, ci_lower=lower,
                 ci_upper=upper, p_value=float(fit.p_values[fit.index(name)]), **base)
    rows.add("logistic", "likelihood_ratio_chi2", fit.lr_chi2, df=fit.lr_df, p_value=fit.lr_p_value,
             note=f"against the intercept-only model; AIC {fit.aic:.4g}", **base)
    events_per_variable = min(events_model, n_model - events_model) / (len(fit.names) - 1)
    if events_per_variable < 10:
        info.warnings.append(f"few events per variable ({events_per_variable:.3g} < 10): odds ratios may be "
                             "biased away from 1 and Wald intervals too narrow")


def analyse_continuous(table: pd.DataFrame, predictor: str, outcome: Outcome, options: Options):
    values = table[predictor].reindex(outcome.values.index)
    keep = values.notna().to_numpy()
    x = values.to_numpy(dtype=float)[keep]
    y = outcome.values.to_numpy(dtype=float)[keep]
    rows = _Rows(outcome.name, predictor, int(x.size), "")
    info = PredictorResult(predictor, int(x.size))
    summary = groups.describe(x)
    for stat in ("n", "mean", "sd", "median", "q1", "q3", "iqr", "minimum", "maximum"):
        rows.add("descriptive", stat, float(getattr(summary, stat)), group="all")
    if x.size < 5 or np.ptp(x) == 0:
        message = "skipped: fewer than 5 cases with a value, or the predictor is constant"
        rows.add("skipped", "none", note=message)
        info.warnings.append(message)
        return rows.rows, info
    info.pearson = correlation.pearson(x, y, options.confidence)
    info.spearman = correlation.spearman(x, y, options.confidence)
    rows.add("correlation", "pearson_r", info.pearson.estimate, ci_lower=info.pearson.ci_lower,
             ci_upper=info.pearson.ci_upper, df=x.size - 2, p_value=info.pearson.p_value, method="Pearson",
             note="CI by Fisher z")
    rows.add("correlation", "spearman_rho", info.spearman.estimate, ci_lower=info.spearman.ci_lower,
             ci_upper=info.spearman.ci_upper, df=x.size - 2, p_value=info.spearman.p_value, method="Spearman",
             note="p by t approximation; CI by Fisher z (Bonett-Wright variance)")
    return rows.rows, info


def analyse(table: pd.DataFrame, predictors: Sequence[str], outcome: Outcome, options: Options):
    """Tidy DataFrame of all results plus per-predictor details."""
    all_rows: List[dict] = []
    details: List[PredictorResult] = []
    for predictor in predictors:
        if outcome.kind == "binary":
            rows, info = analyse_binary(table, predictor, outcome, options)
        else:
            rows, info = analyse_continuous(table, predictor, outcome, options)
        all_rows.extend(rows)
        details.append(info)
    frame = pd.DataFrame(all_rows, columns=COLUMNS)
    for analysis, statistic in HOLM_FAMILIES:
        mask = (frame["analysis"] == analysis) & (frame["statistic"] == statistic)
        if mask.any():
            frame.loc[mask, "p_holm"] = holm(frame.loc[mask, "p_value"].to_numpy(dtype=float))
    return frame, details


def _ci(estimate, lower, upper, digits=3) -> str:
    return f"{estimate:.{digits}g} ({lower:.{digits}g} to {upper:.{digits}g})"


def _p(p: float) -> str:
    if p is None or np.isnan(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def summary_text(outcome: Outcome, details: Sequence[PredictorResult], cohort_source: str,
                 covariates: Sequence[str] = ()) -> str:
    lines = [f"SpineQuant statistics: {cohort_source}, outcome {outcome.name!r} ({outcome.kind})"]
    if outcome.kind == "binary":
        no_label, yes_label = outcome.labels
        lines.append(f"{len(outcome.values)} cases: {outcome.n_events} {outcome.name}={yes_label}, "
                     f"{len(outcome.values) - outcome.n_events} {outcome.name}={no_label}")
    else:
        lines.append(f"{len(outcome.values)} cases with the outcome")
    lines += [f"note: {n}" for n in outcome.notes]
    for info in details:
        lines.append("")
        events = f", {info.n_events} events" if outcome.kind == "binary" else ""
        lines.append(f"{info.name} (n={info.n}{events})")
        if outcome.kind == "binary" and info.welch is not None:
            no_s, yes_s = info.summaries
            for label, s in ((outcome.labels[1], yes_s), (outcome.labels[0], no_s)):
                lines.append(f"  {label}: mean {s.mean:.4g} SD {s.sd:.3g}, median {s.median:.4g} "
                             f"[IQR {s.q1:.4g}-{s.q3:.4g}]")
            lines.append(f"  Welch t p={_p(info.welch.p_value)}; "
                         f"Mann-Whitney p={_p(info.mann_whitney.p_value)}")
            lines.append(f"  AUC {_ci(info.auc.auc, info.auc.ci_lower, info.auc.ci_upper)} "
                         f"[{info.auc.method}; {info.direction} values indicate the outcome]")
            y = info.youden
            lines.append(f"  Youden cut-off {y.rule}: sensitivity {y.sensitivity.estimate:.2f}, "
                         f"specificity {y.specificity.estimate:.2f} (optimistic: chosen on these data)")
            for c in info.cutoffs:
                sens, spec = c.sensitivity, c.specificity
                lines.append(f"  Cut-off {c.rule}: "
                             f"sensitivity {_ci(sens.estimate, sens.ci_lower, sens.ci_upper, 2)}, "
                             f"specificity {_ci(spec.estimate, spec.ci_lower, spec.ci_upper, 2)}, "
                             f"PPV {c.ppv.estimate:.2f}, NPV {c.npv.estimate:.2f}")
            if info.odds_ratio_sd is not None:
                adjusted = f" adjusted for {', '.join(covariates)}" if covariates else ""
                lines.append(f"  Logistic OR per SD {_ci(*info.odds_ratio_sd)}{adjusted}, "
                             f"p={_p(info.logistic_p)}")
        elif info.pearson is not None:
            r = info.pearson
            lines.append(f"  Pearson r {_ci(r.estimate, r.ci_lower, r.ci_upper)}, "
                         f"p={_p(info.pearson.p_value)}; Spearman rho {info.spearman.estimate:.3g}, "
                         f"p={_p(info.spearman.p_value)}")
        lines += [f"  warning: {w}" for w in info.warnings]
    if len(details) > 1:
        lines.append("")
        lines.append(f"{len(details)} predictors were tested: p_holm in stats.csv adjusts for that (Holm).")
    return "\n".join(lines)


def safe_name(name: str) -> str:
    """File-name part for a predictor column: 'multifidus_left_L4_fat [%]' -> 'multifidus_left_L4_fat_pct'."""
    text = name.replace("%", "pct")
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_.")
    return text or "predictor"
