"""Mid-sagittal line per slice (x of the spinous processes) from left-right mirror symmetry.

The back is close to mirror-symmetric about the spine even when muscles differ in size, so the
best-matching mirror axis of the posterior half of the body finds the midline without needing any
intensity model. Slices are then made consistent (the spine moves smoothly between slices).
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
from scipy import ndimage

SEARCH_HALF_WIDTH_MM = 40.0  # the spine lies within this distance of the body's centre
MIRROR_REACH_MM = 70.0  # compare this far to each side: the paraspinal muscles
MAX_STEP_MM_PER_SLICE_MM = 0.5  # lateral drift of the spine per mm along the axis (scoliosis)


def posterior_band(body: np.ndarray, spacing_y: float, depth_mm: float = 110.0) -> np.ndarray:
    """Rows within depth_mm in front of the posterior skin, per column (the back's muscles)."""
    rows = np.arange(body.shape[0])[:, None]
    has_body = body.any(axis=0)
    back = np.where(has_body, body.shape[0] - 1 - np.argmax(body[::-1], axis=0), -1)
    return body & (rows >= back[None, :] - depth_mm / spacing_y)


def slice_midline(feature: np.ndarray, band: np.ndarray, spacing_x: float) -> Tuple[float, float]:
    """Best mirror axis column of one slice, and its symmetry score (correlation, -1..1)."""
    columns = np.nonzero(band.any(axis=0))[0]
    if columns.size < 10:
        return float("nan"), -1.0
    centre = 0.5 * (columns[0] + columns[-1])
    search = int(SEARCH_HALF_WIDTH_MM / spacing_x)
    reach = int(MIRROR_REACH_MM / spacing_x)
    values = np.where(band, feature, 0.0)
    best, best_score = centre, -np.inf
    width = feature.shape[1]
    for half_steps in range(-2 * search, 2 * search + 1):  # half-voxel steps: axis may lie between columns
        axis = centre + 0.5 * half_steps
        offsets = np.arange(1, reach)
        left = np.round(axis + offsets).astype(int)
        right = np.round(axis - offsets).astype(int)
        keep = (left < width) & (right >= 0)
        if keep.sum() < reach // 2:
            continue
        a = values[:, left[keep]].ravel()
        b = values[:, right[keep]].ravel()
        score = _correlation(a, b)
        if score > best_score:
            best, best_score = axis, score
    return float(best), float(best_score)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else -1.0


def midline_columns(feature: np.ndarray, body: np.ndarray, spacing: Tuple[float, float, float]) -> np.ndarray:
    """Midline column (float) for every slice, smoothed across slices; NaN where no body."""
    n_slices = feature.shape[0]
    columns = np.full(n_slices, np.nan)
    scores = np.full(n_slices, -1.0)
    for k in range(n_slices):
        band = posterior_band(body[k], spacing[1])
        columns[k], scores[k] = slice_midline(feature[k], band, spacing[0])
    return _consistent(columns, scores, spacing)


def smooth_track(values: np.ndarray, tolerance: float) -> np.ndarray:
    """Per-slice positions made consistent: gaps interpolated, and values further than `tolerance`
    from the running median of their neighbours replaced by it (anatomy moves slowly along the spine)."""
    valid = np.isfinite(values)
    if not valid.any():
        return values
    index = np.arange(values.size)
    filled = np.interp(index, index[valid], values[valid])
    size = min(5, values.size if values.size % 2 else values.size - 1) or 1
    # mirrored ends: an outlier in the first or last slice must not be its own neighbour
    trend = ndimage.median_filter(filled, size=size, mode="mirror")
    outlier = np.abs(filled - trend) > tolerance
    filled[outlier] = trend[outlier]
    return filled


def _consistent(columns: np.ndarray, scores: np.ndarray, spacing) -> np.ndarray:
    """Replace outliers by the robust trend of the neighbours; the spine bends slowly."""
    if not np.isfinite(columns).any():
        return columns
    tolerance = max(3.0, MAX_STEP_MM_PER_SLICE_MM * spacing[2] * 2) / spacing[0]
    return ndimage.gaussian_filter1d(smooth_track(columns, tolerance), 0.7, mode="nearest")
