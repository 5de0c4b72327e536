"""Split one side's posterior compartment into multifidus (medial) and erector spinae (lateral).

The multifidus fills the groove between spinous process and lamina; the erector spinae lies
lateral to it. A fat plane separates them (bright on fat fraction) where it is visible; where it
is not (thin planes, severe fatty infiltration) the line from the facet joint decides.
The groove seeds also anchor the fatty-muscle recovery.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
from scipy import ndimage

from . import boundary
from .compartment import LEAN_FAT_FRACTION, PLANE_RADIUS_MM, gap_slices

GROOVE_MM = (4.0, 14.0)  # multifidus seed: beside the spinous process ...
GROOVE_DEPTH_MM = 12.0  # ... just behind the lamina
PLANE_LENGTH_MM = 4.0  # the plane between the muscles is centimetres long, marbling streaks are short
# the boundary moves a few mm per cm along the spine; TUM01 MF with 2/4/6/8/12 mm: 0.823/0.845,
# 0.832/0.858, 0.844/0.863, 0.843/0.864, 0.844/0.862 (phantom: 8 mm +0.00-+0.03 against 4 mm)
BOUNDARY_SMOOTH_MM = 8.0
# where the plane is hidden (marbling fat merged with it), the seam's prior on each row is where the
# slices within 12 mm saw it on a plane (at least two of them; with water and fat, see
# builtin._seen_seams); phantom 60 % multifidus 0.906-0.944 -> 0.928-0.946, TUM01 within 0.001
SEEN_REACH_MM = 12.0
SEEN_MIN_SLICES = 2


def groove_seed(mask: np.ndarray, lateral_mm: np.ndarray, lamina_row: float, spacing) -> np.ndarray:
    """The multifidus seed: the voxels of `mask` in the laminar groove beside the spinous process."""
    rows = np.arange(mask.shape[0])[:, None]
    depth_mm = (rows - lamina_row) * spacing[1]
    lateral = np.broadcast_to(lateral_mm[None, :], mask.shape)
    groove = mask & (lateral >= GROOVE_MM[0]) & (lateral <= GROOVE_MM[1]) & (depth_mm <= GROOVE_DEPTH_MM)
    if not groove.any():  # lamina row uncertain: take the most anterior medial voxels
        medial = mask & (lateral <= GROOVE_MM[1])
        if medial.any():
            front = np.nonzero(medial.any(axis=1))[0].min()
            groove = medial & (rows <= front + GROOVE_DEPTH_MM / spacing[1])
    return groove


def fat_planes_relief(fat_fraction: np.ndarray, spacing) -> np.ndarray:
    """How much fattier than its left and right neighbours a voxel is, averaged along the rows.

    The plane between multifidus and erector spinae runs front to back; marbling streaks and vessels
    inside the muscles are short and run any way. A horizontal top-hat keeps thin front-to-back
    lines, and smoothing along the rows keeps only the long ones.
    """
    width = max(3, 2 * int(round(PLANE_RADIUS_MM / spacing[0])) + 1)
    relief = fat_fraction - ndimage.grey_opening(fat_fraction, size=(1, width))
    return ndimage.gaussian_filter1d(relief, PLANE_LENGTH_MM / spacing[1], axis=0)


def split_compartment(mask, fat_fraction, lateral_mm, facet_mm: float, spacing, covered_back=None, seen_line=None):
    """(multifidus, erector spinae) masks of one side of one slice, cut along the optimal seam
    (boundary.seam_line on the compartment's plane_relief)."""
    relief = plane_relief(mask, fat_fraction, spacing)
    line = boundary.seam_line(mask, relief, lateral_mm, facet_mm, spacing, covered_back, seen_line)
    return cut_at(mask, line, lateral_mm)


def plane_relief(mask: np.ndarray, fat_fraction: np.ndarray, spacing) -> np.ndarray:
    """The fat planes' relief (fat_planes_relief, negative values 0) over the mask's bounding box,
    0 elsewhere: what the seam follows (boundary.seam_line, boundary.seam_on_planes)."""
    relief = np.zeros(mask.shape, np.float32)
    if not mask.any():
        return relief
    rows, columns = np.nonzero(mask)
    box = (slice(rows.min(), rows.max() + 1), slice(columns.min(), columns.max() + 1))
    relief[box] = np.clip(fat_planes_relief(fat_fraction[box], spacing), 0, None)
    return relief


def cut_at(mask: np.ndarray, line: np.ndarray, lateral_mm: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(medial, lateral) parts of the mask on either side of a line (lateral mm per row)."""
    medial = mask & (lateral_mm[None, :] < line[:, None])
    return medial, mask & ~medial


def seen_lines(on_planes: np.ndarray, spacing_z: float) -> np.ndarray:
    """(slices, rows) of one side: per row, the median of the seam positions seen on planes within
    SEEN_REACH_MM along the spine (this slice too), where at least SEEN_MIN_SLICES saw one; NaN
    elsewhere. The boundary moves a few mm per cm; where marbling fat hides the plane on a run of
    slices, the slices around it still show where it runs."""
    reach = gap_slices(SEEN_REACH_MM, spacing_z)
    lines = np.full(on_planes.shape, np.nan)
    for k in range(on_planes.shape[0]):
        near = on_planes[max(0, k - reach) : k + reach + 1]
        enough = np.isfinite(near).sum(axis=0) >= SEEN_MIN_SLICES
        if enough.any():
            lines[k, enough] = np.nanmedian(near[:, enough], axis=0)
    return lines


def consistent_across_slices(labels: np.ndarray, pairs, spacing) -> np.ndarray:
    """Each compartment voxel takes the label most of its through-plane neighbourhood has.

    The boundary between the muscles moves smoothly along the spine; a seam pulled aside by a
    plane seen on one slice only is put back by its neighbours (a Gaussian-weighted vote).
    """
    sigma = BOUNDARY_SMOOTH_MM / spacing[2]
    for multifidus, erector in pairs:
        compartment = (labels == multifidus) | (labels == erector)
        votes = ndimage.gaussian_filter1d((labels == multifidus).astype(np.float32), sigma, axis=0, mode="nearest")
        weight = ndimage.gaussian_filter1d(compartment.astype(np.float32), sigma, axis=0, mode="nearest")
        medial = votes >= 0.5 * weight
        labels[compartment & medial] = multifidus
        labels[compartment & ~medial] = erector
    return labels


def clear_fat_seam(labels: np.ndarray, pairs, fat_fraction: np.ndarray) -> np.ndarray:
    """Fat voxels where multifidus and erector spinae meet belong to neither (intermuscular fat).

    The compartment is closed across the fat plane between the two muscles so that the seam can be
    found; with a measured fat fraction, the plane's own fat voxels are then given back to the
    background, as an observer drawing each muscle inside its fascia would.
    """
    in_plane = np.zeros((3, 3, 3), bool)
    in_plane[1] = True
    for multifidus, erector in pairs:
        first, second = labels == multifidus, labels == erector
        meeting = first & ndimage.binary_dilation(second, in_plane)
        meeting |= second & ndimage.binary_dilation(first, in_plane)
        labels[meeting & (fat_fraction >= LEAN_FAT_FRACTION)] = 0  # more fat than water: fat
    return labels
