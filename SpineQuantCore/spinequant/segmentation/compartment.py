"""The posterior (paraspinal) muscle compartment of each side: multifidus + erector spinae together.

Found per slice as the lean-muscle region beside the midline in the back, cut from neighbouring
muscles (quadratus lumborum, psoas, abdominal wall) at narrow necks, then closed and hole-filled
so fat streaks inside the muscle stay inside. The convex envelope brings back strongly
fat-infiltrated parts that no longer look like muscle (shape, not intensity).
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
from scipy import ndimage
from skimage.morphology import convex_hull_image, disk

from .body import _largest_component
from .midline import posterior_band

LEAN_FAT_FRACTION = 0.5  # muscle voxels have less fat than water
NECK_RADIUS_MM = 3.5  # bridges thinner than ~7 mm to other muscles are cut
CLOSING_RADIUS_MM = 2.5
SEED_STRIP_MM = (8.0, 45.0)  # paraspinal muscles begin next to the spinous process
BACK_DEPTH_MM = 120.0
MIN_AREA_MM2 = 150.0


def _disk_px(radius_mm: float, pixel_mm: float):
    return disk(max(1, int(round(radius_mm / pixel_mm))))


def side_region(shape: Tuple[int, int], midline: float, side: int, spacing_x: float, gap_mm: float = 1.0):
    """Columns on one side (+1 = patient left = +x, -1 = right) beyond gap_mm from the midline."""
    columns = (np.arange(shape[1]) - midline) * spacing_x * side
    return np.broadcast_to(columns[None, :] > gap_mm, shape), columns


def compartment_slice(
    lean: np.ndarray, body: np.ndarray, midline: float, side: int, spacing: Tuple[float, float, float]
) -> np.ndarray:
    """Boolean mask of one side's posterior compartment on one slice (empty when not found)."""
    pixel = spacing[0]
    region, lateral_mm = side_region(lean.shape, midline, side, spacing[0])
    band = posterior_band(body, spacing[1], BACK_DEPTH_MM)
    candidate = lean & region & band
    core = ndimage.binary_erosion(candidate, _disk_px(NECK_RADIUS_MM, pixel))
    labelled, count = ndimage.label(core)
    if count == 0:
        return np.zeros_like(lean)
    strip = (lateral_mm >= SEED_STRIP_MM[0]) & (lateral_mm <= SEED_STRIP_MM[1])
    overlap = ndimage.sum_labels(np.broadcast_to(strip[None, :], lean.shape), labelled, np.arange(1, count + 1))
    if overlap.max() <= 0:
        return np.zeros_like(lean)
    chosen = labelled == (1 + int(np.argmax(overlap)))
    grown = ndimage.binary_dilation(chosen, _disk_px(NECK_RADIUS_MM + pixel, pixel)) & candidate
    grown = _largest_component(grown)
    closed = ndimage.binary_closing(grown, _disk_px(CLOSING_RADIUS_MM, pixel), border_value=0)
    mask = ndimage.binary_fill_holes(closed | grown) & region & body
    if mask.sum() * spacing[0] * spacing[1] < MIN_AREA_MM2:
        return np.zeros_like(lean)
    return mask


def with_fatty_envelope(mask: np.ndarray, region: np.ndarray, outside_fat: np.ndarray) -> np.ndarray:
    """Add the convex envelope of the compartment except subcutaneous fat (fatty muscle stays in)."""
    if not mask.any():
        return mask
    hull = convex_hull_image(mask)
    return mask | (hull & region & ~outside_fat)
