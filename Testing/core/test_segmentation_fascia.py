"""The posterior layer of the thoracolumbar fascia bounds a severely fatty multifidus (fascia.py)."""

import numpy as np
import pytest

from spinequant.phantoms.axial import make_axial_phantom
from spinequant.segmentation import segment
from spinequant.segmentation.fascia import posterior_layer, spinous_tip_row

SPACING = (1.0, 1.0, 4.0)
MIDLINE = 20


def _slice():
    """Right-hand side of a back: lamina row 10, spinous process down to row 34, erector spinae lateral."""
    lateral_mm = (np.arange(60) - MIDLINE) * SPACING[0]
    dark = np.zeros((60, 60), bool)
    dark[10:13, 10:45] = True  # lamina
    dark[10:35, 18:23] = True  # spinous process
    erector = np.zeros_like(dark)
    erector[12:40, 38:58] = True
    return dark, erector, lateral_mm


def test_the_tip_is_where_the_dark_run_behind_the_lamina_ends():
    dark, _, lateral_mm = _slice()
    assert spinous_tip_row(dark, lateral_mm, 10.0, SPACING[1]) == 34
    dark[24, 18:23] = False  # a partial-volume gap does not end the process
    assert spinous_tip_row(dark, lateral_mm, 10.0, SPACING[1]) == 34
    assert spinous_tip_row(np.zeros_like(dark), lateral_mm, 10.0, SPACING[1]) is None


def test_the_layer_joins_the_tip_to_the_erector_spinae_back_medial_corner():
    dark, erector, lateral_mm = _slice()
    layer = posterior_layer(erector, dark, lateral_mm, 10.0, SPACING)
    assert layer[34, 21] and layer[39, 38]  # tip (first column beside the midline) and corner
    assert layer.sum() == 18  # one voxel per column between them
    assert posterior_layer(erector, np.zeros_like(dark), lateral_mm, 10.0, SPACING) is None


@pytest.mark.parametrize("water_fat", [False, True])
def test_severely_fatty_multifidus_fat_share_is_not_underestimated(water_fat):
    # fat patches at the back border used to be lost to the subcutaneous fat: 49-52 % measured for 60 %
    phantom = make_axial_phantom(seed=0, n_slices=12, fat_infiltration={"multifidus": 0.6})
    kwargs = {"water": phantom.water, "fat": phantom.fat} if water_fat else {}
    labels = segment(phantom.image, **kwargs).labels.array
    for value, key in ((1, "multifidus_left"), (2, "multifidus_right")):
        measured = 100.0 * (phantom.fat_fraction[labels == value] > 0.5).mean()
        assert abs(measured - phantom.true_fat_infiltration[key]) < 5.0, (key, measured)
