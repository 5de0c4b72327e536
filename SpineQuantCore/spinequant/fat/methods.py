"""Classify the voxels of one muscle mask as fat or lean, by a named method.

Every method returns a boolean array of fat voxels inside the mask, so the fat infiltration of any
subset (a level, a slice) is the count of its fat voxels over its muscle voxels. The calibrated
method (default) uses the patient's own subcutaneous fat and lean muscle on each slice.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from skimage.filters import threshold_otsu

from ..errors import InputError
from .mixtures import highest_component_members, upper_kmeans_cluster
from .references import lean_reference, local_fat_reference

FAT_METHODS = ("calibrated", "gmm2", "gmm3", "kmeans", "otsu", "threshold", "dixon")
DIXON_FAT_FRACTION_CUTOFF = 0.5
NEIGHBOUR_SLICES = 1  # lean reference pools the slice and its neighbours for enough voxels


def method_label(method: str, threshold: Optional[float] = None) -> str:
    """The string written in the `method` column (the threshold value is part of it)."""
    if method == "threshold":
        return f"threshold={threshold:g}"
    return method


def _calibrated(image: np.ndarray, mask: np.ndarray, fat_mask: np.ndarray,
                spacing_ijk: Sequence[float], source: str) -> np.ndarray:
    """Per slice: threshold halfway between local lean muscle and nearby subcutaneous fat."""
    pixel_spacing = (spacing_ijk[1], spacing_ijk[0])
    fat = np.zeros(mask.shape, bool)
    slices = np.flatnonzero(mask.any(axis=(1, 2)))
    for k in slices:
        fat_reference = local_fat_reference(image[k], fat_mask[k], mask[k], pixel_spacing)
        if not np.isfinite(fat_reference):
            nearby = fat_mask[max(k - 2, 0): k + 3]
            if nearby.sum() == 0:
                raise InputError(source, f"no subcutaneous fat found near slice {k}; "
                                          "the calibrated method needs fat in view")
            fat_reference = float(np.median(image[max(k - 2, 0): k + 3][nearby]))
        window = slice(max(k - NEIGHBOUR_SLICES, 0), k + NEIGHBOUR_SLICES + 1)
        lean = lean_reference(image[window][mask[window]], fat_reference)
        if fat_reference <= lean:
            raise InputError(source, f"on slice {k} fat is not brighter than muscle; the image looks "
                                      "fat-suppressed, so use a T1/T2 fast spin-echo or Dixon images")
        fat[k] = mask[k] & (image[k] > 0.5 * (lean + fat_reference))
    return fat


def classify_fat(image: np.ndarray, mask: np.ndarray, method: str, *,
                 subcutaneous: Optional[np.ndarray] = None, spacing_ijk: Sequence[float] = (1, 1, 1),
                 threshold: Optional[float] = None, fat_fraction: Optional[np.ndarray] = None,
                 source: str = "image") -> np.ndarray:
    """Boolean fat voxels inside `mask` (all arrays (K, J, I))."""
    if method not in FAT_METHODS:
        raise InputError("--method", f"unknown method {method!r}; choose from {', '.join(FAT_METHODS)}")
    fat = np.zeros(mask.shape, bool)
    if not mask.any():
        return fat
    values = image[mask]
    if method == "dixon":
        if fat_fraction is None:
            raise InputError("--method dixon", "needs water and fat images (--water W --fat F)")
        fat[mask] = fat_fraction[mask] > DIXON_FAT_FRACTION_CUTOFF
        return fat
    if method == "calibrated":
        if subcutaneous is None:
            raise ValueError("the calibrated method needs the subcutaneous fat mask")
        return _calibrated(image, mask, subcutaneous, spacing_ijk, source)
    if method == "threshold":
        if threshold is None:
            raise InputError("--method threshold", "needs a value (--threshold VALUE)")
        fat[mask] = values > threshold
        return fat
    if np.ptp(values) <= 0:
        return fat  # a uniform muscle has one class: no fat by any clustering
    if method == "otsu":
        fat[mask] = values > threshold_otsu(values)
    elif method == "kmeans":
        fat[mask] = upper_kmeans_cluster(values)
    else:  # gmm2 / gmm3: the brightest component is fat
        fat[mask] = highest_component_members(values, int(method[-1]))
    return fat


def dixon_fat_fraction(water: np.ndarray, fat: np.ndarray) -> np.ndarray:
    """Signal fat fraction F / (W + F), 0 where both are zero (background)."""
    water = water.astype(np.float32)
    fat = fat.astype(np.float32)
    total = water + fat
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(total > 0, fat / total, 0.0)
    return np.clip(fraction, 0.0, 1.0)
