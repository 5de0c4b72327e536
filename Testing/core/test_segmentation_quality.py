"""Per-slice quality flags of a label map: where the reviewer should look first."""

from __future__ import annotations

import numpy as np

from spinequant.segmentation.quality import slice_quality


def test_a_slice_whose_area_doubles_against_both_neighbours_is_flagged():
    labels = np.zeros((5, 60, 60), np.uint8)
    for k, width in enumerate([10, 10, 24, 11, 11]):  # slice 2 leaks: 2.4x both neighbours
        labels[k, 10:30, 2:2 + width] = 1  # multifidus left
        labels[k, 10:30, 40:40 + 10] = 2  # multifidus right, steady
    table = slice_quality(labels, 1.0, np.arange(5.0) * 4)
    flagged = [k for k, flags in enumerate(table["flags"]) if "multifidus_left_area_jump" in flags]
    assert flagged == [2]
    assert table.loc[2, "confidence"] < table.loc[1, "confidence"] == 1.0
    assert not any("multifidus_right_area_jump" in flags for flags in table["flags"])


def test_a_slice_that_loses_half_its_area_is_flagged_but_smooth_growth_is_not():
    labels = np.zeros((6, 60, 60), np.uint8)
    for k, width in enumerate([10, 12, 5, 14, 16, 19]):  # slice 2 misses part; the rest grows caudally
        labels[k, 10:30, 2:2 + width] = 3  # erector spinae left
        labels[k, 10:30, 40:40 + width] = 4
    table = slice_quality(labels, 1.0, np.arange(6.0) * 4)
    for side in ("left", "right"):
        flagged = [k for k, flags in enumerate(table["flags"]) if f"erector_spinae_{side}_area_jump" in flags]
        assert flagged == [2]
