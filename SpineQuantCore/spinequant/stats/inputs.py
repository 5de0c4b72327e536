"""Reading the cohort and the outcomes, coding the outcome, and choosing predictor columns."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
import pandas as pd

from ..errors import InputError
from ..tables import LONG_COLUMNS, read_long_table, wide_table

YES = {"1", "1.0", "yes", "y", "true", "t", "positive", "pos"}
NO = {"0", "0.0", "no", "n", "false", "f", "negative", "neg"}

MIN_PER_GROUP = 3      # fewest cases with / without a binary outcome
MIN_CONTINUOUS = 5     # fewest cases for correlations with a continuous outcome


def _read_csv(path: str) -> pd.DataFrame:
    target = Path(path)
    if not target.exists():
        raise InputError(path, "file not found")
    try:
        frame = pd.read_csv(target, dtype=str, keep_default_na=False, na_values=["", "NA", "NaN", "nan"])
    except Exception as exc:  # pandas raises many types for corrupt files
        raise InputError(path, f"cannot read the CSV ({exc})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def load_cohort(path: str) -> pd.DataFrame:
    """Per-case table: the wide view of a SpineQuant long table, or a CSV that is already one row per case."""
    frame = _read_csv(path)
    if "case_id" not in frame.columns:
        raise InputError(path, f"has no case_id column (columns: {', '.join(frame.columns[:12])})")
    if frame.empty:
        raise InputError(path, "the cohort table has no rows")
    if all(c in frame.columns for c in LONG_COLUMNS if c != "software_version"):
        wide = wide_table(read_long_table(path))
    else:
        wide = frame.copy()
        for column in wide.columns:
            if column != "case_id":
                converted = pd.to_numeric(wide[column], errors="coerce")
                if converted.notna().sum() >= wide[column].notna().sum():
                    wide[column] = converted
    wide["case_id"] = wide["case_id"].astype(str).str.strip()
    duplicated = wide["case_id"][wide["case_id"].duplicated()].unique()
    if len(duplicated):
        raise InputError(path, f"case_id repeated in a per-case table: {', '.join(duplicated[:5])}")
    return wide.set_index("case_id")


@dataclass
class Outcome:
    name: str
    kind: str                       # "binary" or "continuous"
    values: pd.Series               # indexed by case_id; 0/1 for binary, float otherwise; no missing
    labels: Tuple[str, str] = ("0", "1")   # printed names of the groups without / with the outcome
    notes: List[str] = field(default_factory=list)

    @property
    def n_events(self) -> int:
        return int(self.values.sum()) if self.kind == "binary" else 0


def code_outcome(raw: pd.Series, source: str, column: str, kind: str = "auto") -> Outcome:
    """0/1 coding of yes/no, true/false, 0/1 outcomes; numeric with more than two values -> continuous."""
    present = raw.dropna()
    present = present[present.astype(str).str.strip() != ""]
    text = present.astype(str).str.strip().str.lower()
    distinct = sorted(set(text))
    if not distinct:
        raise InputError(source, f"outcome column {column!r} has no values")
    if kind in ("auto", "binary") and all(v in YES or v in NO for v in distinct):
        values = text.map(lambda v: 1 if v in YES else 0).astype(int)
        if set(distinct) <= {"0", "1", "0.0", "1.0"}:
            labels = ("0", "1")
        else:
            labels = (next((v for v in distinct if v in NO), "no"),
                      next((v for v in distinct if v in YES), "yes"))
        return Outcome(column, "binary", values, labels)
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.isna().any():
        bad = sorted(set(present[numbers.isna()].astype(str)))[:5]
        raise InputError(source, f"outcome column {column!r} is neither binary (0/1, yes/no, true/false) nor "
                                 f"numeric: values such as {', '.join(repr(b) for b in bad)}")
    levels = np.unique(numbers.to_numpy(dtype=float))
    if kind == "binary" or (kind == "auto" and levels.size <= 2):
        shown = ", ".join(f"{v:g}" for v in levels[:6])
        raise InputError(source, f"outcome column {column!r} is not binary: it takes the values {shown}; "
                                 "code the outcome as 0/1 or yes/no (or pass --outcome-type continuous "
                                 "for correlations)")
    return Outcome(column, "continuous", numbers.astype(float))


def load_outcome(cohort: pd.DataFrame, cohort_source: str, column: str, outcomes_path: str | None,
                 kind: str = "auto", covariates: Sequence[str] = ()) -> Tuple[Outcome, pd.DataFrame]:
    """Join the outcome (and covariates) by case_id; returns the outcome and the joined per-case table."""
    if outcomes_path:
        table = _read_csv(outcomes_path)
        source = outcomes_path
        if "case_id" not in table.columns:
            raise InputError(outcomes_path, "has no case_id column to join the outcome to the cohort "
                                            f"(columns: {', '.join(table.columns[:12])})")
        table["case_id"] = table["case_id"].astype(str).str.strip()
        repeated = table["case_id"][table["case_id"].duplicated()].unique()
        if len(repeated):
            raise InputError(outcomes_path, f"case_id listed more than once: {', '.join(repeated[:5])}")
        table = table.set_index("case_id")
    else:
        table = cohort
        source = cohort_source
    for name in [column, *covariates]:
        if name not in table.columns:
            listing = ", ".join(map(str, table.columns[:15])) + (", ..." if len(table.columns) > 15 else "")
            raise InputError(source, f"has no column {name!r} (columns: {listing})")
    cohort_ids = set(cohort.index)
    outcome_ids = set(table.index)
    common = cohort_ids & outcome_ids
    if not common:
        raise InputError(source, "no case_id in common with the cohort "
                                 f"(cohort: {', '.join(sorted(cohort_ids)[:3])}, ...; outcomes: "
                                 f"{', '.join(sorted(outcome_ids)[:3])}, ...); check spelling, leading zeros "
                                 "and prefixes")
    notes = []
    if outcomes_path:
        missing = sorted(cohort_ids - outcome_ids)
        extra = sorted(outcome_ids - cohort_ids)
        if missing:
            notes.append(f"{len(missing)} cohort case(s) have no outcome row and are left out "
                         f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''})")
        if extra:
            notes.append(f"{len(extra)} outcome row(s) match no cohort case ({', '.join(extra[:5])}"
                         f"{', ...' if len(extra) > 5 else ''})")
    ids = [i for i in cohort.index if i in common]
    outcome = code_outcome(table.loc[ids, column], source, column, kind)
    blank = len(ids) - len(outcome.values)
    if blank:
        notes.append(f"{blank} case(s) with a blank outcome are left out")
    outcome.notes = notes
    keep = list(outcome.values.index)
    joined = cohort.loc[keep].drop(columns=[c for c in [column, *covariates] if c in cohort.columns])
    for name in covariates:
        joined[name] = _code_covariate(table.loc[keep, name], source, name)
    if outcome.kind == "binary":
        counts = {label: int((outcome.values == code).sum()) for code, label in enumerate(outcome.labels)}
        if min(counts.values()) < MIN_PER_GROUP:
            shown = ", ".join(f"{k}: {v}" for k, v in counts.items())
            raise InputError(source, f"too few cases to compare: outcome {column!r} has {shown}; at least "
                                     f"{MIN_PER_GROUP} are needed in each group")
    elif len(outcome.values) < MIN_CONTINUOUS:
        raise InputError(source, f"too few cases: {len(outcome.values)} with outcome {column!r}; at least "
                                 f"{MIN_CONTINUOUS} are needed")
    return outcome, joined


def _code_covariate(raw: pd.Series, source: str, name: str) -> pd.Series:
    text = raw.astype(str).str.strip().str.lower()
    present = text[raw.notna()]
    if len(present) and all(v in YES or v in NO for v in set(present)):
        return present.map(lambda v: 1.0 if v in YES else 0.0).reindex(raw.index)
    numbers = pd.to_numeric(raw, errors="coerce")
    bad = raw.notna() & numbers.isna()
    if bad.any():
        raise InputError(source, f"covariate {name!r} must be numeric or yes/no; found "
                                 f"{', '.join(sorted(set(raw[bad].astype(str)))[:5])}")
    return numbers.astype(float)


def _strip_unit(name: str) -> str:
    return re.sub(r"\s*\[[^\]]*\]$", "", name)


def match_columns(pattern: str, columns: Sequence[str]) -> List[str]:
    """Columns named `pattern` (with or without the ' [unit]' suffix), matching it as a glob, or - for a
    plain word with no exact match - containing it. Case-insensitive."""
    p = pattern.strip().lower()
    exact = [c for c in columns if c.lower() == p or _strip_unit(c).lower() == p]
    if exact:
        return exact
    if any(ch in p for ch in "*?["):
        return [c for c in columns
                if fnmatch.fnmatchcase(c.lower(), p) or fnmatch.fnmatchcase(_strip_unit(c).lower(), p)]
    return [c for c in columns if p in c.lower()]


def select_predictors(table: pd.DataFrame, patterns: Sequence[str], source: str,
                      exclude: Sequence[str] = ()) -> List[str]:
    """Numeric columns chosen by `patterns` (all numeric ones except slice counts when empty)."""
    numeric = [c for c in table.columns if c not in exclude and pd.api.types.is_numeric_dtype(table[c])]
    if not patterns:
        chosen = [c for c in numeric if not c.endswith("[count]")]
        if not chosen:
            raise InputError(source, "the cohort has no numeric measurement columns to analyse")
        return chosen
    chosen: List[str] = []
    for pattern in patterns:
        found = match_columns(pattern, numeric)
        if not found:
            listing = ", ".join(numeric[:10]) + (", ..." if len(numeric) > 10 else "")
            raise InputError(source, f"no measurement column matches {pattern!r} (columns: {listing})")
        chosen.extend(c for c in found if c not in chosen)
    return chosen


_CUTOFF = re.compile(r"^\s*(?P<name>[^<>=]+?)\s*(?P<op>>=|<=|>|<)\s*"
                     r"(?P<value>[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)\s*$")


def parse_cutoff(text: str) -> Tuple[str, str, float]:
    """'vbq>=3.0' -> ('vbq', '>=', 3.0)."""
    match = _CUTOFF.match(text)
    if not match:
        raise InputError("--cutoff", f"cannot read {text!r}; write COLUMN>=VALUE (or >, <=, <), "
                                     "e.g. 'vbq>=3.0'")
    return match.group("name"), match.group("op"), float(match.group("value"))


def parse_steps(items: Sequence[str]) -> List[Tuple[str, float]]:
    """'5' (every predictor) or 'PATTERN=5' -> [(pattern, step)] for odds ratios per `step` units."""
    steps = []
    for item in items:
        pattern, _, value = item.rpartition("=")
        try:
            step = float(value)
        except ValueError:
            raise InputError("--or-per", f"cannot read {item!r}; write a number or COLUMN=NUMBER") from None
        if step <= 0 or not np.isfinite(step):
            raise InputError("--or-per", f"{item!r}: the step must be a positive number")
        steps.append((pattern or "*", step))
    return steps


def step_map(predictors: Sequence[str], steps: Sequence[Tuple[str, float]]) -> Dict[str, List[float]]:
    result: Dict[str, List[float]] = {p: [] for p in predictors}
    for pattern, step in steps:
        for name in (predictors if pattern == "*" else match_columns(pattern, predictors)):
            if step not in result[name] and step != 1:
                result[name].append(step)
    return result
