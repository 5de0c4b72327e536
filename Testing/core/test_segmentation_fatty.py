"""A severely fatty multifidus: recovered where its groove is fat (fatty.recover_multifidus), the
erector spinae's lean tissue given back (fatty.return_erector_lean) and widened to the erector spinae
(fatty.fill_groove)."""

import numpy as np

from spinequant.segmentation.fatty import GROOVE_PLANE_MM, fill_groove, recover_multifidus, return_erector_lean

SPACING = (1.0, 1.0, 4.0)
MIDLINE = 20
LAMINA_ROW = 10.0


def _groove(marbling: float):
    """Left side of a back: lamina and spinous process (bone) at the midline, a lean erector spinae
    from column 40, and between them (a 2 mm fat plane from each) a multifidus whose upper lateral
    part is a fat patch merged with the plane beside it. `marbling`: share of fat in the rest."""
    lateral_mm = (np.arange(60) - MIDLINE) * SPACING[0]
    fat_fraction = np.full((60, 60), 0.9, np.float32)
    dark = np.zeros((60, 60), bool)
    dark[8:11, 10:45] = True  # lamina
    dark[8:40, 18:23] = True  # spinous process
    erector = np.zeros_like(dark)
    erector[12:45, 40:58] = True
    fat_fraction[erector] = 0.05
    truth = np.zeros_like(dark)
    truth[14:38, 25:38] = True
    fat_fraction[truth] = 0.05
    fat_fraction[truth & (np.random.default_rng(0).random(truth.shape) < marbling)] = 0.9
    fat_fraction[14:30, 33:38] = 0.9  # the border patch
    multifidus = truth.copy()
    multifidus[14:30, 33:38] = False  # what the envelope of the lean islands leaves out
    allowed = ~dark & (np.arange(60) >= LAMINA_ROW - 5)[:, None] & (lateral_mm > 3)[None, :]
    return multifidus, erector, fat_fraction, dark, allowed, lateral_mm, truth


def test_a_severely_fatty_multifidus_is_widened_to_a_plane_short_of_the_erector_spinae():
    multifidus, erector, fat_fraction, dark, allowed, lateral_mm, truth = _groove(0.5)
    widened = fill_groove(multifidus, erector, fat_fraction, dark, allowed, lateral_mm, LAMINA_ROW, SPACING)
    assert widened[14:30, 33:38].all()  # the border patch comes back
    lateral = np.broadcast_to(lateral_mm[None, :], widened.shape)
    assert lateral[widened].max() <= 20 - GROOVE_PLANE_MM  # a plane short of the erector spinae
    assert lateral[widened].min() > 2 + GROOVE_PLANE_MM  # and of the spinous process
    assert not widened[:14].any() and not widened[38:].any()  # only within its own rows
    assert (widened == truth).all()


def test_a_mostly_lean_multifidus_keeps_its_outline():
    multifidus, erector, fat_fraction, dark, allowed, lateral_mm, _ = _groove(0.1)
    same = fill_groove(multifidus, erector, fat_fraction, dark, allowed, lateral_mm, LAMINA_ROW, SPACING)
    assert (same == multifidus).all()


def test_lean_tissue_in_the_groove_is_left_to_the_erector_spinae():
    # a lean piece beside a fatty multifidus is erector spinae that the seam did not give back
    multifidus, erector, fat_fraction, dark, allowed, lateral_mm, _ = _groove(0.5)
    fat_fraction[14:20, 35:38] = 0.05
    widened = fill_groove(multifidus, erector, fat_fraction, dark, allowed, lateral_mm, LAMINA_ROW, SPACING)
    assert not widened[14:20, 35:38].any()
    assert widened[20:30, 33:38].all()


def test_a_lean_piece_of_a_fatty_groove_is_recovered_as_a_fatty_multifidus():
    # the split gave the multifidus only a lean island of its groove: lean inside its own outline,
    # but the laminar groove around it is fat, so the muscle is a fatty one and is recovered
    _, erector, fat_fraction, dark, allowed, lateral_mm, truth = _groove(0.0)
    fat_fraction[truth] = 0.9
    fat_fraction[16:22, 26:31] = 0.05  # the lean island
    fat_fraction[26:30, 27:30] = 0.05  # another, 4 mm away
    piece = np.zeros_like(truth)
    piece[16:22, 26:31] = True
    multifidus, _ = recover_multifidus(piece, erector, fat_fraction, allowed, lateral_mm, LAMINA_ROW, SPACING)
    assert multifidus[26:30, 27:30].all()  # the linked island joins it
    assert multifidus.sum() > 1.5 * piece.sum() and not (multifidus & erector).any()


def test_a_corner_of_the_lean_erector_spinae_goes_back_from_a_fatty_multifidus():
    # with no plane to follow, the seam gave a severely fatty multifidus a corner of the lean erector
    # spinae; that corner is one lean piece with the erector spinae and goes back to it, while the
    # multifidus's own lean islands (behind the fat plane between the muscles) stay
    _, erector, fat_fraction, _, allowed, _, truth = _groove(0.5)
    corner = np.zeros_like(truth)
    corner[12:20, 40:46] = True
    multifidus = truth | corner
    own_lean = truth & (fat_fraction < 0.5)
    out_multifidus, out_erector = return_erector_lean(multifidus, erector & ~corner, fat_fraction, allowed)
    assert not out_multifidus[corner].any() and out_erector[corner].all()
    assert out_multifidus[own_lean].all()
    # a lean multifidus (its plane against the erector spinae missed too) is left alone
    _, erector, fat_fraction, _, allowed, _, truth = _groove(0.1)
    lean_multifidus = truth | corner
    same, _ = return_erector_lean(lean_multifidus, erector & ~corner, fat_fraction, allowed)
    assert (same == lean_multifidus).all()
