"""Compartment clean-ups: narrow border dents filled, the MF/ES fat plane left unlabelled, bone and ligament
by the posterior elements kept out (water/fat and one image)."""

import numpy as np

from spinequant.segmentation.compartment import DENT_CLOSING_MM, close_border_dents
from spinequant.segmentation.split import clear_fat_seam

PIXEL = 1.0


def _disc(shape, centre, radius):
    rows, columns = np.ogrid[: shape[0], : shape[1]]
    return (rows - centre[0]) ** 2 + (columns - centre[1]) ** 2 <= radius**2


def test_a_narrow_fat_dent_at_the_border_is_filled():
    muscle = _disc((80, 80), (40, 40), 25)
    dented = muscle & ~_disc((80, 80), (15, 40), 6)  # a 12 mm fat patch bitten out of the border
    out = close_border_dents(dented, np.ones_like(muscle), PIXEL)
    bite = muscle & ~dented
    assert (out & bite).sum() >= 0.5 * bite.sum()  # filled up to about the line joining its rims
    assert not (out & ~muscle).any()


def test_a_bay_wider_than_the_closing_stays_open_and_allowed_is_respected():
    muscle = _disc((120, 120), (60, 60), 45)
    bay = _disc((120, 120), (10, 60), int(3 * DENT_CLOSING_MM))  # ~5 cm wide: fat outside the fascia
    dented = muscle & ~bay
    out = close_border_dents(dented, np.ones_like(muscle), PIXEL)
    assert (out & bay & muscle).sum() < 0.2 * (bay & muscle).sum()
    small = muscle & ~_disc((120, 120), (15, 60), 6)
    forbidden = np.ones_like(muscle)
    forbidden[:25] = False
    assert not (close_border_dents(small, forbidden, PIXEL) & ~small)[:25].any()
    assert not close_border_dents(np.zeros_like(muscle), forbidden, PIXEL).any()


def test_fat_voxels_where_the_two_muscles_meet_are_given_back_lean_ones_stay():
    labels = np.zeros((1, 20, 30), np.uint8)
    labels[0, 5:15, 5:15] = 1
    labels[0, 5:15, 15:25] = 3
    fat_fraction = np.full(labels.shape, 0.05, np.float32)
    fat_fraction[0, 5:10, 14:16] = 0.9  # a fat plane along the upper half of the seam
    fat_fraction[0, 7, 20] = 0.9  # marbling inside the erector spinae, away from the seam
    out = clear_fat_seam(labels.copy(), [(1, 3)], fat_fraction)
    assert not out[0, 5:10, 14:16].any()
    assert (out[0, 10:15, 14] == 1).all() and (out[0, 10:15, 15] == 3).all()
    assert out[0, 7, 20] == 3


def test_water_poor_tissue_by_the_posterior_elements_is_not_multifidus():
    from spinequant.segmentation.compartment import bone_and_ligament

    shape = (40, 60)
    lateral_mm = np.arange(shape[1], dtype=float)  # column = mm from the midline (1 mm pixels)
    mask = np.zeros(shape, bool)
    mask[10:35, 3:55] = True
    water = np.full(shape, 300.0)
    fat_fraction = np.full(shape, 0.05)
    water[10:35, 3:7] = 150.0  # interspinous ligament: half the water, intermediate fat fraction
    fat_fraction[10:35, 3:7] = 0.3
    water[25:30, 8:12] = 30.0  # a marbling fat patch beside it: fat, so a dent-filling decision, kept
    fat_fraction[25:30, 8:12] = 0.9
    water[25:30, 45:50] = 150.0  # water-poor but far from the posterior elements: kept
    out = mask & ~bone_and_ligament(mask, water, fat_fraction, lateral_mm, lamina_row=5.0, spacing=(1.0, 1.0, 4.0))
    assert not out[10:35, 3:7].any()
    assert out[25:30, 8:12].all() and out[25:30, 45:50].all()
    assert (out[:, 7:] == mask[:, 7:]).all()
    few = np.zeros(shape, bool)
    few[0:2, 40:50] = True  # no multifidus to compare with: nothing is removed
    assert not bone_and_ligament(few, water, fat_fraction, lateral_mm, 5.0, (1.0, 1.0, 4.0)).any()


def test_on_one_fat_bright_image_tissue_darker_than_the_multifidus_by_the_spinous_process_is_bone():
    from spinequant.segmentation.compartment import DARK_ELEMENTS_SHARE, bone_and_ligament

    shape = (40, 60)
    lateral_mm = np.arange(shape[1], dtype=float)
    mask = np.zeros(shape, bool)
    mask[10:35, 3:55] = True
    signal = np.full(shape, 500.0)
    pseudo_fat_fraction = np.full(shape, 0.0)
    signal[10:35, 3:6] = 350.0  # ligament: 0.7 of the muscle, reads lean on the pseudo fat fraction
    signal[10:35, 6:9] = 425.0  # muscle shaded to 0.85: still muscle
    found = bone_and_ligament(mask, signal, pseudo_fat_fraction, lateral_mm, 5.0, (1.0, 1.0, 4.0), DARK_ELEMENTS_SHARE)
    assert found[10:35, 3:6].all() and not found[:, 6:].any()


def test_on_one_image_the_envelope_does_not_close_over_the_ligament_beside_the_spinous_process():
    from spinequant.segmentation import builtin, compartment
    from spinequant.segmentation.tissue import TissueMaps

    shape = (1, 80, 100)
    midline, lamina_row, spacing = 5.0, 15.0, (1.0, 1.0, 4.0)
    body = np.zeros(shape[1:], bool)
    body[1:-1, 1:-1] = True
    mask = np.zeros(shape[1:], bool)
    mask[25:60, 8:70] = True
    ligament = np.zeros(shape[1:], bool)
    ligament[33:50, 8:13] = True  # beside the spinous process, darker than muscle: not in the lean search
    mask &= ~ligament
    signal = np.full(shape, 500.0, np.float32)
    signal[0][ligament] = 300.0  # 0.6 of the muscle, above the dark-tissue share
    maps = TissueMaps(signal, np.zeros(shape, np.float32), np.zeros(shape, bool), from_dixon=False)
    side = builtin._prepare_side(mask, mask, body, maps, 0, midline, (lamina_row, 12.0), 1, spacing)
    _, lateral_mm = compartment.side_region(mask.shape, midline, 1, spacing[0])
    assert compartment.fatty_envelope(mask, body)[ligament].all()  # the envelope alone closes over it
    assert not side.mask[ligament].any() and side.posterior_elements[ligament].all()
    assert side.mask[mask & (lateral_mm > compartment.POSTERIOR_ELEMENTS_MM)[None, :]].all()
