"""End-to-end tests of `spinequant stats` on generated long cohort + outcomes CSV files."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from scipy import stats as ss

from spinequant.cli import stats as stats_cli
from spinequant.errors import InputError
from spinequant.stats import logistic, roc
from spinequant.tables import long_table, make_row

FAT = "multifidus_left_L4_fat_infiltration_calibrated [%]"
CSA = "multifidus_left_L4_csa_calibrated [cm2]"
VBQ = "vertebra_L1-L4_vbq"


def _run(argv):
    parser = argparse.ArgumentParser(prog="spinequant")
    stats_cli.add_parser(parser.add_subparsers())
    return stats_cli.run(parser.parse_args(["stats", *argv]))


@pytest.fixture
def cohort(tmp_path):
    """150 cases; poor outcome follows a logistic model in fat (true OR 1.13 per %); fracture in VBQ."""
    rng = np.random.default_rng(42)
    rows, outcomes = [], []
    for i in range(150):
        case = f"SQ{i:03d}"
        fat, vbq = rng.normal(20, 6), rng.normal(2.8, 0.5)
        poor = rng.random() < 1 / (1 + np.exp(-(-3 + 0.12 * fat)))
        fracture = rng.random() < 1 / (1 + np.exp(-(-9 + 3 * vbq)))
        rows += [make_row(case, "multifidus", "left", "L4", "fat_infiltration", fat, "calibrated"),
                 make_row(case, "multifidus", "left", "L4", "csa", rng.normal(8, 1), "calibrated"),
                 make_row(case, "vertebra", "", "L1-L4", "vbq", vbq),
                 make_row(case, "multifidus", "left", "L4", "slices", 5)]
        outcomes.append({"case_id": case, "poor_outcome": "yes" if poor else "no", "fracture": int(fracture),
                         "pain": 3 + 0.1 * fat + rng.normal(0, 1.5), "age": rng.normal(60, 10)})
    long_path, outcome_path = tmp_path / "cohort.csv", tmp_path / "outcomes.csv"
    long_table(rows).to_csv(long_path, index=False)
    pd.DataFrame(outcomes).to_csv(outcome_path, index=False)
    return long_path, outcome_path


def _wide(long_path, outcome_path):
    long = pd.read_csv(long_path, dtype={"case_id": str})
    fat = long[long.metric == "fat_infiltration"].set_index("case_id")["value"]
    vbq = long[long.metric == "vbq"].set_index("case_id")["value"]
    out = pd.read_csv(outcome_path, dtype={"case_id": str}).set_index("case_id")
    return fat, vbq, out


def _row(frame, predictor, analysis, statistic, group=None):
    mask = (frame.predictor == predictor) & (frame.analysis == analysis) & (frame.statistic == statistic)
    if group is not None:
        mask &= frame.group == group
    assert mask.sum() == 1, (predictor, analysis, statistic)
    return frame[mask].iloc[0]


def test_end_to_end_binary(cohort, tmp_path, capsys):
    long_path, outcome_path = cohort
    out = tmp_path / "out"
    code = _run([str(long_path), "--outcomes", str(outcome_path), "--outcome", "poor_outcome",
                 "--or-per", "5", "--cutoff", "vbq>=3.0", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "150 cases: " in printed and "AUC" in printed and "OR per SD" in printed
    frame = pd.read_csv(out / "stats.csv")
    assert set(frame.predictor) == {FAT, CSA, VBQ}  # the slice count is not a predictor
    assert (out / "summary.txt").read_text().startswith("SpineQuant statistics")

    fat, _, outcomes = _wide(long_path, outcome_path)
    y = (outcomes.loc[fat.index, "poor_outcome"] == "yes").astype(int).to_numpy()
    x = fat.to_numpy()
    # group tests agree with scipy on the same numbers
    welch = _row(frame, FAT, "welch_t", "mean_difference")
    ref = ss.ttest_ind(x[y == 1], x[y == 0], equal_var=False)
    assert welch.test_statistic == pytest.approx(ref.statistic, rel=1e-9)
    assert welch.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    mw = _row(frame, FAT, "mann_whitney", "U")
    ref_u = ss.mannwhitneyu(x[y == 1], x[y == 0])
    assert mw.estimate == ref_u.statistic and mw.p_value == pytest.approx(ref_u.pvalue, rel=1e-9)
    auc = _row(frame, FAT, "roc", "auc")
    assert auc.estimate == pytest.approx(ref_u.statistic / ((y == 1).sum() * (y == 0).sum()), abs=1e-12)
    assert auc.ci_lower < auc.estimate < auc.ci_upper
    # logistic regression: the true OR per unit (exp 0.12) lies inside the CI, per-5 OR = OR^5
    per_unit = _row(frame, FAT, "logistic", "odds_ratio_per_unit")
    assert per_unit.ci_lower < np.exp(0.12) < per_unit.ci_upper
    per_5 = _row(frame, FAT, "logistic", "odds_ratio_per_5")
    assert per_5.estimate == pytest.approx(per_unit.estimate ** 5, rel=1e-9)
    fit = logistic.fit_logistic(x, y, ["fat"])
    assert _row(frame, FAT, "logistic", "coef").se == pytest.approx(fit.se[1], rel=1e-12)
    per_sd = _row(frame, FAT, "logistic", "odds_ratio_per_sd")
    assert per_sd.estimate == pytest.approx(np.exp(fit.coef[1] * x.std(ddof=1)), rel=1e-9)
    # descriptive statistics
    mean_yes = _row(frame, FAT, "descriptive", "mean", "poor_outcome=yes")
    assert mean_yes.estimate == pytest.approx(x[y == 1].mean())
    # fixed cut-off on VBQ and Holm adjustment present
    sens = _row(frame, VBQ, "cutoff >= 3", "sensitivity")
    assert 0 <= sens.ci_lower <= sens.estimate <= sens.ci_upper <= 1
    assert frame.loc[frame.analysis == "roc", "p_holm"].notna().all()
    # plots: PNG files of the expected size
    for name in ("roc_multifidus_left_L4_fat_infiltration_calibrated_pct.png",
                 "dist_multifidus_left_L4_fat_infiltration_calibrated_pct.png", "roc_vertebra_L1-L4_vbq.png"):
        image = sitk.ReadImage(str(out / name))
        assert image.GetSize()[0] >= 400 and image.GetNumberOfComponentsPerPixel() == 3


def test_fracture_vbq_cutoff_and_direction(cohort, tmp_path):
    long_path, outcome_path = cohort
    out = tmp_path / "vbq"
    _run([str(long_path), "--outcomes", str(outcome_path), "--outcome", "fracture", "--predictors", "vbq",
          "--cutoff", "vbq>=3.0", "--adjust", "age", "--no-plots", "--out", str(out)])
    frame = pd.read_csv(out / "stats.csv")
    assert set(frame.predictor) == {VBQ}
    _, vbq, outcomes = _wide(long_path, outcome_path)
    y = outcomes.loc[vbq.index, "fracture"].to_numpy()
    expected = roc.evaluate_cutoff(vbq.to_numpy(), y, 3.0, ">=")
    for name in ("sensitivity", "specificity", "ppv", "npv"):
        expected_value = getattr(expected, name).estimate
        assert _row(frame, VBQ, "cutoff >= 3", name).estimate == pytest.approx(expected_value)
    assert "higher values indicate" in _row(frame, VBQ, "roc", "auc").note
    assert _row(frame, VBQ, "logistic", "covariate_odds_ratio_per_unit", "age").estimate > 0
    assert "adjusted for age" in _row(frame, VBQ, "logistic", "coef").method
    assert not list(out.glob("*.png"))


def test_continuous_outcome_gives_correlations(cohort, tmp_path):
    long_path, outcome_path = cohort
    out = tmp_path / "pain"
    _run([str(long_path), "--outcomes", str(outcome_path), "--outcome", "pain", "--predictors", "*fat*",
          "--out", str(out)])
    frame = pd.read_csv(out / "stats.csv")
    fat, _, outcomes = _wide(long_path, outcome_path)
    ref = ss.pearsonr(fat.to_numpy(), outcomes.loc[fat.index, "pain"].to_numpy())
    r = _row(frame, FAT, "correlation", "pearson_r")
    assert r.estimate == pytest.approx(ref.statistic, rel=1e-9)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-6)
    assert (out / "dist_multifidus_left_L4_fat_infiltration_calibrated_pct.png").exists()


def test_separation_is_a_row_not_a_crash(tmp_path, capsys):
    wide = pd.DataFrame({"case_id": [f"c{i}" for i in range(10)], "vbq": np.arange(10.0),
                         "fracture": [0] * 5 + [1] * 5})
    path = tmp_path / "wide.csv"
    wide.to_csv(path, index=False)  # a per-case CSV with the outcome in it is accepted too
    _run([str(path), "--outcome", "fracture", "--out", str(tmp_path / "o")])
    frame = pd.read_csv(tmp_path / "o" / "stats.csv")
    row = _row(frame, "vbq", "logistic", "coef")
    assert np.isnan(row.estimate) and "complete separation" in row.note
    assert _row(frame, "vbq", "roc", "auc").estimate == 1.0
    assert "complete separation" in capsys.readouterr().out


def test_main_dispatches_stats(cohort, tmp_path):
    cli = pytest.importorskip("spinequant.cli")
    try:
        cli.build_parser()
    except ImportError as exc:  # another sub-command not importable in this checkout
        pytest.skip(f"CLI dispatcher not importable: {exc}")
    long_path, outcome_path = cohort
    code = cli.main(["stats", str(long_path), "--outcomes", str(outcome_path), "--outcome", "poor_outcome",
                     "--no-plots", "--out", str(tmp_path / "m")])
    assert code == 0 and (tmp_path / "m" / "stats.csv").exists()
    assert cli.main(["stats", str(long_path), "--outcomes", str(outcome_path), "--outcome", "nope",
                     "--out", str(tmp_path / "m")]) == 2


def _outcomes(tmp_path, name, frame):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize("column,values,message", [
    ("missing_column", None, "has no column 'missing_column'"),
    ("grade", [1, 2] * 75, "is not binary: it takes the values 1, 2"),
    ("status", ["dead", "alive"] * 75, "neither binary"),
    ("rare", [1] * 2 + [0] * 148, "too few cases to compare"),
])
def test_bad_outcomes(cohort, tmp_path, column, values, message):
    long_path, outcome_path = cohort
    table = pd.read_csv(outcome_path, dtype={"case_id": str})
    if values is not None:
        table[column] = values
    path = _outcomes(tmp_path, "bad.csv", table)
    with pytest.raises(InputError, match=message):
        _run([str(long_path), "--outcomes", path, "--outcome", column, "--out", str(tmp_path / "x")])


def test_forced_binary_rejects_continuous(cohort, tmp_path):
    long_path, outcome_path = cohort
    with pytest.raises(InputError, match="not binary"):
        _run([str(long_path), "--outcomes", str(outcome_path), "--outcome", "pain",
              "--outcome-type", "binary", "--out", str(tmp_path / "x")])


def test_case_ids_not_matching(cohort, tmp_path):
    long_path, outcome_path = cohort
    table = pd.read_csv(outcome_path, dtype={"case_id": str})
    table["case_id"] = table["case_id"].str.replace("SQ", "")
    path = _outcomes(tmp_path, "ids.csv", table)
    with pytest.raises(InputError, match="no case_id in common"):
        _run([str(long_path), "--outcomes", path, "--outcome", "fracture", "--out", str(tmp_path / "x")])


def test_partial_match_is_reported(cohort, tmp_path, capsys):
    long_path, outcome_path = cohort
    table = pd.read_csv(outcome_path, dtype={"case_id": str}).iloc[:100]
    path = _outcomes(tmp_path, "part.csv", table)
    _run([str(long_path), "--outcomes", path, "--outcome", "poor_outcome", "--no-plots",
          "--out", str(tmp_path / "x")])
    assert "50 cohort case(s) have no outcome row" in capsys.readouterr().out


@pytest.mark.parametrize("extra,message", [
    (["--predictors", "psoas"], "no measurement column matches 'psoas'"),
    (["--cutoff", "vbq=>3"], "cannot read 'vbq=>3'"),
    (["--or-per", "fat=abc"], "cannot read 'fat=abc'"),
])
def test_bad_options(cohort, tmp_path, extra, message):
    long_path, outcome_path = cohort
    with pytest.raises(InputError, match=message):
        _run([str(long_path), "--outcomes", str(outcome_path), "--outcome", "fracture", *extra,
              "--out", str(tmp_path / "x")])


def test_missing_files(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        _run([str(tmp_path / "none.csv"), "--outcome", "y", "--out", str(tmp_path / "x")])
