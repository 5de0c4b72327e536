"""Long/wide tables and the cohort file that never loses or silently overwrites rows."""

from __future__ import annotations

import pandas as pd
import pytest

from spinequant.cohort import append_case
from spinequant.errors import CohortError
from spinequant.tables import LONG_COLUMNS, long_table, make_row, read_long_table, wide_table


def case(case_id, csa=10.0):
    return long_table([
        make_row(case_id, "multifidus", "left", "L4", "csa", csa),
        make_row(case_id, "multifidus", "left", "L4", "fat_infiltration", 12.5, method="calibrated"),
    ])


def test_long_table_columns_and_units():
    table = case("a")
    assert list(table.columns[: len(LONG_COLUMNS)]) == LONG_COLUMNS
    assert list(table.unit) == ["cm2", "%"]


def test_wide_view_one_row_per_case():
    wide = wide_table(pd.concat([case("a", 10), case("b", 11)]))
    assert list(wide.case_id) == ["a", "b"]
    assert wide["multifidus_left_L4_csa [cm2]"].tolist() == [10, 11]
    assert "multifidus_left_L4_fat_infiltration_calibrated [%]" in wide.columns


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_cohort_appends_and_refuses_duplicates(tmp_path, suffix):
    cohort = tmp_path / f"cohort{suffix}"
    append_case(str(cohort), case("a"))
    append_case(str(cohort), case("b"))
    before = cohort.read_bytes()
    with pytest.raises(CohortError, match="case id a is already in the cohort"):
        append_case(str(cohort), case("a", 99))
    assert cohort.read_bytes() == before
    table = read_long_table(str(cohort))
    assert sorted(set(table.case_id)) == ["a", "b"] and len(table) == 4


def test_replace_keeps_backup(tmp_path):
    cohort = tmp_path / "cohort.csv"
    append_case(str(cohort), case("a", 10))
    append_case(str(cohort), case("b", 20))
    backup = append_case(str(cohort), case("a", 30), replace=True)
    assert backup is not None and backup.exists()
    old = read_long_table(str(backup))
    assert old[(old.case_id == "a") & (old.metric == "csa")].value.tolist() == [10]
    new = read_long_table(str(cohort))
    assert new[(new.case_id == "a") & (new.metric == "csa")].value.tolist() == [30]
    assert new[new.case_id == "b"].value.tolist() == [20, 12.5]


def test_failed_write_leaves_cohort_intact(tmp_path, monkeypatch):
    cohort = tmp_path / "cohort.csv"
    append_case(str(cohort), case("a"))
    before = cohort.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(OSError):
        append_case(str(cohort), case("b"))
    assert cohort.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["cohort.csv"]
