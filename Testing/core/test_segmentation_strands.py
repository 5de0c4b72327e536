"""Thin strands removed from the back muscles' outlines (strands.remove_thin_strands)."""

import numpy as np

from spinequant.segmentation.strands import disk_mm, remove_thin_strands


def _belly_with_strand(pixel_mm: float, strand_mm: float):
    """One slice: a 24 mm disk (multifidus, 1) with a strand `strand_mm` wide and 12 mm long running
    from it towards the midline, and an erector spinae block (3) beside it. Returns the labels, the
    belly and the strand beyond its root."""
    size = int(round(80 / pixel_mm))
    rows, columns = np.mgrid[0:size, 0:size] * pixel_mm
    labels = np.zeros((1, size, size), np.uint8)
    belly = (rows - 40) ** 2 + (columns - 40) ** 2 <= 12**2
    strand = (np.abs(rows - 40) < strand_mm / 2) & (columns >= 16) & (columns < 30)
    labels[0][belly | strand] = 1
    labels[0][(rows >= 25) & (rows < 55) & (columns >= 54) & (columns < 75)] = 3
    # the strand's root (within a disk radius of the belly's edge at 28 mm) may stay with the belly
    return labels, belly, strand & (columns < 25)


def test_a_strand_narrower_than_the_disk_is_removed_and_the_belly_kept():
    for pixel_mm in (0.8, 1.0, 1.6):
        labels, belly, strand = _belly_with_strand(pixel_mm, strand_mm=3.0)
        erector = labels == 3
        out = remove_thin_strands(labels.copy(), [1, 3], (pixel_mm, pixel_mm, 4.0))
        assert not (out[0][strand] == 1).any(), pixel_mm
        kept = (out[0] == 1) & belly
        assert kept.sum() >= 0.97 * belly.sum(), pixel_mm  # a disk's outline bends gently: kept
        assert (out == 3).sum() >= 0.95 * erector.sum()  # the block loses only its corners


def test_a_part_wider_than_the_disk_stays():
    labels, belly, strand = _belly_with_strand(1.0, strand_mm=9.0)
    out = remove_thin_strands(labels.copy(), [1], (1.0, 1.0, 4.0))
    assert (out[0][strand] == 1).mean() > 0.85  # only its free end's corners go


def test_labels_outside_the_values_and_removed_voxels_go_to_background_only():
    labels, _, strand = _belly_with_strand(1.0, strand_mm=3.0)
    labels[0, :5, :5] = 5  # a psoas voxel block: not a back muscle here
    out = remove_thin_strands(labels.copy(), [1, 3], (1.0, 1.0, 4.0))
    assert (out[0, :5, :5] == 5).all()
    assert set(np.unique(out[0][strand])) == {0}


def test_the_disk_is_round_in_millimetres_on_anisotropic_pixels():
    disk = disk_mm(3.0, (0.5, 1.5))  # columns 0.5 mm, rows 1.5 mm
    assert disk.shape == (5, 13)  # 2 rows and 6 columns either side of the centre
    assert disk[2].all() and disk[:, 6].all()
    assert not disk[0, 0]
