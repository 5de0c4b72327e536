"""Where the multifidus ends at the back: the spinous process tip and the thoracolumbar fascia.

The multifidus arises from the spinous processes and laminae. At the upper lumbar levels the
erector spinae reaches further back than the spinous tips and its aponeurosis and tendons cover the
multifidus from behind; at L5 the erector spinae is thin and lateral and the multifidus fills the
groove back to the fascia (Macintosh & Bogduk, Spine 1986; Bogduk, Clinical Anatomy of the Lumbar
Spine). The posterior layer of the thoracolumbar fascia is attached to the spinous tips and runs
laterally over the back of both muscles (Willard et al., J Anat 2012).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .compartment import LEAN_FAT_FRACTION

MIDLINE_HALF_WIDTH_MM = 2.0  # columns this close to the midline lie on the spinous process
TIP_GAP_MM = 3.0  # a fat gap shorter than this along the process does not end it
MIN_PROCESS_MM = 15.0  # lumbar spinous processes reach well over 1.5 cm behind the lamina
CAP_MARGIN_MM = 3.0  # the multifidus may bulge this far behind the tip
WRAP_MARGIN_MM = 3.0  # ... and is capped only where the erector spinae reaches this much further back
# TUM01: the compartment reaches 3 mm behind the tip at L5 and 10-13 mm at the upper levels; the
# seam gains with any threshold from 7 to 10 mm
COVER_MM = 8.0


def spinous_tip_row(fat_fraction, dark, lateral_mm: np.ndarray, lamina_row: float, pixel_y: float) -> Optional[int]:
    """Row of the back tip of the spinous process, or None where it is not seen.

    Followed back from the lamina along the midline as long as the midline is not fat (bone, whose
    marrow may be fatty but is not fat tissue on its own, reads dark or intermediate; ligament is
    lean); the subcutaneous fat behind the tip ends it. A run shorter than a spinous process is an
    interspinous gap (slices through the disc level), not a tip.
    """
    columns = np.abs(lateral_mm) <= MIDLINE_HALF_WIDTH_MM
    start = int(max(0, np.floor(lamina_row)))
    if not columns.any() or start >= fat_fraction.shape[0]:
        return None
    not_fat = ((fat_fraction[start:, columns] < LEAN_FAT_FRACTION) | dark[start:, columns]).mean(axis=1) >= 0.5
    max_gap = max(1, int(round(TIP_GAP_MM / pixel_y)))
    last, gap = None, 0
    for offset, holds in enumerate(not_fat):
        if holds:
            last, gap = offset, 0
        elif last is not None:
            gap += 1
            if gap > max_gap:
                break
    if last is None or last * pixel_y < MIN_PROCESS_MM:
        return None
    return start + last


def covered_multifidus_back(
    compartment: np.ndarray, lateral_mm: np.ndarray, border_mm: float, tip_row: Optional[int], pixel_y: float
) -> Optional[float]:
    """Row of the multifidus's back where the erector spinae covers it, else None.

    Covered: the compartment lateral of the multifidus border reaches COVER_MM further back than the
    spinous tip (the erector spinae's aponeurosis, upper lumbar levels); the multifidus then ends
    CAP_MARGIN_MM behind the tip (cap_behind_tip).
    """
    lateral = lateral_mm > border_mm
    if tip_row is None or not compartment[:, lateral].any():
        return None
    back = np.nonzero(compartment[:, lateral].any(axis=1))[0].max()
    if (back - tip_row) * pixel_y <= COVER_MM:
        return None
    return tip_row + CAP_MARGIN_MM / pixel_y


def cap_behind_tip(multifidus: np.ndarray, erector: np.ndarray, tip_row: Optional[int], pixel_y: float):
    """(multifidus, erector spinae) with the multifidus behind the spinous tip given to the erector
    spinae, where the erector spinae reaches further back than the tip (it wraps the multifidus)."""
    if tip_row is None or not multifidus.any() or not erector.any():
        return multifidus, erector
    limit = tip_row + CAP_MARGIN_MM / pixel_y
    erector_back = np.nonzero(erector.any(axis=1))[0].max()
    if erector_back <= limit + WRAP_MARGIN_MM / pixel_y:
        return multifidus, erector
    rows = np.arange(multifidus.shape[0])[:, None]
    behind = multifidus & (rows > limit)
    return multifidus & ~behind, erector | behind
