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


FACET_WINDOW_MM = (-15.0, 6.0)  # articular processes lie up to ~1.5 cm in front of the laminar surface
FACET_LATERAL_MM = (8.0, 45.0)  # facet joints sit ~1-4 cm from the midline (wider at L5/S1)
FACET_DEFAULT_MM = 22.0  # typical lateral reach of the lumbar laminae when no bone is seen
FACET_STEP_MM = 5.0  # the facet line moves little between neighbouring slices
FACET_PERCENTILE = 90.0  # robust "most lateral" dark voxel: a single noisy voxel must not decide


def facet_reach(dark: np.ndarray, midline: float, lamina: float, spacing, side: int) -> float:
    """Lateral distance (mm) of the lateral tip of lamina/articular process on one side of one slice.

    The multifidus fills the laminar groove and its lateral border runs back from the facet joint
    (Macintosh & Bogduk, Spine 1986; Hides et al., Spine 1994 measure it against the facet); the
    bone there is the darkest tissue near the lamina row in any contrast.
    """
    if not (np.isfinite(midline) and np.isfinite(lamina)):
        return float("nan")
    rows = (np.arange(dark.shape[0]) - lamina) * spacing[1]
    lateral = (np.arange(dark.shape[1]) - midline) * spacing[0] * side
    window = (rows >= FACET_WINDOW_MM[0]) & (rows <= FACET_WINDOW_MM[1])
    columns = (lateral >= FACET_LATERAL_MM[0]) & (lateral <= FACET_LATERAL_MM[1])
    hits = dark[np.ix_(window, columns)]
    if hits.sum() < 3:
        return float("nan")
    return float(np.percentile(np.broadcast_to(lateral[columns], hits.shape)[hits], FACET_PERCENTILE))


def facet_reaches(dark, midlines, laminae, spacing) -> np.ndarray:
    """Facet reach (mm) per slice and side (left, right), consistent across slices; a default where unseen."""
    reach = np.array(
        [
            [facet_reach(dark[k], midlines[k], laminae[k, c], spacing, s) for c, s in enumerate((1, -1))]
            for k in range(dark.shape[0])
        ]
    )
    out = np.empty_like(reach)
    for column in range(2):
        track = smooth_track(reach[:, column], FACET_STEP_MM)
        out[:, column] = np.where(np.isfinite(track), track, FACET_DEFAULT_MM)
    return out
