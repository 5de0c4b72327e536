"""The long measurement table shared by every tool, its wide per-case view, and atomic CSV/XLSX files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, List, Mapping, Optional

import pandas as pd

from . import __version__
from .errors import InputError

LONG_COLUMNS = ["case_id", "structure", "side", "level", "metric", "value", "unit", "method", "software_version"]

# metric name -> unit written in the `unit` column
METRIC_UNITS = {
    "csa": "cm2",
    "functional_csa": "cm2",
    "volume": "cm3",
    "mean_intensity": "",
    "fat_infiltration": "%",
    "mean_fat_fraction": "%",
    "fat_area": "%",
    "asymmetry": "%",
    "signal_intensity": "",
    "vbq": "",
    "slices": "count",
}

METRIC_TITLES = {
    "csa": "Cross-sectional area",
    "functional_csa": "Functional (lean) cross-sectional area",
    "volume": "Volume",
    "mean_intensity": "Mean intensity",
    "fat_infiltration": "Fat infiltration",
    "mean_fat_fraction": "Mean Dixon fat fraction",
    "fat_area": "Dixon fat area (fraction > 50 %)",
    "asymmetry": "Left/right asymmetry",
    "signal_intensity": "Signal intensity",
    "vbq": "Vertebral bone quality score",
    "slices": "Number of slices",
}


def make_row(case_id: str, structure: str, side: str, level: str, metric: str, value: float,
             method: str = "", **extra) -> dict:
    """One long-format row; the unit comes from the metric name."""
    if metric not in METRIC_UNITS:
        raise KeyError(f"unknown metric {metric!r}")
    row = {
        "case_id": case_id, "structure": structure, "side": side, "level": level, "metric": metric,
        "value": float(value), "unit": METRIC_UNITS[metric], "method": method,
        "software_version": __version__,
    }
    row.update(extra)
    return row


def long_table(rows: Iterable[Mapping]) -> pd.DataFrame:
    """Rows -> DataFrame with the standard columns first (extra columns kept after them)."""
    frame = pd.DataFrame(list(rows))
    for column in LONG_COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.Series(dtype="float64" if column == "value" else "object")
    extras = [c for c in frame.columns if c not in LONG_COLUMNS]
    frame = frame[LONG_COLUMNS + extras]
    text_columns = [c for c in LONG_COLUMNS if c != "value"]
    for column in text_columns:  # object dtype first: filling "" into a float column is deprecated
        values = frame[column].astype(object)
        frame[column] = values.where(values.notna(), "").astype(str)
    frame["value"] = frame["value"].astype("float64")
    if "slices" in frame.columns:  # a count; empty where a row spans no slices (e.g. asymmetry)
        frame["slices"] = pd.to_numeric(frame["slices"], errors="coerce").astype("Int64")
    return frame


def wide_table(long: pd.DataFrame) -> pd.DataFrame:
    """One row per case, one column per structure/side/level/metric/method, for spreadsheets."""
    if long.empty:
        return pd.DataFrame({"case_id": []})
    parts = long[["structure", "side", "level", "metric", "method"]].astype(str)
    names = parts.apply(lambda r: "_".join(p for p in r if p), axis=1)
    units = long["unit"].astype(str).map(lambda u: f" [{u}]" if u else "")
    keyed = long.assign(column=names + units)
    wide = keyed.pivot_table(index="case_id", columns="column", values="value", aggfunc="first", sort=False)
    wide.columns.name = None
    return wide.reset_index()


def _temporary_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.part{os.getpid()}")


def write_table_atomic(frame: pd.DataFrame, path: str, sheets: Optional[Mapping[str, pd.DataFrame]] = None):
    """Write CSV or XLSX (by suffix) to a temporary file, then rename it over the target."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_path(target)
    try:
        suffix = target.suffix.lower()
        if suffix == ".csv":
            frame.to_csv(temporary, index=False)
        elif suffix == ".xlsx":
            with pd.ExcelWriter(temporary, engine="openpyxl") as writer:
                frame.to_excel(writer, sheet_name="long", index=False)
                for name, sheet in (sheets or {}).items():
                    sheet.to_excel(writer, sheet_name=name[:31], index=False)
        else:
            raise InputError(path, "unsupported table format; use .csv or .xlsx")
        os.replace(temporary, target)
    finally:
        if temporary.exists():
            temporary.unlink()


def read_long_table(path: str) -> pd.DataFrame:
    """Read a long table written by this tool (CSV or the 'long' sheet of an XLSX)."""
    target = Path(path)
    try:
        if target.suffix.lower() == ".xlsx":
            frame = pd.read_excel(target, sheet_name="long", dtype={"case_id": str, "level": str})
        else:
            frame = pd.read_csv(target, dtype={"case_id": str, "level": str, "side": str},
                                keep_default_na=False, na_values=[""])
    except FileNotFoundError:
        raise InputError(path, "table file not found") from None
    except Exception as exc:  # pandas raises many types for corrupt files
        raise InputError(path, f"cannot read the table ({exc})") from None
    missing = [c for c in LONG_COLUMNS if c not in frame.columns and c != "software_version"]
    if missing:
        raise InputError(path, f"is not a SpineQuant long table (missing columns: {', '.join(missing)})")
    return long_table(frame.to_dict("records"))


def write_measurements(rows: List[dict], out_dir: str, name: str = "measurements") -> Path:
    """Write DIR/measurements.csv (long) and DIR/measurements_wide.csv; return the long file path."""
    folder = Path(out_dir)
    frame = long_table(rows)
    long_path = folder / f"{name}.csv"
    write_table_atomic(frame, str(long_path))
    write_table_atomic(wide_table(frame), str(folder / f"{name}_wide.csv"))
    return long_path
