"""Erector spinae front when quadratus lumborum / aponeurosis is fused to it (compartment.front_fused,
cut_front, bridge_fused_gaps)."""

import numpy as np

from spinequant.segmentation.compartment import (
    ANTERIOR_REACH_MM,
    bridge_fused_gaps,
    cut_front,
    front_fused,
)

SPACING = (1.0, 1.0, 4.0)
LAMINA_ROW = 20.0
BORDER_MM = 25.0  # the multifidus / erector spinae border expected from the facet
LATERAL_MM = np.arange(100, dtype=float)  # column = mm from the midline on this side


def trim_fused_front(mask, lateral_mm, lamina_row, border_mm, spacing, overhang_reach_mm=None):
    """What one slice does on its own: cut the front where its own test finds it fused."""
    if front_fused(mask, lateral_mm, lamina_row, border_mm, spacing, overhang_reach_mm):
        return cut_front(mask, lateral_mm, lamina_row, border_mm, spacing)
    return mask


def _compartment(front_row: int) -> np.ndarray:
    mask = np.zeros((80, 100), bool)
    mask[front_row:65, 4:85] = True  # lean from the front row to the back, out to 84 mm
    return mask


def test_a_front_stopped_by_the_arch_limit_is_cut_along_the_line_to_the_lateral_tip():
    limit = int(np.ceil(LAMINA_ROW - ANTERIOR_REACH_MM))
    fused = _compartment(limit)
    out = trim_fused_front(fused, LATERAL_MM, LAMINA_ROW, BORDER_MM, SPACING)
    assert (out[:, :26] == fused[:, :26]).all()  # the multifidus side is untouched
    assert not out[limit + 2, 70] and not out[limit + 10, 80]  # the fused band in front is gone
    tip_mid = (limit + 64) / 2
    assert out[int(tip_mid) + 2, 83] and out[60, 50]  # the muscle behind the line stays
    assert not (out & ~fused).any()


def test_a_front_bounded_by_its_own_fascia_is_left_alone():
    bounded = _compartment(int(LAMINA_ROW) + 4)  # a fat plane stopped it behind the limit
    out = trim_fused_front(bounded, LATERAL_MM, LAMINA_ROW, BORDER_MM, SPACING)
    assert (out == bounded).all()
    narrow = _compartment(int(LAMINA_ROW) + 4)
    narrow[10:16, 26:30] = True  # a few millimetres at the limit are not a fused band
    assert (trim_fused_front(narrow, LATERAL_MM, LAMINA_ROW, BORDER_MM, SPACING) == narrow).all()
    assert not trim_fused_front(np.zeros((80, 100), bool), LATERAL_MM, LAMINA_ROW, BORDER_MM, SPACING).any()


def test_fused_tissue_reaching_beyond_the_muscles_lateral_tip_is_cut():
    limit = int(np.ceil(LAMINA_ROW - ANTERIOR_REACH_MM))
    fused = _compartment(limit)
    fused[limit : limit + 12, 85:96] = True  # a lean band in front, further out than the muscle (quadratus)
    out = trim_fused_front(fused, LATERAL_MM, LAMINA_ROW, BORDER_MM, SPACING)
    # the tip is read on the back half (out to 84 mm): the band beyond it goes at every depth
    assert not out[:, 87:].any()
    assert out[60, 84] and out[60, 50]  # the muscle's own tip and body stay


def test_single_image_a_front_overhanging_the_lateral_tip_near_the_limit_is_fused():
    # one image: the fascia in front of the erector spinae seldom shows, so fused tissue may stop a
    # few millimetres behind the arch limit; its sign is a front reaching beyond the muscle's tip
    front = int(LAMINA_ROW) + 2  # 7 mm behind the limit (15)
    overhanging = _compartment(front)
    overhanging[front : front + 12, 85:96] = True
    dixon = trim_fused_front(overhanging, LATERAL_MM, LAMINA_ROW, BORDER_MM, SPACING)
    assert (dixon == overhanging).all()  # the measured fat fraction's plane stopped it: left alone
    alone = trim_fused_front(overhanging, LATERAL_MM, LAMINA_ROW, BORDER_MM, SPACING, overhang_reach_mm=8.0)
    assert not alone[:, 87:].any() and not alone[front + 2, 70]
    assert alone[60, 84] and alone[60, 50]
    flush = _compartment(front)  # the same front without an overhang: a muscle's own front
    assert (trim_fused_front(flush, LATERAL_MM, LAMINA_ROW, BORDER_MM, SPACING, overhang_reach_mm=8.0) == flush).all()


def test_a_fused_front_is_bridged_over_slices_that_missed_it():
    # 4 mm slices: a run of up to 16 mm (4 slices) between slices that found the front fused is fused
    found = np.zeros(14, bool)
    found[[1, 6, 12]] = True
    bridged = bridge_fused_gaps(found, 4.0)
    assert bridged[1:7].all()  # four slices between slices 1 and 6
    assert not bridged[7:12].any()  # five slices: too long a gap
    assert not bridged[0] and not bridged[13]  # never beyond the first and the last that found it
    thin = np.zeros(12, bool)  # the gap is reckoned in mm: eight 2 mm slices are bridged, nine are not
    thin[[0, 9]] = True
    assert bridge_fused_gaps(thin, 2.0)[:10].all()
    thin[9], thin[10] = False, True
    assert not bridge_fused_gaps(thin, 2.0)[1:10].any()


def test_a_bridged_slice_is_cut_along_the_same_line_as_its_neighbours():
    front = int(LAMINA_ROW) + 2  # this slice's own front stopped 7 mm behind the arch limit
    bounded = _compartment(front)
    assert not front_fused(bounded, LATERAL_MM, LAMINA_ROW, BORDER_MM, SPACING)
    out = cut_front(bounded, LATERAL_MM, LAMINA_ROW, BORDER_MM, SPACING)
    assert not out[30, 80] and out[50, 80]  # in front of the line to the tip's mid-depth: cut
    assert out[front, 30] and (out[:, :26] == bounded[:, :26]).all()  # the front near the border stays
    assert not (out & ~bounded).any()
