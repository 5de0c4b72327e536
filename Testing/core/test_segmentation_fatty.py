"""A severely fatty multifidus: recovered where its groove is fat, with the lean islands of the
nearby slices (fatty.recover_multifidus, fatty.multifidus_reach), and the erector spinae's lean
tissue given back (fatty.return_erector_lean)."""

import numpy as np

from spinequant.segmentation.fatty import (
    BORDER_MARGIN_MM,
    multifidus_reach,
    recover_multifidus,
    return_erector_lean,
)

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


def _wide_groove(wide: int = 140):
    """_groove(0.5) on a back `wide` columns wide (fat beyond column 60), room for a long lean sheet."""
    multifidus, erector, fat_fraction, _, allowed, _, truth = _groove(0.5)
    pad = ((0, 0), (0, wide - 60))
    fat_fraction = np.pad(fat_fraction, pad, constant_values=0.9)
    allowed = np.pad(allowed, pad, mode="edge")
    multifidus, erector, truth = (np.pad(mask, pad) for mask in (multifidus, erector, truth))
    return multifidus, erector, fat_fraction, allowed, (np.arange(wide) - MIDLINE) * SPACING[0], truth


SEAM_MM = np.full(60, 19.0)  # the seam runs in the plane between the muscles (column 39)
BORDER_MM = 15.0  # the anatomical border: islands may lie up to 18 mm lateral (column 37)


def _recovered(multifidus, erector, fat_fraction, allowed, lateral_mm, nearby_lean=None):
    reach = None if nearby_lean is None else multifidus_reach(SEAM_MM, BORDER_MM)
    recovered, _ = recover_multifidus(
        multifidus, erector, fat_fraction, allowed, lateral_mm, LAMINA_ROW, SPACING, nearby_lean, reach
    )
    return recovered


def test_the_islands_of_nearby_slices_bring_back_a_fat_patch_on_the_border():
    # the patch is fat on this slice only: the slices around it have lean muscle there
    multifidus, erector, fat_fraction, _, allowed, lateral_mm, truth = _groove(0.5)
    own_only = _recovered(multifidus, erector, fat_fraction, allowed, lateral_mm)
    assert not own_only[14:30, 33:38].all()  # this slice's islands leave part of the patch out
    nearby_lean = fat_fraction < 0.5
    nearby_lean[14:30, 33:38] = True
    with_nearby = _recovered(multifidus, erector, fat_fraction, allowed, lateral_mm, nearby_lean)
    assert with_nearby[14:30, 33:38].all()
    assert (with_nearby == truth).all()  # nothing beyond the muscle's own outline


def test_nearby_islands_lateral_of_the_reach_stay_out():
    # the split left the fatty multifidus nothing, and the erector spinae has a fat patch on its medial
    # side on this slice (lean on the slices around it), so the seam ran along its lean edge: the
    # multifidus is recovered from its groove without taking the erector spinae's patch
    _, erector, fat_fraction, _, allowed, lateral_mm, truth = _groove(0.5)
    patch = np.zeros_like(erector)
    patch[14:38, 40:44] = True
    erector &= ~patch
    fat_fraction[patch] = 0.9
    nearby_lean = fat_fraction < 0.5
    nearby_lean[patch] = True
    seam_mm = np.full(60, 23.0)  # along the erector spinae's lean edge (column 43)
    reach = multifidus_reach(seam_mm, BORDER_MM)
    empty = np.zeros_like(truth)
    args = (fat_fraction, allowed, lateral_mm, LAMINA_ROW, SPACING, nearby_lean, reach)
    recovered, _ = recover_multifidus(empty, erector, *args)
    assert recovered[truth & (fat_fraction < 0.5)].mean() > 0.9
    assert not recovered[patch].any()


def test_nearby_lean_behind_the_compartment_stays_out():
    # behind the muscles, the nearby slices' lean voxels are fascia, skin or the sacrum
    multifidus, erector, fat_fraction, _, allowed, lateral_mm, truth = _groove(0.5)
    nearby_lean = fat_fraction < 0.5
    nearby_lean[45:50, 25:38] = True  # just behind the erector spinae's back (row 44)
    recovered = _recovered(multifidus, erector, fat_fraction, allowed, lateral_mm, nearby_lean)
    assert not recovered[45:].any()
    assert recovered[truth & (fat_fraction < 0.5)].all()


def test_the_reach_is_the_seam_no_further_than_a_margin_beyond_the_border():
    seam = np.array([10.0, 17.0, 30.0, np.nan])
    reach = multifidus_reach(seam, BORDER_MM)
    assert list(reach[:3]) == [10.0, 17.0, BORDER_MM + BORDER_MARGIN_MM]
    assert np.isnan(reach[3])  # rows without a seam: no islands


