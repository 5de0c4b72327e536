"""Where marbling fat hides the plane between multifidus and erector spinae, the seam follows where the
neighbouring slices saw it on the plane (boundary.seam_on_planes, split.seen_lines)."""

import numpy as np

from spinequant.segmentation import boundary, split

SPACING = (1.25, 1.25, 4.0)
ROWS, COLUMNS = 24, 40
LATERAL_MM = np.arange(COLUMNS) * SPACING[0]
FACET_MM = 16.0  # the anatomical line at the open levels: 1.7 x 16 = 27.2 mm (column ~22)


def _compartment():
    mask = np.zeros((ROWS, COLUMNS), bool)
    mask[2:22, 3:37] = True
    return mask


def _fat_fraction(plane_column=None, rows=slice(None)):
    """Lean compartment (5 % fat) with a 1-voxel fat plane on the given rows."""
    fat_fraction = np.full((ROWS, COLUMNS), 0.05, np.float32)
    if plane_column is not None:
        fat_fraction[rows, plane_column] = 0.9
    return fat_fraction


def _seam_mm(multifidus):
    """The first erector spinae column of each compartment row, in lateral mm."""
    return np.array([LATERAL_MM[np.nonzero(row)[0].max() + 1] for row in multifidus[2:22]])


def _seam_on_planes(mask, fat_fraction):
    relief = split.plane_relief(mask, fat_fraction, SPACING)
    return boundary.seam_on_planes(mask, relief, LATERAL_MM, FACET_MM, SPACING)


def test_a_slice_reports_the_seam_only_on_the_rows_where_a_plane_holds_it():
    mask = _compartment()
    seen = _seam_on_planes(mask, _fat_fraction(26, slice(2, 12)))
    assert np.allclose(seen[3:11], LATERAL_MM[26])  # the plane column is the first erector spinae one
    assert np.isnan(seen[:2]).all() and np.isnan(seen[16:]).all()  # (the relief is smoothed along rows)
    hidden = _seam_on_planes(mask, _fat_fraction())
    assert np.isnan(hidden).all()


def test_seen_lines_take_the_median_of_at_least_two_slices_within_12_mm():
    on_planes = np.full((9, 5), np.nan)
    on_planes[0, 0] = 30.0
    on_planes[2, 0] = 32.0
    on_planes[3, 0] = 40.0
    on_planes[8, 1] = 30.0  # seen on one slice only
    lines = split.seen_lines(on_planes, SPACING[2])  # 12 mm = 3 slices either side
    assert lines[0, 0] == 32.0 and lines[1, 0] == 32.0  # median of 30, 32, 40
    assert lines[5, 0] == 36.0  # slices 2 and 3 within reach, 0 not
    assert np.isnan(lines[7, 0])  # slice 3 is 4 slices away: none within reach
    assert np.isnan(lines[:, 1]).all() and np.isnan(lines[:, 2:]).all()
    thick = split.seen_lines(on_planes, 6.0)  # 12 mm = 2 slices of 6 mm
    assert np.isnan(thick[5, 0])  # only slice 3 lies within 2 slices of slice 5


def test_a_hidden_plane_follows_the_line_the_neighbours_saw_and_not_the_facet_line():
    mask = _compartment()
    hidden = _fat_fraction()  # marbling fat merged with the plane: nothing shows on this slice
    by_facet, _ = split.split_compartment(mask, hidden, LATERAL_MM, FACET_MM, SPACING)
    assert np.abs(_seam_mm(by_facet) - boundary.FACET_SCALE * FACET_MM).max() <= SPACING[0]
    seen_line = np.full(ROWS, LATERAL_MM[28])  # the neighbours saw the plane at 35 mm
    by_neighbours, _ = split.split_compartment(mask, hidden, LATERAL_MM, FACET_MM, SPACING, seen_line=seen_line)
    assert np.abs(_seam_mm(by_neighbours) - LATERAL_MM[28]).max() <= SPACING[0]


def test_a_plane_on_the_slice_itself_still_wins_over_the_neighbours_line():
    mask = _compartment()
    own_plane = _fat_fraction(24)
    seen_line = np.full(ROWS, LATERAL_MM[28])
    multifidus, _ = split.split_compartment(mask, own_plane, LATERAL_MM, FACET_MM, SPACING, seen_line=seen_line)
    assert (_seam_mm(multifidus) == LATERAL_MM[24]).all()


def test_at_a_covered_level_the_oval_line_stays():
    mask = _compartment()
    seen_line = np.full(ROWS, LATERAL_MM[30])
    covered = dict(covered_back=22)
    plain, _ = split.split_compartment(mask, _fat_fraction(), LATERAL_MM, FACET_MM, SPACING, **covered)
    seen, _ = split.split_compartment(
        mask, _fat_fraction(), LATERAL_MM, FACET_MM, SPACING, seen_line=seen_line, **covered
    )
    assert (plain == seen).all()
