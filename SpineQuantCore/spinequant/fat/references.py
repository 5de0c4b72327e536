"""The patient's own fat reference: subcutaneous fat found per slice, sampled near each muscle.

Coil shading makes the same tissue brighter near the receive coil. Sampling the subcutaneous fat
on the same slice and close to the muscle gives a reference that shares the muscle's shading,
which is what the calibrated threshold needs (no global bias correction required).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu

SUBCUTANEOUS_BAND_MM = 25.0  # subcutaneous fat lies within this depth of the skin
SKIN_MM = 2.0  # skip the skin itself and partial-volume voxels at the body edge
MIN_REFERENCE_VOXELS = 50


def body_mask_2d(slice_image: np.ndarray) -> np.ndarray:
    """Largest connected bright region with holes filled: the body's cross-section on one slice."""
    smooth = ndimage.gaussian_filter(slice_image.astype(np.float32), 2.0)
    if np.ptp(smooth) <= 0:
        return np.zeros(slice_image.shape, bool)
    candidate = ndimage.binary_fill_holes(smooth > 0.5 * threshold_otsu(smooth))
    labelled, count = ndimage.label(candidate)
    if count == 0:
        return candidate
    sizes = ndimage.sum(candidate, labelled, range(1, count + 1))
    return labelled == (int(np.argmax(sizes)) + 1)


def subcutaneous_fat_2d(slice_image: np.ndarray, pixel_spacing: Sequence[float]) -> np.ndarray:
    """Bright voxels in the outer band of the body (fat-bright images)."""
    body = body_mask_2d(slice_image)
    if body.sum() < MIN_REFERENCE_VOXELS:
        return np.zeros_like(body)
    depth = ndimage.distance_transform_edt(body, sampling=pixel_spacing)
    band = body & (depth > SKIN_MM) & (depth < SUBCUTANEOUS_BAND_MM)
    values = slice_image[band]
    if values.size < MIN_REFERENCE_VOXELS or np.ptp(values) <= 0:
        return np.zeros_like(body)
    return band & (slice_image > threshold_otsu(values))


def subcutaneous_fat(image: np.ndarray, spacing_ijk: Sequence[float]) -> np.ndarray:
    """Subcutaneous fat mask for a (K, J, I) stack, slice by slice."""
    pixel_spacing = (spacing_ijk[1], spacing_ijk[0])  # (row, column) = (J, I)
    return np.stack([subcutaneous_fat_2d(image[k], pixel_spacing) for k in range(image.shape[0])])


def local_fat_reference(slice_image: np.ndarray, fat_mask: np.ndarray, muscle: np.ndarray,
                        pixel_spacing: Sequence[float], radius_mm: float = 60.0) -> float:
    """Median subcutaneous-fat signal within `radius_mm` of the muscle's centre on this slice."""
    if fat_mask.sum() < MIN_REFERENCE_VOXELS:
        return float("nan")
    rows, columns = np.nonzero(muscle)
    centre_row, centre_column = rows.mean(), columns.mean()
    grid_rows, grid_columns = np.ogrid[: slice_image.shape[0], : slice_image.shape[1]]
    distance2 = ((grid_rows - centre_row) * pixel_spacing[0]) ** 2 + (
        (grid_columns - centre_column) * pixel_spacing[1]) ** 2
    near = fat_mask & (distance2 < radius_mm**2)
    if near.sum() < MIN_REFERENCE_VOXELS:
        near = fat_mask
    return float(np.median(slice_image[near]))


def lean_reference(values: np.ndarray, fat_reference: float, iterations: int = 4) -> float:
    """Lean-muscle signal: median of the voxels below the current lean/fat midpoint, iterated.

    Starting from the 10th percentile keeps it on the lean side even when most of the muscle is fat.
    """
    threshold = 0.5 * (np.percentile(values, 10) + fat_reference)
    lean = float(np.percentile(values, 10))
    for _ in range(iterations):
        below = values[values < threshold]
        if below.size == 0:
            break
        lean = float(np.median(below))
        threshold = 0.5 * (lean + fat_reference)
    return lean
