"""The erector spinae's rim given back after the fat-plane filter (compartment.restore_rim)."""

import numpy as np

from spinequant.segmentation.compartment import RIM_MM, lean_tissue, restore_rim

PIXEL = 1.0


def _slice_with_fascia():
    """Lean muscle (columns < 20), a 1-px fascia of fat at column 20, lean tissue beyond (quadratus)."""
    fat_fraction = np.full((1, 30, 40), 0.05, np.float32)
    fat_fraction[:, :, 20] = 0.95
    return fat_fraction


def test_the_fat_plane_filter_takes_the_muscle_edge_and_the_rim_gives_it_back():
    fat_fraction = _slice_with_fascia()
    body = np.ones(fat_fraction.shape, bool)
    lean = lean_tissue(fat_fraction, np.zeros_like(body), body, (PIXEL, PIXEL, 4.0))[0]
    assert not lean[10, 19]  # the muscle's own outermost column went with the plane
    muscle = lean & (np.arange(40) < 20)[None, :]
    watery = fat_fraction[0] < 0.5
    restored = restore_rim(muscle, watery, PIXEL)
    assert restored[5:25, 19].all()  # edge back
    assert not restored[:, 20:].any()  # never across the fascia into the neighbour


def test_the_rim_grows_no_further_than_its_width():
    muscle = np.zeros((40, 40), bool)
    muscle[15:25, 15:25] = True
    restored = restore_rim(muscle, np.ones_like(muscle), PIXEL)
    added_rows = np.nonzero(restored[:, 20])[0]
    assert added_rows.min() == 15 - int(RIM_MM / PIXEL)
    assert added_rows.max() == 24 + int(RIM_MM / PIXEL)
    assert restore_rim(np.zeros_like(muscle), np.ones_like(muscle), PIXEL).sum() == 0
