"""The resumable batch loop: cases in sorted order, a status file, and a cohort rebuilt deterministically.

Why the cohort is rebuilt from the per-case tables (in case order) after every case instead of being
appended to: a run interrupted at any point and then resumed gives byte-for-byte the same cohort CSV
as an uninterrupted run, and a case redone after a crash between "measured" and "recorded" can never
appear twice. The files are written with the same table functions `cohort.append_case` uses.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import pandas as pd

from ..cli.progress import progress
from ..deid import merge_identifiers, study_case_id
from ..errors import InputError
from ..tables import long_table, read_long_table, wide_table, write_table_atomic
from .case import CaseOptions, CaseOutcome, process_case
from .series import find_series

STATUS_COLUMNS = ["case", "status", "reason", "seconds"]
COHORT_NAME = "cohort"


@dataclass
class BatchResult:
    out_dir: Path
    status: pd.DataFrame
    cohort_csv: Path
    processed: List[str] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)


def discover_cases(folder: str) -> List[Path]:
    """One sub-folder per case, in name order (hidden folders ignored)."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(folder, "batch input folder not found")
    cases = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not cases:
        raise InputError(folder, "holds no case sub-folders (one folder per case is expected)")
    return cases


def case_ids(cases: List[Path], mode: str) -> List[Tuple[Path, str]]:
    """Study case ids; a folder named after the patient gets a generated id (headers are only peeked)."""
    result, seen = [], set()
    for case in cases:
        try:
            identifiers = merge_identifiers(s.metadata for s in find_series(str(case)))
        except (InputError, RuntimeError, OSError):
            identifiers = {}
        case_id = study_case_id(case.name, identifiers, mode)
        if case_id in seen:
            raise InputError(str(case), f"case id {case_id} is not unique")
        seen.add(case_id)
        result.append((case, case_id))
    return result


def read_status(path: Path) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame(columns=STATUS_COLUMNS)
    return pd.read_csv(path, dtype={"case": str, "status": str, "reason": str}, keep_default_na=False)


def _update_status(status: pd.DataFrame, outcome: CaseOutcome, seconds: float, order: List[str]) -> pd.DataFrame:
    row = pd.DataFrame([{"case": outcome.case_id, "status": outcome.status, "reason": outcome.reason,
                         "seconds": round(seconds, 2)}])
    status = pd.concat([status[status["case"] != outcome.case_id], row], ignore_index=True)
    rank = {case: i for i, case in enumerate(order)}
    return status.sort_values("case", key=lambda c: c.map(lambda v: rank.get(v, len(rank)))).reset_index(drop=True)


def rebuild_cohort(out: Path, order: List[str], status: pd.DataFrame, xlsx: bool = True) -> Path:
    """cohort.csv (and .xlsx with a wide sheet) from the done cases' tables, in case order."""
    done = set(status.loc[status["status"] == "done", "case"])
    frames = [read_long_table(str(out / "cases" / c / "measurements.csv")) for c in order if c in done]
    frames = [f for f in frames if not f.empty]
    combined = long_table(pd.concat(frames, ignore_index=True).to_dict("records")) if frames else long_table([])
    csv_path = out / f"{COHORT_NAME}.csv"
    write_table_atomic(combined, str(csv_path))
    if xlsx:
        write_table_atomic(combined, str(out / f"{COHORT_NAME}.xlsx"), {"wide": wide_table(combined)})
    return csv_path


def run_batch(folder: str, out_dir: str, resume: bool = False, options: Optional[CaseOptions] = None,
              id_mode: str = "folder", retry_failed: bool = False, report: bool = True,
              after_case: Optional[Callable[[CaseOutcome], None]] = None) -> BatchResult:
    """Process every case folder; finished cases are skipped on --resume (failed ones too unless retried)."""
    options = options or CaseOptions()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cases = case_ids(discover_cases(folder), id_mode)
    order = [case_id for _, case_id in cases]
    status_path = out / "batch_status.csv"
    status = read_status(status_path) if resume else pd.DataFrame(columns=STATUS_COLUMNS)
    finished = dict(zip(status["case"], status["status"]))
    skip = {c for c, s in finished.items() if s == "done" or (s == "failed" and not retry_failed)}
    pending = [(path, case_id) for path, case_id in cases if case_id not in skip]
    result = BatchResult(out, status, out / f"{COHORT_NAME}.csv", skipped=sorted(skip & set(order)))
    summaries: Dict[str, dict] = {}
    for path, case_id in progress(pending, "spinequant batch"):
        start = time.perf_counter()
        outcome = process_case(str(path), case_id, str(out / "cases" / case_id), options)
        status = _update_status(status, outcome, time.perf_counter() - start, order)
        write_table_atomic(status[STATUS_COLUMNS], str(status_path))
        result.cohort_csv = rebuild_cohort(out, order, status, xlsx=False)  # the XLSX once, at the end
        result.processed.append(case_id)
        summaries[case_id] = outcome.summary
        if after_case is not None:
            after_case(outcome)
    result.cohort_csv = rebuild_cohort(out, order, status)
    result.status = status
    if report:
        from ..report import write_cohort_report
        write_cohort_report(out, order, status, _load_summaries(out, order, summaries))
    return result


def _load_summaries(out: Path, order: List[str], fresh: Dict[str, dict]) -> Dict[str, dict]:
    summaries = {}
    for case_id in order:
        if case_id in fresh:
            summaries[case_id] = fresh[case_id]
            continue
        path = out / "cases" / case_id / "case.json"
        if path.exists():
            summaries[case_id] = json.loads(path.read_text(encoding="utf-8"))
    return summaries
