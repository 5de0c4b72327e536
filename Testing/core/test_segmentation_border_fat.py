"""Fat by the posterior elements: on the border not muscle, enclosed marbling (compartment.drop_border_fat)."""

import numpy as np

from spinequant.segmentation.compartment import drop_border_fat

SPACING = (1.0, 1.0, 4.0)


def _compartment():
    lateral_mm = np.arange(60) - 2.0  # column 2 is the midline
    mask = np.zeros((50, 60), bool)
    mask[10:45, 5:40] = True  # multifidus and erector spinae beside the spinous process
    fat_fraction = np.full(mask.shape, 0.08, np.float32)
    return mask, fat_fraction, lateral_mm


def test_interspinous_fat_on_the_border_is_dropped():
    mask, fat_fraction, lateral_mm = _compartment()
    fat_fraction[20:40, 5:9] = 0.8  # fat beside the spinous process, on the medial border
    out = drop_border_fat(mask, fat_fraction, lateral_mm, 5.0, SPACING)
    assert not out[20:40, 5:9].any()
    assert out.sum() == mask.sum() - 80


def test_marbling_enclosed_by_muscle_stays_and_fat_further_out_is_not_touched():
    mask, fat_fraction, lateral_mm = _compartment()
    fat_fraction[25:30, 9:12] = 0.9  # a marbling patch inside the multifidus, by the spinous process
    fat_fraction[40:44, 30:38] = 0.9  # erector spinae marbling at its border, away from the posterior elements
    out = drop_border_fat(mask, fat_fraction, lateral_mm, 5.0, SPACING)
    assert (out == mask).all()
