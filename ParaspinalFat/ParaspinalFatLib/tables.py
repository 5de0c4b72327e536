"""Long measurement DataFrames -> vtkMRMLTableNode with typed columns, titles, units and descriptions.

Column names stay machine-readable (the long-table names); titles are for display. Numbers go into
vtkDoubleArray columns (NaN for missing) so they sort and plot as numbers; everything else is text.
Titles, units and descriptions travel in the table's schema and are saved in the .schema.tsv file.
"""

# Optional[...] rather than X | None: the code base targets Python 3.9 (Slicer 5.6/5.8).
# ruff: noqa: UP045
from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import pandas as pd
import slicer
import vtk

from spinequant.tables import LONG_COLUMNS, METRIC_TITLES, METRIC_UNITS

LONG_COLUMN_INFO: Dict[str, tuple] = {
    # name: (title, description)
    "case_id": ("Case", "Case (subject/exam) identifier"),
    "structure": ("Structure", "Measured structure (muscle or vertebra)"),
    "side": ("Side", "Body side: left, right or empty"),
    "level": ("Level", "Vertebral level or range of slices the value refers to"),
    "metric": ("Metric", "Machine-readable measurement name"),
    "value": ("Value", "Measured value, in the unit of the 'unit' column"),
    "unit": ("Unit", "Unit of the value"),
    "method": ("Method", "Fat quantification method"),
    "software_version": ("Software version", "SpineQuant version that computed the value"),
}


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _text(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def _add_column(table: vtk.vtkTable, name: str, values, numeric: bool) -> None:
    column = vtk.vtkDoubleArray() if numeric else vtk.vtkStringArray()
    column.SetName(name)
    column.SetNumberOfValues(len(values))
    for row, value in enumerate(values):
        if numeric:
            column.SetValue(row, float("nan") if value is None or pd.isna(value) else float(value))
        else:
            column.SetValue(row, _text(value))
    table.AddColumn(column)


def _fill(table_node, columns: Dict[str, tuple]) -> None:
    """columns: {name: (values, numeric, title, unit, description)}; replaces the node's table."""
    table = vtk.vtkTable()
    for name, (values, numeric, _title, _unit, _description) in columns.items():
        _add_column(table, name, list(values), numeric)
    modified = table_node.StartModify()
    table_node.SetAndObserveTable(table)
    for name, (_values, _numeric, title, unit, description) in columns.items():
        table_node.SetColumnTitle(name, title)
        table_node.SetColumnUnitLabel(name, unit)
        table_node.SetColumnDescription(name, description)
    table_node.SetUseColumnTitleAsColumnHeader(True)
    table_node.EndModify(modified)


def _new_table_node(name: str, scene=None):
    scene = scene or slicer.mrmlScene
    return scene.AddNewNodeByClass("vtkMRMLTableNode", name)


def long_table_to_node(frame: pd.DataFrame, table_node=None, name: str = "Measurements", scene=None):
    """Write a long table (spinequant.tables.LONG_COLUMNS first) into a table node; returns the node."""
    missing = [c for c in LONG_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"not a SpineQuant long table, missing columns: {', '.join(missing)}")
    node = table_node if table_node is not None else _new_table_node(name, scene)
    units = {u for u in frame["unit"].astype(str)}
    columns = {}
    for column in frame.columns:
        values = frame[column].tolist()
        numeric = column == "value" or (column not in LONG_COLUMNS and _is_numeric(frame[column]))
        title, description = LONG_COLUMN_INFO.get(column, (column.replace("_", " ").capitalize(), ""))
        # The value column has one unit label only when every row shares the unit.
        unit = units.pop() if column == "value" and len(units) == 1 else ""
        columns[column] = (values, numeric, title, unit, description)
    _fill(node, columns)
    return node


def wide_table_to_node(frame: pd.DataFrame, table_node=None, name: str = "Measurements (by metric)",
                       scene=None):
    """One row per case/structure/side/level/method, one numeric column per metric with its unit."""
    keys = ["case_id", "structure", "side", "level", "method"]
    node = table_node if table_node is not None else _new_table_node(name, scene)
    if frame.empty:
        _fill(node, {k: ([], False, LONG_COLUMN_INFO[k][0], "", LONG_COLUMN_INFO[k][1]) for k in keys})
        return node
    text = frame[keys].fillna("").astype(str)
    wide = frame.assign(**{k: text[k] for k in keys}).pivot_table(
        index=keys, columns="metric", values="value", aggfunc="first", sort=False, dropna=False)
    wide = wide.dropna(how="all").reset_index()
    columns = {k: (wide[k].tolist(), False, LONG_COLUMN_INFO[k][0], "", LONG_COLUMN_INFO[k][1]) for k in keys}
    for metric in [c for c in wide.columns if c not in keys]:
        unit = METRIC_UNITS.get(metric, "")
        title = METRIC_TITLES.get(metric, metric)
        columns[metric] = (wide[metric].tolist(), True, title, unit, f"{title} ({metric})")
    _fill(node, columns)
    return node


SLICE_CHECK_INFO: Dict[str, tuple] = {
    # name: (title, unit, description)
    "slice": ("Slice", "", "Slice index in the image (0 = first slice)"),
    "z_mm": ("Position", "mm", "Slice position along the image's slice axis"),
    "confidence": ("Confidence", "", "1 without flags; each flag takes 0.25 off"),
    "flags": ("Flags", "", "What looks implausible on the slice: a muscle missing on one side, an area "
              "out of range, left/right asymmetry, an area jump against both neighbouring slices"),
    "hints": ("Review hints", "", "Choices the segmenter made without an image boundary, e.g. an erector "
              "spinae front drawn from anatomy"),
}


def slice_check_to_node(frame: pd.DataFrame, table_node=None, name: str = "Segmentation check", scene=None):
    """Write the segmenter's per-slice check (spinequant.segmentation.check_table) into a table node:
    slice, position, confidence, flags and hints first, then one area column (mm2) per structure."""
    missing = [c for c in SLICE_CHECK_INFO if c not in frame.columns]
    if missing:
        raise ValueError(f"not a SpineQuant segmentation check table, missing columns: {', '.join(missing)}")
    node = table_node if table_node is not None else _new_table_node(name, scene)
    columns = {}
    for column, (title, unit, description) in SLICE_CHECK_INFO.items():
        numeric = column not in ("flags", "hints")
        columns[column] = (frame[column].tolist(), numeric, title, unit, description)
    for column in [c for c in frame.columns if c.startswith("area_mm2_")]:
        structure = column[len("area_mm2_"):].replace("_", " ")
        title = f"{structure.capitalize()} area"
        columns[column] = (frame[column].tolist(), True, title, "mm2", f"Segmented area of the {structure}")
    _fill(node, columns)
    return node


def node_to_frame(table_node) -> pd.DataFrame:
    """Read a table node back into a DataFrame (double columns as floats, others as text)."""
    table = table_node.GetTable()
    data = {}
    for index in range(table.GetNumberOfColumns()):
        column = table.GetColumn(index)
        name = column.GetName()
        count = column.GetNumberOfTuples()
        if isinstance(column, vtk.vtkDataArray):
            data[name] = [column.GetTuple1(row) for row in range(count)]
        else:
            data[name] = [column.GetValue(row) for row in range(count)]
    return pd.DataFrame(data)


def save_table(table_node, path: str) -> bool:
    """Write a table node (.tsv/.csv) plus its .schema file through a table storage node."""
    storage = table_node.GetStorageNode()
    if storage is None:
        storage = table_node.GetScene().AddNewNodeByClass("vtkMRMLTableStorageNode")
        table_node.SetAndObserveStorageNodeID(storage.GetID())
    storage.SetFileName(str(path))
    return bool(storage.WriteData(table_node))


def load_table(path: str, name: Optional[str] = None, scene=None):
    """Read a .tsv/.csv table (and its schema) into a new table node."""
    scene = scene or slicer.mrmlScene
    node = scene.AddNewNodeByClass("vtkMRMLTableNode", name or "Table")
    storage = scene.AddNewNodeByClass("vtkMRMLTableStorageNode")
    storage.SetFileName(str(path))
    node.SetAndObserveStorageNodeID(storage.GetID())
    if not storage.ReadData(node):
        raise ValueError(f"cannot read table {path}")
    return node
