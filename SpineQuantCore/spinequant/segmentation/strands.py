"""Thin strands hanging off a back muscle's outline are not muscle belly.

The multifidus and erector spinae are compact bellies in axial section. What the voxel-wise search
leaves attached to them in strips a few millimetres wide is tissue an observer leaves out: the
interspinous ligament and fat beside the spinous process, facet capsules, vessels, or partial volume
along bone and fascia. A morphological opening with a disk of STRAND_RADIUS_MM removes every part
narrower than its diameter and keeps the belly, whose outline bends far more gently (Serra, Image
Analysis and Mathematical Morphology, 1982: an opening keeps what the disk fits inside).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

# TUM01 multifidus (water/fat) with radius 2/2.5/3/3.5/4 mm: 0.847/0.869, 0.853/0.872, 0.855/0.871,
# 0.857/0.870, 0.854/0.870 against 0.842/0.864 without; erector spinae within 0.001. The phantom's
# bellies keep Dice >= 0.95 (its corners lose under a voxel).
STRAND_RADIUS_MM = 3.0


def disk_mm(radius_mm: float, spacing_xy) -> np.ndarray:
    """Structuring element: the voxels within `radius_mm` of the centre, (rows, columns) order."""
    spacing_x, spacing_y = spacing_xy
    half_rows, half_columns = int(radius_mm // spacing_y), int(radius_mm // spacing_x)
    rows, columns = np.mgrid[-half_rows : half_rows + 1, -half_columns : half_columns + 1]
    return (rows * spacing_y) ** 2 + (columns * spacing_x) ** 2 <= radius_mm**2


def remove_thin_strands(labels: np.ndarray, values, spacing, radius_mm: float = STRAND_RADIUS_MM) -> np.ndarray:
    """Set to 0, slice by slice, the voxels of each label in `values` that an opening with a disk of
    `radius_mm` removes (labels: (K, J, I); spacing: (I, J, K) mm). Edits `labels` in place."""
    disk = disk_mm(radius_mm, spacing[:2])
    for value in values:
        member = labels == value
        for k in np.nonzero(member.any(axis=(1, 2)))[0]:
            belly = ndimage.binary_opening(member[k], disk)
            labels[k][member[k] & ~belly] = 0
    return labels
