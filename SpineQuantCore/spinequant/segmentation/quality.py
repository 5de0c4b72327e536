"""Per-slice confidence and quality flags for a paraspinal label map (a table to review)."""

from __future__ import annotations

from typing import List, Mapping, Optional

import numpy as np
import pandas as pd

from ..labels import DEFAULT_LABELS, LABEL_OF, MUSCLES

# Plausible cross-sectional areas of adult lumbar muscles on one side, mm^2 (wide ranges; e.g.
# Crawford et al., Eur Spine J 2016, multifidus ~400-1200 mm^2, erector spinae ~1000-3000 mm^2).
PLAUSIBLE_AREA_MM2 = {
    "multifidus": (100.0, 3000.0),
    "erector_spinae": (300.0, 5000.0),
    "psoas": (100.0, 4000.0),
    "quadratus_lumborum": (50.0, 2000.0),
}
ASYMMETRY_RATIO = 1.6  # left/right area ratio beyond which a slice is flagged
# Muscle CSA changes smoothly along the spine (a few % per 4 mm slice); twice or half the area of both
# neighbouring slices means a leak or a missed part on that slice.
JUMP_RATIO = 2.0
FLAG_PENALTY = 0.25
# review hints: choices the segmenter made without an image boundary (name templates, '{side}')
FRONT_FROM_ANATOMY = "erector_spinae_{side}_front_from_anatomy"  # a fused front cut along the fascia line


def slice_quality(
    labels: np.ndarray,
    pixel_area_mm2: float,
    slice_positions_mm: np.ndarray,
    hints: Optional[Mapping[str, np.ndarray]] = None,
) -> pd.DataFrame:
    """One row per slice: areas per structure, flags (';'-joined), a 0..1 confidence, and review hints.

    Hints name choices the method had to make without an image boundary (`hints`: {name template
    such as FRONT_FROM_ANATOMY: (slices, 2) per slice and side, left then right}); they tell the
    reviewer where to look without counting against the confidence, which rates the result's
    plausibility.
    """
    rows = []
    for k in range(labels.shape[0]):
        counts = np.bincount(labels[k].ravel(), minlength=max(DEFAULT_LABELS) + 1)
        row = {"slice": k, "z_mm": float(slice_positions_mm[k])}
        for value, structure in DEFAULT_LABELS.items():
            row[f"area_mm2_{structure.key}"] = float(counts[value] * pixel_area_mm2)
        rows.append(row)
    table = pd.DataFrame(rows)
    jumps = _area_jumps(table)
    flags = [_flags(row) + jumps[k] for k, row in enumerate(rows)]
    table["flags"] = [";".join(found) for found in flags]
    table["confidence"] = [max(0.0, 1.0 - FLAG_PENALTY * len(found)) for found in flags]
    table["hints"] = _hints(hints or {}, labels.shape[0])
    return table


def _hints(hints: Mapping[str, np.ndarray], n_slices: int) -> List[str]:
    per_slice: List[List[str]] = [[] for _ in range(n_slices)]
    for template, drawn in hints.items():
        for k, row in enumerate(drawn):
            per_slice[k] += [template.format(side=side) for side, on in zip(("left", "right"), row) if on]
    return [";".join(found) for found in per_slice]


def _area_jumps(table: pd.DataFrame) -> List[List[str]]:
    """Per slice: '<structure>_area_jump' where the area is over JUMP_RATIO times (or under 1/JUMP_RATIO
    of) the area on both neighbouring slices that hold the structure."""
    jumps: List[List[str]] = [[] for _ in range(len(table))]
    for structure in DEFAULT_LABELS.values():
        areas = table[f"area_mm2_{structure.key}"].to_numpy()
        present = np.flatnonzero(areas > 0)
        for before, k, after in zip(present[:-2], present[1:-1], present[2:]):
            ratios = areas[k] / areas[[before, after]]
            if (ratios > JUMP_RATIO).all() or (ratios < 1.0 / JUMP_RATIO).all():
                jumps[k].append(f"{structure.key}_area_jump")
    return jumps


def _flags(row) -> List[str]:
    flags = []
    any_muscle = any(row[f"area_mm2_{key}"] > 0 for key in LABEL_OF)
    if not any_muscle:
        return ["no_muscle"]
    for muscle in MUSCLES:
        left, right = row[f"area_mm2_{muscle}_left"], row[f"area_mm2_{muscle}_right"]
        if (left > 0) != (right > 0):
            flags.append(f"{muscle}_missing_{'right' if left > 0 else 'left'}")
            continue
        low, high = PLAUSIBLE_AREA_MM2[muscle]
        for side, area in (("left", left), ("right", right)):
            if area > 0 and not low <= area <= high:
                flags.append(f"{muscle}_{side}_implausible_area")
        if left > 0 and right > 0 and max(left, right) / min(left, right) > ASYMMETRY_RATIO:
            flags.append(f"{muscle}_asymmetric")
    return flags
