"""Psoas major: the round lean muscle beside the vertebral body, in front of the transverse process."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .compartment import _disk_px, side_region

# Relative to the lamina's posterior surface (y forward = negative), in mm. The vertebral body lies
# ~15-50 mm in front of the lamina; the psoas hugs its side (Gray's Anatomy, lumbar cross-sections).
PSOAS_FRONT_MM = (12.0, 75.0)
PSOAS_LATERAL_MM = (12.0, 75.0)
SEED_LATERAL_MM = (22.0, 45.0)
SEED_FRONT_MM = (20.0, 45.0)
NECK_RADIUS_MM = 4.0
MIN_AREA_MM2 = 80.0


def psoas_slice(lean, body, midline: float, lamina_row: float, side: int, spacing, taken) -> np.ndarray:
    """Mask of one side's psoas on one slice; empty when no convincing candidate."""
    pixel = spacing[0]
    region, lateral_mm = side_region(lean.shape, midline, side, spacing[0])
    rows = np.arange(lean.shape[0])[:, None]
    front_mm = (lamina_row - rows) * spacing[1]
    lateral = np.broadcast_to(lateral_mm[None, :], lean.shape)
    window = (front_mm >= PSOAS_FRONT_MM[0]) & (front_mm <= PSOAS_FRONT_MM[1])
    window = window & (lateral >= PSOAS_LATERAL_MM[0]) & (lateral <= PSOAS_LATERAL_MM[1])
    candidate = lean & body & window & ~taken
    core = ndimage.binary_erosion(candidate, _disk_px(NECK_RADIUS_MM, pixel))
    labelled, count = ndimage.label(core)
    if count == 0:
        return np.zeros_like(lean)
    seed = (lateral >= SEED_LATERAL_MM[0]) & (lateral <= SEED_LATERAL_MM[1])
    seed = seed & (front_mm >= SEED_FRONT_MM[0]) & (front_mm <= SEED_FRONT_MM[1])
    overlap = ndimage.sum_labels(seed, labelled, np.arange(1, count + 1))
    if overlap.max() <= 0:
        return np.zeros_like(lean)
    chosen = labelled == (1 + int(np.argmax(overlap)))
    grown = ndimage.binary_dilation(chosen, _disk_px(NECK_RADIUS_MM + pixel, pixel)) & candidate
    mask = ndimage.binary_fill_holes(ndimage.binary_closing(grown, _disk_px(2.0, pixel)))
    if mask.sum() * spacing[0] * spacing[1] < MIN_AREA_MM2:
        return np.zeros_like(lean)
    return mask & ~taken
