"""`spinequant stats`: does a measurement predict an outcome? Group tests, ROC/AUC, cut-offs, logistic ORs."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError
from ..tables import write_table_atomic

HELP = "statistics of measurements against an outcome (t/U tests, ROC AUC, cut-offs, logistic odds ratios)"

EPILOG = """examples:
  spinequant stats cohort.csv --outcomes outcomes.csv --outcome poor_outcome \\
      --predictors 'multifidus_*_fat_infiltration*' --or-per 5 --out stats/
  spinequant stats cohort.csv --outcomes fractures.csv --outcome new_fracture \\
      --predictors vbq --cutoff 'vbq>=3.0' --out vbq_stats/

COHORT is a SpineQuant long table (or any CSV with one row per case and a case_id column).
OUTCOMES is a CSV with case_id and the outcome column (0/1, yes/no, true/false; a numeric
outcome with more than two values gives correlations instead).
Writes OUT/stats.csv (one row per estimate), OUT/summary.txt and OUT/roc_*.png, OUT/dist_*.png."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("stats", help=HELP, description=HELP, epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cohort", metavar="COHORT.csv", help="long measurement table (or per-case CSV)")
    parser.add_argument("--outcome", required=True, metavar="COLUMN", help="outcome column name")
    parser.add_argument("--outcomes", metavar="OUTCOMES.csv",
                        help="CSV with case_id and the outcome (default: the outcome is a column of COHORT)")
    parser.add_argument("--predictors", nargs="+", default=[], metavar="NAME",
                        help="measurement columns: exact names (unit suffix optional), globs such as "
                             "'multifidus_*_fat*', or words contained in the name (default: all)")
    parser.add_argument("--cutoff", action="append", default=[], metavar="COLUMN>=VALUE",
                        help="evaluate a fixed cut-off, e.g. 'vbq>=3.0' (sensitivity, specificity, PPV, "
                             "NPV); repeatable")
    parser.add_argument("--or-per", action="append", default=[], metavar="[COLUMN=]STEP",
                        help="also report odds ratios per STEP units (e.g. 5 or 'fat*=10'); repeatable")
    parser.add_argument("--adjust", nargs="+", default=[], metavar="COLUMN",
                        help="covariates (columns of OUTCOMES) to adjust the logistic regression for")
    parser.add_argument("--outcome-type", choices=("auto", "binary", "continuous"), default="auto")
    parser.add_argument("--direction", choices=("auto", "higher", "lower"), default="auto",
                        help="which values indicate the outcome for ROC/cut-offs (default: from the AUC)")
    parser.add_argument("--auc-ci", choices=("delong", "hanley"), default="delong",
                        help="AUC confidence interval: DeLong (default) or Hanley-McNeil")
    parser.add_argument("--confidence", type=float, default=0.95, help="confidence level (default 0.95)")
    parser.add_argument("--no-plots", action="store_true", help="write no PNG plots")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    return parser


def run(args) -> int:
    from ..stats import plots, report
    from ..stats.inputs import (
        load_cohort,
        load_outcome,
        match_columns,
        parse_cutoff,
        parse_steps,
        select_predictors,
        step_map,
    )

    if not 0.5 < args.confidence < 1:
        raise InputError("--confidence", f"{args.confidence} is not between 0.5 and 1")
    cutoff_specs = [parse_cutoff(text) for text in args.cutoff]
    steps = parse_steps(args.or_per)
    cohort = load_cohort(args.cohort)
    outcome, table = load_outcome(cohort, args.cohort, args.outcome, args.outcomes, args.outcome_type,
                                  args.adjust)
    predictors = select_predictors(table, args.predictors, args.cohort, exclude=args.adjust)
    for name, _, _ in cutoff_specs:
        if not match_columns(name, predictors):  # a cut-off column not among --predictors: analyse it too
            predictors += [c for c in select_predictors(table, [name], "--cutoff", exclude=args.adjust)
                           if c not in predictors]
    cutoffs = []
    for name, operator, value in cutoff_specs:
        matched = match_columns(name, predictors)
        if not matched:
            raise InputError("--cutoff", f"no measurement column matches {name!r}")
        cutoffs += [(column, operator, value) for column in matched]
    options = report.Options(confidence=args.confidence, auc_method=args.auc_ci, direction=args.direction,
                             steps=step_map(predictors, steps), cutoffs=cutoffs, covariates=list(args.adjust))
    frame, details = report.analyse(table, predictors, outcome, options)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_table_atomic(frame, str(out / "stats.csv"))
    text = report.summary_text(outcome, details, args.cohort, args.adjust)
    (out / "summary.txt").write_text(text + "\n", encoding="utf-8")
    if not args.no_plots:
        used = set()
        for info in details:
            stem = report.safe_name(info.name)
            while stem in used:
                stem += "_"
            used.add(stem)
            values = table[info.name].reindex(outcome.values.index)
            keep = values.notna()
            if outcome.kind == "binary":
                y = outcome.values[keep]
                x = values[keep]
                plots.distribution_plot(
                    str(out / f"dist_{stem}.png"), [x[y == 0].to_numpy(float), x[y == 1].to_numpy(float)],
                    [f"{outcome.name}={label} (n={(y == code).sum()})"
                     for code, label in enumerate(outcome.labels)],
                    info.name, info.name)
                if info.curve is not None:
                    point = (1 - info.youden.specificity.estimate, info.youden.sensitivity.estimate)
                    auc = info.auc
                    plots.roc_plot(str(out / f"roc_{stem}.png"), info.curve.fpr, info.curve.tpr, info.name,
                                   f"AUC {auc.auc:.2f} ({auc.ci_lower:.2f}-{auc.ci_upper:.2f})", point,
                                   f"YOUDEN {info.youden.rule.replace('value', 'X')}")
            elif info.n >= 2:
                plots.scatter_plot(str(out / f"dist_{stem}.png"), values[keep].to_numpy(float),
                                   outcome.values[keep].to_numpy(float), info.name, info.name, outcome.name)
    print(text)
    print(f"\nwrote {out / 'stats.csv'} ({len(frame)} rows){'' if args.no_plots else ' and plots'}")
    return 0
