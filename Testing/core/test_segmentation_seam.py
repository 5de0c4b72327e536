"""The multifidus / erector spinae seam (boundary.py): on the fat plane, not on its flank."""

import numpy as np

from spinequant.segmentation import boundary, split

SPACING = (1.25, 1.25, 4.0)


def _plane_relief(rows=20, columns=30, plane_column=18):
    """Relief of a 1-voxel fat plane with partial-volume flanks that still read as a clear plane."""
    relief = np.zeros((rows, columns), np.float32)
    relief[:, plane_column] = 0.6
    relief[:, plane_column - 1] = relief[:, plane_column + 1] = 0.2
    return relief


def _medial_of_seam(mask, relief, lateral_mm, covered_back=None):
    """The multifidus part of the compartment: medial of the optimal seam (facet reach 16 mm)."""
    line = boundary.seam_line(mask, relief, lateral_mm, 16.0, SPACING, covered_back)
    return split.cut_at(mask, line, lateral_mm)[0]


def test_a_seam_on_the_planes_flank_moves_to_its_fattest_column():
    relief = _plane_relief()
    seam = np.full(relief.shape[0], 17)
    assert (boundary.snap_to_plane(seam, relief, SPACING) == 18).all()


def test_without_a_clear_plane_the_seam_stays_where_the_prior_put_it():
    relief = _plane_relief() * 0.2  # peak 0.12 < PLANE_FULL
    seam = np.full(relief.shape[0], 16)
    assert (boundary.snap_to_plane(seam, relief, SPACING) == 16).all()


def test_a_plane_beyond_the_snap_reach_does_not_pull_the_seam():
    relief = _plane_relief(plane_column=25)
    seam = np.full(relief.shape[0], 18)  # 7 columns = 8.75 mm away
    assert (boundary.snap_to_plane(seam, relief, SPACING) == 18).all()


def test_the_split_puts_the_plane_column_outside_the_multifidus_and_its_medial_neighbour_inside():
    rows, columns = 24, 40
    mask = np.zeros((rows, columns), bool)
    mask[2:22, 3:37] = True
    lateral_mm = (np.arange(columns) - 0.0) * SPACING[0]
    relief = np.zeros(mask.shape, np.float32)
    relief[:, 24] = 0.6  # plane at 30 mm; the facet prior (1.7 x 16 mm = 27 mm) pulls medially
    relief[:, 23] = relief[:, 25] = 0.2
    multifidus = _medial_of_seam(mask, relief, lateral_mm)
    assert multifidus[2:22, 23].all() and not multifidus[:, 24].any()


def test_the_expected_line_is_straight_at_open_levels_and_reaches_the_midline_at_a_covered_multifidus_back():
    rows_mm = np.arange(0.0, 41.0)
    straight = boundary.expected_line(rows_mm, 24.0, None)
    assert (straight == 24.0).all()
    oval = boundary.expected_line(rows_mm, 24.0, 40.0)
    assert oval[0] == 24.0 and oval[-1] == 0.0
    assert (np.diff(oval) < 0).all()
    assert oval[20] > 0.8 * 24.0  # an oval: still wide at mid-depth


def test_without_a_plane_a_narrowing_multifidus_leaves_the_back_lateral_corner_to_the_erector_spinae():
    rows, columns = 32, 40
    mask = np.zeros((rows, columns), bool)
    mask[0:30, 2:38] = True
    lateral_mm = np.arange(columns) * SPACING[0]
    relief = np.zeros(mask.shape, np.float32)
    straight = _medial_of_seam(mask, relief, lateral_mm)
    narrowing = _medial_of_seam(mask, relief, lateral_mm, covered_back=40)
    ends_early = _medial_of_seam(mask, relief, lateral_mm, covered_back=20)
    assert (ends_early[22:].sum(axis=1) <= 1).all()  # the oval closes at the multifidus's back
    # the seam is the first erector spinae column: at the lamina it sits on the level's facet line
    seam_mm = [lateral_mm[np.nonzero(m[0])[0].max() + 1] for m in (straight, narrowing)]
    assert abs(seam_mm[0] - boundary.FACET_SCALE * 16.0) <= SPACING[0]
    assert abs(seam_mm[1] - boundary.COVERED_FACET_SCALE * 16.0) <= SPACING[0]
    assert narrowing[25:].sum() < 0.6 * straight[25:].sum()  # >1 cm narrower at the back
