"""The posterior layer of the thoracolumbar fascia behind a severely fatty multifidus.

The layer is attached to the tips of the lumbar spinous processes and runs laterally over the back
of the multifidus and the erector spinae (Willard et al., J Anat 2012; Bogduk, Clinical Anatomy of
the Lumbar Spine). Where fat has replaced the multifidus's border, intensity cannot tell the muscle
from the subcutaneous fat behind it, but its back still ends at this layer, and the image shows the
layer's two ends: the tip of the spinous process (dark bone on the midline behind the lamina) and the
back of the lean erector spinae beside the multifidus.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from skimage.draw import line

TIP_HALF_WIDTH_MM = 4.0  # columns this close to the midline hold the spinous process
TIP_START_MM = 10.0  # the process begins within a centimetre behind the lamina row ...
TIP_GAP_MM = 2.5  # ... and runs back with at most this much of it not dark (partial volume)
CORNER_BAND_MM = 3.0  # the erector spinae's medial-most columns give its back-medial corner


def spinous_tip_row(dark: np.ndarray, lateral_mm: np.ndarray, lamina_row: float, pixel_y: float) -> Optional[int]:
    """Row of the back tip of the spinous process: the end of the dark run behind the lamina."""
    columns = np.abs(lateral_mm) <= TIP_HALF_WIDTH_MM
    start = int(max(0, np.floor(lamina_row)))
    if not columns.any() or start >= dark.shape[0]:
        return None
    run = dark[start:, columns].any(axis=1)
    max_gap = max(1, int(round(TIP_GAP_MM / pixel_y)))
    last, gap = None, 0
    for offset, is_dark in enumerate(run):
        if is_dark:
            last, gap = offset, 0
        elif last is None:
            if offset * pixel_y > TIP_START_MM:
                return None
        else:
            gap += 1
            if gap > max_gap:
                break
    return None if last is None else start + last


def posterior_layer(erector: np.ndarray, dark: np.ndarray, lateral_mm: np.ndarray, lamina_row: float, spacing):
    """Voxels of the line from the spinous process tip to the erector spinae's back-medial corner
    (one side of one slice), or None where either end is not seen."""
    if not erector.any():
        return None
    tip_row = spinous_tip_row(dark, lateral_mm, lamina_row, spacing[1])
    tip_columns = np.nonzero((lateral_mm > 0) & (lateral_mm <= TIP_HALF_WIDTH_MM))[0]
    if tip_row is None or tip_columns.size == 0:
        return None
    tip_column = tip_columns[np.argmin(lateral_mm[tip_columns])]
    columns = np.nonzero(erector.any(axis=0))[0]
    medial = columns[lateral_mm[columns] <= lateral_mm[columns].min() + CORNER_BAND_MM]
    corner_row = np.nonzero(erector[:, medial].any(axis=1))[0].max()
    corner_column = medial[np.argmin(lateral_mm[medial])]
    layer = np.zeros(erector.shape, bool)
    layer[line(int(tip_row), int(tip_column), int(corner_row), int(corner_column))] = True
    return layer
