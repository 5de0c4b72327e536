"""The built-in segmenter, on canonical (LPS) arrays: landmarks, compartments, split, psoas."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from ..labels import LABEL_OF
from . import body as body_module
from . import compartment, landmarks, midline, psoas, split, tissue

SIDES = ((1, "left"), (-1, "right"))  # +x is the patient's left in LPS


@dataclass
class Anatomy:
    """Intermediate results kept for quality checks and debugging."""

    body: np.ndarray
    midline: np.ndarray  # column per slice
    lamina: np.ndarray  # row per slice and side (left, right)
    maps: tissue.TissueMaps


def segment_canonical(
    image: np.ndarray,
    spacing: Tuple[float, float, float],
    water: Optional[np.ndarray] = None,
    fat: Optional[np.ndarray] = None,
) -> Tuple[np.ndarray, Anatomy]:
    """Label map (project values) for an LPS-ordered (K, J, I) stack with spacing (I, J, K) in mm."""
    anatomy = find_anatomy(image, spacing, water, fat)
    maps, body = anatomy.maps, anatomy.body
    lean = compartment.lean_tissue(maps.fat_fraction, maps.dark, body, spacing)
    labels = np.zeros(image.shape, np.uint8)
    for k in range(image.shape[0]):
        if not np.isfinite(anatomy.midline[k]) or not body[k].any():
            continue
        for column, (side, name) in enumerate(SIDES):
            lamina_row = anatomy.lamina[k, column]
            _label_side(labels[k], lean[k], body[k], maps, k, anatomy.midline[k], lamina_row, side, name, spacing)
    return labels, anatomy


def find_anatomy(image, spacing, water=None, fat=None) -> Anatomy:
    """Body, tissue maps, midline and laminae: what both the segmenter and the importers need."""
    signal = image if water is None or fat is None else water + fat
    body = body_module.body_mask(signal)
    maps = tissue.tissue_maps(image, spacing, body, water, fat)
    mid = midline.midline_columns(maps.fat_fraction, body, spacing)
    lamina = landmarks.lamina_rows(maps.dark, body, mid, spacing)
    return Anatomy(body, mid, lamina, maps)


def split_compartments(labels: np.ndarray, compartments, anatomy: Anatomy, spacing) -> np.ndarray:
    """Label imported merged back-muscle masks ({'left': mask, 'right': mask}) as MF and ES."""
    for side, name in SIDES:
        merged = compartments.get(name)
        if merged is None:
            continue
        column = 0 if side == 1 else 1
        for k in np.nonzero(merged.any(axis=(1, 2)))[0]:
            mid = anatomy.midline[k]
            if not np.isfinite(mid):
                labels[k][merged[k]] = LABEL_OF[f"erector_spinae_{name}"]
                continue
            _, lateral_mm = compartment.side_region(merged[k].shape, mid, side, spacing[0])
            multifidus, erector = split.split_compartment(
                merged[k], anatomy.maps.fat_fraction[k], np.abs(lateral_mm), anatomy.lamina[k, column], spacing
            )
            labels[k][erector] = LABEL_OF[f"erector_spinae_{name}"]
            labels[k][multifidus] = LABEL_OF[f"multifidus_{name}"]
    return labels


def _label_side(out, lean, body, maps, k, mid, lamina_row, side, name, spacing) -> None:
    if not np.isfinite(lamina_row):
        return
    region, lateral_mm = compartment.side_region(lean.shape, mid, side, spacing[0])
    mask = compartment.compartment_slice(lean, body, mid, lamina_row, side, spacing)
    multifidus, erector = split.split_compartment(mask, maps.fat_fraction[k], lateral_mm, lamina_row, spacing)
    out[erector] = LABEL_OF[f"erector_spinae_{name}"]
    out[multifidus] = LABEL_OF[f"multifidus_{name}"]
    psoas_mask = psoas.psoas_slice(lean, body, mid, lamina_row, side, spacing, taken=out > 0)
    out[psoas_mask] = LABEL_OF[f"psoas_{name}"]
