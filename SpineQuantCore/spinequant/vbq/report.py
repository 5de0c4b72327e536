"""VBQ results as rows of the project's long measurement table."""

from __future__ import annotations

from typing import List

from ..tables import make_row
from .levels import LUMBAR

METHOD = "vbq_ehresman2020"


def result_rows(result, case_id: str) -> List[dict]:
    rows = []
    for level in LUMBAR:
        if level not in result.level_signals:
            continue
        rows.append(
            make_row(
                case_id,
                "vertebral_body",
                "",
                level,
                "signal_intensity",
                result.level_signals[level],
                method=METHOD,
                used_in_vbq=level in result.levels_used,
                excluded_reason=result.excluded.get(level, ""),
                body_height_mm=round(result.body_heights_mm.get(level, float("nan")), 1),
            )
        )
    rows.append(
        make_row(
            case_id,
            "csf",
            "",
            result.csf_level,
            "signal_intensity",
            result.csf_signal,
            method=METHOD,
            note="; ".join(result.csf_notes),
        )
    )
    rows.append(
        make_row(
            case_id,
            "spine",
            "",
            "L1-L4",
            "vbq",
            result.vbq,
            method=METHOD,
            category=result.category,
            cutoff=result.cutoff.value,
            cutoff_reference=result.cutoff.reference,
            levels_used=",".join(result.levels_used),
            excluded_reason="; ".join(f"{k}: {v}" for k, v in sorted(result.excluded.items())),
            csf_level=result.csf_level,
            slice_index=result.slice_index,
            landmarks_source=result.source,
            labelling_confidence=result.labelling_confidence,
            sacrum_found=result.sacrum_found,
            field_strength_t="" if result.field_strength_t is None else result.field_strength_t,
            note="; ".join(result.warnings),
        )
    )
    return rows
