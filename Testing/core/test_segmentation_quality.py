"""Per-slice quality flags of a label map: where the reviewer should look first."""

from __future__ import annotations

import numpy as np

from spinequant.segmentation.quality import FRONT_FROM_ANATOMY, slice_quality


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


def test_an_erector_front_drawn_from_anatomy_is_a_hint_not_a_confidence_penalty():
    labels = np.zeros((3, 60, 60), np.uint8)
    labels[:, 10:30, 2:20] = 3
    labels[:, 10:30, 40:58] = 4
    drawn = np.array([[False, False], [True, False], [True, True]])
    table = slice_quality(labels, 1.0, np.arange(3.0) * 4, {FRONT_FROM_ANATOMY: drawn})
    assert list(table["hints"]) == [
        "",
        "erector_spinae_left_front_from_anatomy",
        "erector_spinae_left_front_from_anatomy;erector_spinae_right_front_from_anatomy",
    ]
    assert (table["confidence"] == 1.0).all()
    assert (slice_quality(labels, 1.0, np.arange(3.0) * 4)["hints"] == "").all()


def test_per_slice_hints_follow_the_input_slice_order():
    from spinequant.phantoms.axial import make_axial_phantom
    from spinequant.segmentation.orientation import canonical_slice_order

    image = make_axial_phantom(seed=0, n_slices=6).image  # slices run head to foot: canonical flips them
    per_canonical = np.zeros((6, 2), bool)
    per_canonical[0, 0] = per_canonical[1, 1] = True  # the two most inferior canonical slices
    on_input = per_canonical[canonical_slice_order(image)]
    assert on_input[5, 0] and on_input[4, 1]
    assert on_input.sum() == 2
