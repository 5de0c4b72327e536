"""Accumulate cases in one cohort file without ever losing or silently overwriting earlier rows."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd

from .errors import CohortError, InputError
from .safefiles import backup_existing
from .tables import long_table, read_long_table, wide_table, write_table_atomic


def check_can_append(cohort_path: str, case_ids, replace: bool = False) -> None:
    """Fail before any work is done when a case id is already in the cohort and no replace was asked."""
    path = Path(cohort_path)
    if replace or not path.exists():
        return
    existing = set(read_long_table(str(path))["case_id"])
    clashes = sorted(existing & set(case_ids))
    if clashes:
        raise CohortError(
            f"{path}: case id {', '.join(clashes)} is already in the cohort; "
            "give another case id, or ask to replace it (a backup of the file is kept)"
        )


def append_case(cohort_path: str, case_rows: pd.DataFrame, replace: bool = False) -> Optional[Path]:
    """Append one or more cases' rows to a cohort CSV/XLSX.

    Refuses a case id already in the file unless ``replace`` is true; then the earlier file is
    backed up first and only that case's rows are swapped. Returns the backup path, if one was made.
    """
    path = Path(cohort_path)
    new_rows = long_table(case_rows.to_dict("records"))
    if new_rows.empty:
        raise InputError(str(case_rows.attrs.get("source", "measurements")), "no rows to append")
    new_ids = sorted(set(new_rows["case_id"]))
    if any(not case_id for case_id in new_ids):
        raise InputError(str(path), "every row needs a non-empty case_id before it joins a cohort")
    backup = None
    if path.exists():
        check_can_append(cohort_path, new_ids, replace)
        existing = read_long_table(str(path))
        clashes = sorted(set(existing["case_id"]) & set(new_ids))
        if clashes:
            backup = backup_existing(path)
            existing = existing[~existing["case_id"].isin(clashes)]
        combined = pd.concat([existing, new_rows], ignore_index=True)
    else:
        combined = new_rows
    combined = long_table(combined.to_dict("records"))
    sheets = {"wide": wide_table(combined)} if path.suffix.lower() == ".xlsx" else None
    write_table_atomic(combined, str(path), sheets)
    return backup
