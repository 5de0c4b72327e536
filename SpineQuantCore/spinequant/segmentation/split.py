"""Split one side's posterior compartment into multifidus (medial) and erector spinae (lateral).

The multifidus fills the groove between spinous process and lamina; the erector spinae lies
lateral to it. A fat plane separates them (bright on fat fraction). A marker-based watershed on
the fat-fraction relief, seeded in the laminar groove and in the lateral compartment, follows
that plane where it is visible; a gentle distance-from-groove term keeps the cut anatomical
where it is not (e.g. severe fatty infiltration, where fat fraction no longer separates them).
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
from scipy import ndimage
from skimage.graph import MCP_Geometric

from .compartment import PLANE_RADIUS_MM, _disk_px

GROOVE_MM = (4.0, 14.0)  # multifidus seed: beside the spinous process ...
GROOVE_DEPTH_MM = 12.0  # ... just behind the lamina
LATERAL_SEED_SHARE = 0.55  # erector spinae seed: the lateral 30 % of the compartment's width
PLANE_COST = 60.0  # crossing a fat plane costs like ~5 mm of muscle
MULTIFIDUS_REACH_BIAS = 1.0


def seeds(mask: np.ndarray, lateral_mm: np.ndarray, lamina_row: float, spacing) -> Tuple[np.ndarray, np.ndarray]:
    rows = np.arange(mask.shape[0])[:, None]
    depth_mm = (rows - lamina_row) * spacing[1]
    lateral = np.broadcast_to(lateral_mm[None, :], mask.shape)
    groove = mask & (lateral >= GROOVE_MM[0]) & (lateral <= GROOVE_MM[1]) & (depth_mm <= GROOVE_DEPTH_MM)
    if not groove.any():  # lamina row uncertain: take the most anterior medial voxels
        medial = mask & (lateral <= GROOVE_MM[1])
        if medial.any():
            front = np.nonzero(medial.any(axis=1))[0].min()
            groove = medial & (rows <= front + GROOVE_DEPTH_MM / spacing[1])
    width = lateral[mask].max() if mask.any() else 0.0
    outer = mask & (lateral >= LATERAL_SEED_SHARE * width)
    return groove, outer & ~groove


def fat_planes_relief(fat_fraction: np.ndarray, spacing) -> np.ndarray:
    """How much fattier than its surroundings a voxel is: high on the plane between the muscles."""
    footprint = _disk_px(PLANE_RADIUS_MM, spacing[0])
    return fat_fraction - ndimage.grey_opening(fat_fraction, footprint=footprint)


def _geodesic_distance(cost: np.ndarray, seed: np.ndarray, spacing) -> np.ndarray:
    """Cheapest path length (mm x cost) from the seed through the compartment."""
    walker = MCP_Geometric(cost, sampling=(spacing[1], spacing[0]))
    distance, _ = walker.find_costs(np.argwhere(seed))
    return distance


def split_compartment(
    mask: np.ndarray, fat_fraction: np.ndarray, lateral_mm: np.ndarray, lamina_row: float, spacing
) -> Tuple[np.ndarray, np.ndarray]:
    """(multifidus, erector spinae) masks of one side of one slice.

    Each voxel goes to the seed it reaches more cheaply; crossing a fat plane is expensive, so the
    cut follows the plane where one shows and falls between the seeds where none does.
    """
    if not mask.any():
        return mask.copy(), mask.copy()
    groove, outer = seeds(mask, lateral_mm, lamina_row, spacing)
    if not groove.any() or not outer.any():
        return np.zeros_like(mask), mask.copy()
    rows, columns = np.nonzero(mask)
    box = (slice(rows.min(), rows.max() + 1), slice(columns.min(), columns.max() + 1))
    plane = np.clip(fat_planes_relief(fat_fraction, spacing)[box], 0, None)
    cost = np.where(mask[box], 1.0 + PLANE_COST * plane, np.inf)
    to_groove = _geodesic_distance(cost, groove[box], spacing)
    to_outer = _geodesic_distance(cost, outer[box], spacing)
    multifidus = np.zeros_like(mask)
    multifidus[box] = mask[box] & (to_groove * MULTIFIDUS_REACH_BIAS < to_outer)
    return multifidus, mask & ~multifidus
