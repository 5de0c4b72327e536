"""Compartment outline voted over neighbouring slices (compartment.consistent_outline)."""

import numpy as np

from spinequant.segmentation.compartment import consistent_outline

SPACING = (1.0, 1.0, 4.0)
PAIRS = [(1, 3)]


def _stack(n_slices=5):
    labels = np.zeros((n_slices, 40, 40), np.uint8)
    labels[:, 10:30, 5:15] = 1  # multifidus
    labels[:, 10:30, 15:35] = 3  # erector spinae
    return labels


def test_a_border_patch_lost_on_one_slice_comes_back_with_its_neighbours_label():
    labels = _stack()
    labels[2, 10:16, 28:35] = 0  # marbling fat merged with the fascia on this slice only
    out = consistent_outline(labels.copy(), PAIRS, np.ones(labels.shape, bool), SPACING)
    assert (out[2, 10:16, 28:35] == 3).all()
    assert (out == _stack()).all()


def test_a_blob_seen_on_one_slice_only_is_dropped_but_may_add_is_respected():
    labels = _stack()
    labels[2, 30:36, 15:25] = 3  # a lean vessel or neighbour muscle glued on one slice
    labels[2, 10:16, 28:35] = 0
    may_add = np.ones(labels.shape, bool)
    may_add[:, :, 30:] = False  # e.g. bone or the other side: never filled
    out = consistent_outline(labels.copy(), PAIRS, may_add, SPACING)
    assert not out[2, 30:36, 15:25].any()
    assert (out[2, 10:16, 28:30] == 3).all() and not out[2, 10:16, 30:35].any()


def test_a_slice_without_the_compartment_stays_empty():
    labels = _stack()
    labels[4] = 0  # e.g. the sacrum: no muscle found on the last slice
    out = consistent_outline(labels.copy(), PAIRS, np.ones(labels.shape, bool), SPACING)
    assert not out[4].any()
    assert (out[:4] == _stack()[:4]).all()


def test_a_restored_patch_takes_its_neighbours_label_not_the_nearest_one_on_its_slice():
    labels = _stack()
    labels[2, 24:30, 15:22] = 0  # an erector spinae patch lost right beside the multifidus
    labels[2, 10:24, 15:17] = 1  # ... where, on this slice, the seam also drifted laterally
    out = consistent_outline(labels.copy(), PAIRS, np.ones(labels.shape, bool), SPACING)
    # nearest-label filling would give the patch's medial columns to the multifidus
    assert (out[2, 24:30, 15:22] == 3).all()
