"""The multifidus / erector spinae boundary of one side of one slice, as an optimal seam.

The boundary runs from the front of the compartment (at the facet joint) to its back (towards the
thoracolumbar fascia). It is found as a path with one lateral position per image row (dynamic
programming, as in seam carving): cheap along a visible fat plane, smooth from row to row, and
pulled towards the anatomical line where no plane shows. Voxels medial of the seam are multifidus.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from scipy import ndimage

# The multifidus fills the groove up to the mammillary processes, on the back of the superior
# articular process just lateral of the facet joint (Macintosh & Bogduk, Spine 1986), and bulges
# beyond it; it is larger caudally (L4-S1), where the facets also sit wider apart. Scaling the
# facet's lateral reach keeps both trends (assumed ratios; TUM01's expert border lies at 1.7-2.2 x
# the facet reach at L4-L5, 1.3-1.7 x above, where the erector spinae covers the multifidus).
FACET_SCALE = 1.7  # open levels; TUM01 MF with 1.6/1.7/1.8 when chosen: 0.819/0.853, 0.832/0.850, 0.843/0.827
COVERED_FACET_SCALE = 1.5  # covered levels; 1.3-1.6 within 0.015
PRIOR_SIGMA_MM = 6.0  # how far a fat plane may pull the seam lateral of the anatomical line
MEDIAL_SIGMA_MM = 3.0  # ... and medial of it: the multifidus always covers the lamina up to the facet
PRIOR_SIGMA_GROWTH = 0.25  # the line is less certain further back from the facet (mm per mm of depth)
PLANE_REWARD = 1.0  # per row: a clear plane is worth ~1.4 prior sigmas of displacement
PLANE_FULL = 0.15  # fat-fraction relief that counts as a clear plane
EDGE_MM = 2.0  # fat just outside the compartment is not a plane between the two muscles
MAX_SLOPE = 1.5  # lateral mm per mm of depth: the boundary is a smooth line, never horizontal
STEP_PENALTY = 0.15  # per mm of lateral step: straight lines are preferred
# the reward saturates on the plane's partial-volume flank, where the prior may hold the seam; the
# boundary is the plane's fattest column within this reach (phantom: the seam sat ~1 px medial)
SNAP_MM = 2.0


def expected_border(facet_mm: float, covered: bool) -> float:
    """Expected lateral distance (mm) of the multifidus's border at the lamina, from the facet's
    lateral reach; `covered`: at an upper level, where the erector spinae covers the multifidus."""
    return (COVERED_FACET_SCALE if covered else FACET_SCALE) * facet_mm


def expected_line(rows_mm: np.ndarray, border_mm: float, back_mm: Optional[float]) -> np.ndarray:
    """Expected lateral position (mm) of the boundary per row (depth behind the compartment's front).

    Straight from the facet at the lower levels (`back_mm` None). At the upper lumbar levels the
    multifidus is small and the erector spinae's aponeurosis covers it from behind (Macintosh &
    Bogduk, Spine 1986): its section is a half oval, so the line is a quarter ellipse from the border
    at the lamina to the midline at the multifidus's back, `back_mm` behind the front (TUM01: MF
    +0.021/+0.033 against a straight line; starting the curve at 20-50 % of the depth gains less).
    """
    line = np.full(rows_mm.shape, float(border_mm))
    if back_mm is None or back_mm <= 0:
        return line
    depth = np.clip(rows_mm / back_mm, 0.0, 1.0)
    return line * np.sqrt(1.0 - depth**2)


def prior_penalty(lateral_mm: np.ndarray, rows_mm: np.ndarray, line_mm: np.ndarray) -> np.ndarray:
    """Half squared distance (in sigmas) from the expected line, per row (depth behind the front)
    and column; asymmetric, as the seam may swing out along a plane more readily than in."""
    offset = lateral_mm[None, :] - line_mm[:, None]
    depth = np.clip(rows_mm, 0, None)[:, None]
    sigma = np.where(offset > 0, PRIOR_SIGMA_MM, MEDIAL_SIGMA_MM) + PRIOR_SIGMA_GROWTH * depth
    return 0.5 * (offset / sigma) ** 2


def row_gaps(mask: np.ndarray) -> np.ndarray:
    """Voxels outside the mask but between two mask voxels of the same row."""
    from_left = np.maximum.accumulate(mask, axis=1)
    from_right = np.maximum.accumulate(mask[:, ::-1], axis=1)[:, ::-1]
    return from_left & from_right & ~mask


def node_costs(
    mask, relief, lateral_mm, anchor_mm, spacing, covered_back: Optional[float] = None, seen_line=None
) -> np.ndarray:
    """Cost of the seam passing each voxel of the mask's bounding rows (rows x columns).

    `covered_back`: at a level where the erector spinae covers the multifidus, the row (in these
    rows) beyond which the multifidus does not reach; None at the open levels. `seen_line`: per row,
    where neighbouring slices saw the seam on a plane (lateral mm, NaN where not); at the open levels
    it replaces the anatomical line on those rows.
    """
    # planes cut out of the compartment (gaps within a row) count: they are what separates the muscles
    inner = ndimage.distance_transform_edt(mask | row_gaps(mask), sampling=(spacing[1], spacing[0])) > EDGE_MM
    plane = np.where(inner, np.clip(relief / PLANE_FULL, 0, 1), 0.0)
    rows_mm = np.arange(mask.shape[0]) * spacing[1]
    covered = covered_back is not None
    border = expected_border(anchor_mm, covered)
    back_mm = None
    if covered:  # the multifidus's back: its limit, or the last row holding compartment medial of the border
        medial_rows = np.nonzero(mask[:, (lateral_mm > 0) & (lateral_mm < border)].any(axis=1))[0]
        last = medial_rows.max() if medial_rows.size else 0
        back_mm = min(last, covered_back) * spacing[1]
    line = expected_line(rows_mm, border, back_mm)
    if seen_line is not None and not covered:
        line = np.where(np.isfinite(seen_line), seen_line, line)
    return prior_penalty(lateral_mm, rows_mm, line) - PLANE_REWARD * plane


def cheapest_seam(costs: np.ndarray, spacing) -> np.ndarray:
    """Column per row of the cheapest top-to-bottom path with bounded slope (dynamic programming)."""
    n_rows, n_cols = costs.shape
    reach = max(1, int(round(MAX_SLOPE * spacing[1] / spacing[0])))
    total = costs[0].copy()
    back = np.zeros((n_rows, n_cols), int)
    columns = np.arange(n_cols)
    for row in range(1, n_rows):
        best = np.full(n_cols, np.inf)
        arg = columns.copy()
        for step in range(-reach, reach + 1):
            source = columns + step
            valid = (source >= 0) & (source < n_cols)
            candidate = np.full(n_cols, np.inf)
            candidate[valid] = total[source[valid]] + STEP_PENALTY * abs(step) * spacing[0]
            better = candidate < best
            best[better], arg[better] = candidate[better], source[better]
        total = best + costs[row]
        back[row] = arg
    seam = np.empty(n_rows, int)
    seam[-1] = int(np.argmin(total))
    for row in range(n_rows - 1, 0, -1):
        seam[row - 1] = back[row, seam[row]]
    return seam


def snap_to_plane(seam: np.ndarray, relief: np.ndarray, spacing) -> np.ndarray:
    """Each row's seam column moved to the fattest column within SNAP_MM where a clear plane shows."""
    reach = max(1, int(round(SNAP_MM / spacing[0])))
    rows = np.arange(seam.size)[:, None]
    columns = np.clip(seam[:, None] + np.arange(-reach, reach + 1)[None, :], 0, relief.shape[1] - 1)
    window = relief[rows, columns]
    fattest = columns[rows[:, 0], np.argmax(window, axis=1)]
    return np.where(window.max(axis=1) >= PLANE_FULL, fattest, seam)