def test_a_lean_sheet_cut_short_by_the_reach_is_not_taken_as_an_island():
    # generic lean tissue running on far lateral in front of the muscles (not muscle): the reach cuts
    # a short piece of it, which would otherwise pass as an island of the multifidus
    multifidus, erector, fat_fraction, allowed, lateral_wide, truth = _wide_groove()
    nearby_lean = fat_fraction < 0.5
    nearby_lean[11:13, 25:] = True  # the sheet, in front of the erector spinae
    recovered = _recovered(multifidus, erector, fat_fraction, allowed, lateral_wide, nearby_lean)
    assert not recovered[11:13].any()
    assert recovered[truth & (fat_fraction < 0.5)].all()


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
    _, erector, fat_fraction, _, allowed, lateral_mm, truth = _groove(0.5)
    corner = np.zeros_like(truth)
    corner[12:20, 40:46] = True
    multifidus = truth | corner
    own_lean = truth & (fat_fraction < 0.5)
    given = (fat_fraction, allowed, lateral_mm, 18.0)  # the border just lateral of the multifidus
    out_multifidus, out_erector = return_erector_lean(multifidus, erector & ~corner, *given)
    assert not out_multifidus[corner].any() and out_erector[corner].all()
    assert out_multifidus[own_lean].all()
    # a lean multifidus (its plane against the erector spinae missed too) is left alone
    _, erector, fat_fraction, _, allowed, lateral_mm, truth = _groove(0.1)
    lean_multifidus = truth | corner
    same, _ = return_erector_lean(lean_multifidus, erector & ~corner, fat_fraction, allowed, lateral_mm, 18.0)
    assert (same == lean_multifidus).all()


def test_a_fatty_multifidus_keeps_its_lean_island_that_touches_the_erector_spinae_medial_of_its_border():
    # where the plane between the muscles is thin, an island of the multifidus's own lean tissue is
    # one piece with the erector spinae's lean body; medial of the multifidus's border it stays
    _, erector, fat_fraction, _, allowed, lateral_mm, truth = _groove(0.5)
    fat_fraction[30:34, 33:40] = 0.05  # a lean island of the multifidus, bridged to the erector spinae
    island = truth & (fat_fraction < 0.5)
    island[:30] = False
    touching_erector = erector.copy()
    touching_erector[30:34, 38:40] = True  # the bridge across the plane
    border_mm = 18.0  # column 38: just lateral of the multifidus
    out_multifidus, _ = return_erector_lean(truth, touching_erector, fat_fraction, allowed, lateral_mm, border_mm)
    assert out_multifidus[island].all()
    moved_border, _ = return_erector_lean(truth, touching_erector, fat_fraction, allowed, lateral_mm, 10.0)
    assert not moved_border[30:34, 33:38].any()  # lateral of a 10 mm border the same island goes back


def test_nearby_lean_is_taken_within_12_mm_and_where_each_slice_allows_muscle():
    from spinequant.segmentation.builtin import PreparedSide, _nearby_lean

    def side(allowed):
        return PreparedSide(allowed, allowed, np.zeros(4), 0.0, False, 0.0, 0.0, np.zeros_like(allowed))

    fat_fraction = np.full((6, 4, 4), 0.9, np.float32)
    fat_fraction[:, 0, 0] = 0.05  # lean on every slice, allowed on slice 1 only
    fat_fraction[4, 2, 2] = 0.05  # lean on slice 4 (16 mm from slice 0 at 4 mm slices)
    fat_fraction[3, 3, 3] = 0.05  # lean on slice 3 (12 mm)
    everywhere, not_corner = np.ones((4, 4), bool), np.ones((4, 4), bool)
    not_corner[0, 0] = False
    prepared = {(k, 0): side(everywhere if k == 1 else not_corner) for k in range(6)}
    prepared[2, 0] = None  # no lamina found there
    nearby = _nearby_lean(prepared, fat_fraction, 4.0)
    assert nearby[0, 0][0, 0]  # from slice 1, where it is allowed
    assert nearby[0, 0][3, 3] and not nearby[0, 0][2, 2]  # 12 mm away yes, 16 mm no
    assert not nearby[5, 0][0, 0]  # slices 2-5 do not allow it, slice 1 is 16 mm away
    assert (2, 0) not in nearby


def test_bone_and_ligament_that_read_lean_are_not_islands_of_a_fatty_multifidus():
    # a water image shows the tissue between the lamina and the muscle, and along the spinous process,
    # as water-poor (ligament, capsule): lean on the fat fraction, linked to the islands, not muscle
    multifidus, erector, fat_fraction, _, allowed, lateral_mm, truth = _groove(0.5)
    ligament = np.zeros_like(truth)
    ligament[11:14, 24:38] = True  # in front of the muscle, behind the lamina
    ligament[14:38, 23:25] = True  # along the spinous process
    fat_fraction[ligament] = 0.3
    args = (fat_fraction, allowed, lateral_mm, LAMINA_ROW, SPACING)
    taken, _ = recover_multifidus(multifidus, erector, *args)
    assert taken[ligament].mean() > 0.5  # read as lean islands without the water image's word
    recovered, _ = recover_multifidus(multifidus, erector, *args, not_muscle=ligament)
    assert not recovered[ligament].any()
    assert recovered[truth & (fat_fraction < 0.5)].all()


def test_a_lean_sheet_that_bone_and_ligament_cut_is_still_a_sheet_not_an_island():
    # a lean sheet in front of the muscles runs on far lateral; ligament by the lamina cuts it, which
    # leaves a short piece near the multifidus: judged on the whole sheet, that piece stays out
    multifidus, erector, fat_fraction, allowed, lateral_wide, truth = _wide_groove()
    fat_fraction[11:13, 25:] = 0.05  # the sheet
    ligament = np.zeros_like(allowed)
    ligament[11:13, 38:40] = True
    args = (fat_fraction, allowed, lateral_wide, LAMINA_ROW, SPACING)
    recovered, _ = recover_multifidus(multifidus, erector, *args, not_muscle=ligament)
    assert not recovered[11:13].any()
    assert recovered[truth & (fat_fraction < 0.5)].all()
