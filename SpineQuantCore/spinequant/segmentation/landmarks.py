"""Spine landmarks per slice, found from the back inwards beside the midline.

Walking forward from the skin beside the spinous process one crosses subcutaneous fat, then the
multifidus (muscle, possibly fatty) and then the lamina: the first clearly dark (bone) band. The
lamina anchors the back muscles in every contrast, whatever the muscles' fat content.
"""

from __future__ import annotations

import numpy as np

from .midline import smooth_track

PARAMEDIAN_MM = (3.0, 12.0)  # the multifidus hugs the spinous process
DARK_ROW_SHARE = 0.4  # share of dark voxels in the strip that marks bone
MIN_DEPTH_MM = 25.0  # skin, fat and multifidus are at least this thick in front of the lamina
MAX_DEPTH_MM = 140.0


def paramedian_dark_profile(dark: np.ndarray, midline: float, spacing_x: float, side: int) -> np.ndarray:
    """Share of dark voxels per row in one paramedian strip (side +1 = patient left)."""
    lateral = (np.arange(dark.shape[1]) - midline) * spacing_x * side
    strip = (lateral >= PARAMEDIAN_MM[0]) & (lateral <= PARAMEDIAN_MM[1])
    return dark[:, strip].mean(axis=1) if strip.any() else np.zeros(dark.shape[0])


def lamina_row(dark: np.ndarray, body: np.ndarray, midline: float, spacing, side: int) -> float:
    """Row (float) of the posterior edge of the lamina on one side of one slice; NaN if not found."""
    column = int(round(midline))
    if not (0 <= column < body.shape[1]) or not body[:, column].any():
        return float("nan")
    back = int(np.nonzero(body[:, column])[0].max())
    profile = paramedian_dark_profile(dark, midline, spacing[0], side)
    # two consecutive dark rows: a single dark row may be the thin thoracolumbar fascia
    bone = (profile >= DARK_ROW_SHARE) & (np.roll(profile, 1) >= DARK_ROW_SHARE)
    start = back - int(MIN_DEPTH_MM / spacing[1])
    stop = max(0, back - int(MAX_DEPTH_MM / spacing[1]))
    for row in range(start, stop, -1):
        if bone[row]:
            return float(row)
    return float("nan")


def lamina_rows(dark, body, midlines, spacing) -> np.ndarray:
    """Lamina row for every slice and side, shape (K, 2) = (left, right); outliers smoothed out."""
    rows = np.array(
        [[lamina_row(dark[k], body[k], midlines[k], spacing, side) for side in (1, -1)] for k in range(dark.shape[0])]
    )
    return np.stack([_consistent(rows[:, 0], spacing), _consistent(rows[:, 1], spacing)], axis=1)


def _consistent(rows: np.ndarray, spacing) -> np.ndarray:
    return smooth_track(rows, 6.0 / spacing[1])  # the lamina moves less than 6 mm between slices