def seam_line(
    mask, relief, lateral_mm, anchor_mm, spacing, covered_back: Optional[float] = None, seen_line=None
) -> np.ndarray:
    """Per row of the mask: the optimal seam's lateral position (mm); rows in front of or behind the
    compartment take its first or last row's position, all rows NaN where the mask is empty."""
    line = np.full(mask.shape[0], np.nan)
    found = _seam(mask, relief, lateral_mm, anchor_mm, spacing, covered_back, seen_line)
    if found is None:
        return line
    box, seam = found
    positions = lateral_mm[box[1]][seam]
    line[box[0]] = positions
    line[: box[0].start] = positions[0]
    line[box[0].stop :] = positions[-1]
    return line


def seam_on_planes(mask, relief, lateral_mm, anchor_mm, spacing, covered_back: Optional[float] = None) -> np.ndarray:
    """Per row of the mask: the seam's lateral position (mm) where a clear plane holds it (within
    a voxel), NaN elsewhere: what this slice shows its neighbours of the boundary."""
    seen = np.full(mask.shape[0], np.nan)
    found = _seam(mask, relief, lateral_mm, anchor_mm, spacing, covered_back)
    if found is None:
        return seen
    box, seam = found
    rows = np.arange(seam.size)
    columns = np.clip(seam[:, None] + np.arange(-1, 2)[None, :], 0, box[1].stop - box[1].start - 1)
    on_plane = relief[box][rows[:, None], columns].max(axis=1) >= PLANE_FULL
    on_plane &= mask[box].any(axis=1)
    seen[box[0]][on_plane] = lateral_mm[box[1]][seam[on_plane]]
    return seen


def _seam(mask, relief, lateral_mm, anchor_mm, spacing, covered_back=None, seen_line=None):
    """(box, seam column per box row) of the optimal seam through the mask, None if it is empty."""
    rows, columns = np.nonzero(mask)
    if rows.size == 0:
        return None
    # one spare column each side: a seam there gives a row wholly to one muscle
    box = (slice(rows.min(), rows.max() + 1), slice(max(columns.min() - 1, 0), columns.max() + 2))
    lateral = lateral_mm[box[1]]
    back = None if covered_back is None else covered_back - box[0].start
    line = None if seen_line is None else seen_line[box[0]]
    costs = node_costs(mask[box], relief[box], lateral, anchor_mm, spacing, back, line)
    seam = cheapest_seam(costs, spacing)
    return box, snap_to_plane(seam, relief[box], spacing)
