"""One case of a batch: choose series, segment, assign levels, measure, VBQ, QC pictures.

A stage that fails is recorded with its reason and the case goes on; the case fails only when nothing
could be measured. Every text that leaves this module is scrubbed of patient identifiers unless asked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import pandas as pd

from ..axial_levels import UNVERIFIED_FLAG, assign_levels
from ..deid import merge_identifiers, scrub_text
from ..errors import SpineQuantError
from ..imageio import water_plus_fat
from ..measure import measure_muscles, primary_fat_voxels, structure_masks
from ..tables import long_table, write_measurements
from .series import Selection, find_series, select_series
from .stages import StageUnavailable, segment_axial, vbq_stage


@dataclass
class CaseOptions:
    methods: List[str] = field(default_factory=lambda: ["calibrated"])
    keep_identifiers: bool = False
    lowest_body: str = "L5"
    write_label_maps: bool = True


@dataclass
class CaseOutcome:
    case_id: str
    status: str  # done or failed
    reason: str
    rows: pd.DataFrame
    summary: Dict = field(default_factory=dict)


def _scrubbed(text: str, identifiers, case_dir: str, case_id: str, keep: bool) -> str:
    text = str(text).replace(str(Path(case_dir).resolve()), case_id).replace(str(case_dir), case_id)
    return text if keep else scrub_text(text, identifiers)


def _add_level_flags(table: pd.DataFrame, method: str, confidence: float, verified: bool) -> pd.DataFrame:
    table = table.copy()
    table["level_source"] = method
    table["level_confidence"] = round(confidence, 3)
    if not verified:
        per_level = table["level"] != "all"
        table.loc[per_level, "flag"] = [";".join(filter(None, (f, UNVERIFIED_FLAG)))
                                        for f in table.loc[per_level, "flag"]]
    return table


def _muscles(selection: Selection, case_id: str, out: Path, options: CaseOptions, summary: Dict,
             notes: List[str]) -> Optional[pd.DataFrame]:
    from ..report import write_muscle_pictures  # late: pictures are optional to measuring

    water = selection.water.read() if selection.water else None
    fat = selection.fat.read() if selection.fat else None
    if selection.axial is not None:
        image = selection.axial.read()
    else:  # Dixon only: water + fat is the fat-bright, in-phase-like image the segmenter and methods expect
        image = water_plus_fat(water, fat)
        notes.append("muscles: no T1/T2 axial series; measured on water + fat")
    if water is not None and (water.array.shape != image.array.shape):
        notes.append("Dixon water/fat grid differs from the axial image: Dixon not used")
        water = fat = None
    labels = segment_axial(image, water, fat)
    sagittal = selection.sagittal_any.read() if selection.sagittal_any else None
    levels = assign_levels(image, sagittal, options.lowest_body)
    notes += levels.notes
    summary.update(level_source=levels.method, level_confidence=levels.confidence,
                   levels_verified=levels.verified, levels=",".join(levels.slices))
    table = measure_muscles(image, labels, case_id=case_id, methods=options.methods,
                            levels=levels.slices or None, water=water, fat=fat)
    table = _add_level_flags(table, levels.method, levels.confidence, levels.verified)
    masks = structure_masks(labels)
    fat_voxels = primary_fat_voxels(image, masks, options.methods[0], water, fat)
    summary["muscle_pictures"] = write_muscle_pictures(image, labels.array, fat_voxels, levels.slices, out)
    if options.write_label_maps:
        from ..imageio import write_volume
        from ..safefiles import backup_existing

        backup_existing(out / "muscles.nii.gz")  # an earlier run's map may have been corrected by hand
        write_volume(labels, str(out / "muscles.nii.gz"))
    return table


def _vbq(selection: Selection, case_id: str, out: Path, summary: Dict, notes: List[str]) -> pd.DataFrame:
    measure_vbq, result_rows, write_qc_png = vbq_stage()
    result = measure_vbq(selection.sagittal_t1.read())
    notes += result.warnings
    if write_qc_png is not None:
        write_qc_png(result, str(out / "vbq_midsagittal.png"))
        summary["vbq_picture"] = "vbq_midsagittal.png"
    summary.update(vbq=round(float(result.vbq), 3), vbq_category=result.category)
    return long_table(result_rows(result, case_id))


def process_case(case_dir: str, case_id: str, out_dir: str, options: CaseOptions) -> CaseOutcome:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    notes: List[str] = []
    summary: Dict = {"case_id": case_id}
    identifiers: Dict[str, str] = {}
    tables: List[pd.DataFrame] = []
    try:
        series = find_series(case_dir)
        identifiers = merge_identifiers(s.metadata for s in series)
        selection = select_series(series)
        notes += selection.notes
        summary.update(axial_series=selection.muscle_input,
                       sagittal_series=selection.sagittal_t1.name if selection.sagittal_t1 else "")
        if not selection.muscle_input and selection.sagittal_t1 is None:
            raise SpineQuantError("no axial series and no sagittal T1 series found")
        stages = [
            ("muscles", selection.muscle_input, lambda: _muscles(selection, case_id, out, options, summary, notes)),
            ("vbq", selection.sagittal_t1, lambda: _vbq(selection, case_id, out, summary, notes)),
        ]
        for stage, series_present, action in stages:
            if not series_present:
                notes.append(f"{stage}: skipped (no suitable series)")
                continue
            try:
                tables.append(action())
            except (SpineQuantError, StageUnavailable, ValueError, RuntimeError) as exc:
                notes.append(f"{stage}: skipped ({exc})")
        if not tables:
            raise SpineQuantError("nothing could be measured: " + "; ".join(notes[-2:]))
        status, reason = "done", ""
    except (SpineQuantError, ValueError, RuntimeError, OSError) as exc:
        status, reason = "failed", str(exc)
    rows = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    if status == "done":
        rows = long_table(rows.to_dict("records"))
        write_measurements(rows.to_dict("records"), str(out))
    keep = options.keep_identifiers
    reason = _scrubbed(reason, identifiers, case_dir, case_id, keep)
    summary.update(status=status, reason=reason,
                   notes=[_scrubbed(n, identifiers, case_dir, case_id, keep) for n in notes],
                   flags=sorted({f for text in rows.get("flag", pd.Series(dtype=str)).dropna()
                                 for f in str(text).split(";") if f}))
    if keep:
        summary.update(identifiers)
    (out / "case.json").write_text(json.dumps(summary, indent=1, default=_json_default), encoding="utf-8")
    return CaseOutcome(case_id, status, reason, rows, summary)


def _json_default(value):
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    return str(value)
