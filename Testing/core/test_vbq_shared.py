"""VBQ on real sagittal MRI (skips when ../shared is absent)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage import morphology

from shared_data import shared_case
from spinequant.imageio import read_volume
from spinequant.vbq import measure_vbq
from spinequant.vbq.view import SagittalView

CODES = {"T10": 17, "T11": 18, "T12": 19, "L1": 20, "L2": 21, "L3": 22, "L4": 23, "L5": 24, "S1": 26}


def _run(folder, case):
    path = shared_case(folder, case)
    volume = read_volume(str(path / "image.nii.gz"), plane="sagittal")
    labels = read_volume(str(path / "labels.nii.gz")).array
    result = measure_vbq(volume)
    label_view = SagittalView.of(volume.with_array(labels)).slice_image(result.slice_index).round().astype(int)
    return result, label_view


T1_CASES = ["VB1_10_DzZ_T1", "VB1_06_AKs6"]  # VB1_06: patchy marrow, L2 as dark as its discs


@pytest.mark.shared
@pytest.mark.parametrize("case", T1_CASES)
def test_t1_rois_inside_the_right_bodies(case):
    result, label_view = _run("sagittal_t1", case)
    for level in ("L1", "L2", "L3", "L4"):
        inside = float((label_view[result.view_rois[level]] == CODES[level]).mean())
        assert inside >= 0.95, (level, inside)
    assert result.csf_level == "L3"
    assert "invalid" not in result.category
    assert result.levels_used == ["L1", "L2", "L3", "L4"], result.excluded


@pytest.mark.shared
@pytest.mark.parametrize("case", T1_CASES)
def test_t1_numerator_matches_the_expert_bodies(case):
    """Median of the L1-L4 ROI means within 5 % of the median of the means of the expert masks eroded by
    2 mm on the same slice."""
    result, label_view = _run("sagittal_t1", case)
    means = [
        float(result.view_image[ndi.binary_erosion(label_view == CODES[level], morphology.disk(2))].mean())
        for level in ("L1", "L2", "L3", "L4")
    ]
    assert abs(result.numerator / float(np.median(means)) - 1) < 0.05


@pytest.mark.shared
@pytest.mark.parametrize("case", T1_CASES)
def test_t1_csf_roi_lies_in_the_canal_behind_l3(case):
    """The CSF ROI lies behind the expert L3 body, at its height, within the canal's depth (2-25 mm), and
    is darker than the marrow (CSF is dark on T1)."""
    result, label_view = _run("sagittal_t1", case)
    rows, cols = np.nonzero(label_view == CODES["L3"])
    csf_rows, csf_cols = np.nonzero(result.view_rois["CSF"])
    assert rows.min() <= csf_rows.mean() <= rows.max()
    wall = cols[np.abs(rows - csf_rows.mean()) <= 3].max()
    assert 2 <= csf_cols.mean() - wall <= 25
    assert not (label_view[result.view_rois["CSF"]] > 0).any()
    assert result.csf_signal < 0.7 * result.numerator


LABELLED_CASES = [
    ("sagittal_t1", "VB1_10_DzZ_T1"),
    ("sagittal_other", "VB1_11_DzZ_T2"),
    ("sagittal_other", "VB1_07_AKs7"),
    ("sagittal_other", "VB2_02"),
    ("sagittal_other", "VB2_05"),
    ("sagittal_other", "VB3_01"),
    ("sagittal_other", "VB3_10"),
    ("sagittal_t1", "VB1_06_AKs6"),
]


@pytest.mark.shared
@pytest.mark.parametrize("folder,case", LABELLED_CASES)
def test_levels_labelled(folder, case):
    """Every detected L1..L5 centre lies in the expert mask of that level (images start at T10, T11 or L1)."""
    result, label_view = _run(folder, case)
    for level in ("L1", "L2", "L3", "L4", "L5"):
        row, col = result.view_centres[level]
        assert label_view[row, col] == CODES[level], level


@pytest.mark.shared
@pytest.mark.parametrize("folder,case", LABELLED_CASES)
def test_midsagittal_slice_near_the_bodies_centre(folder, case):
    """The chosen slice lies within 6 mm of the left-right centre of the expert body masks."""
    path = shared_case(folder, case)
    volume = read_volume(str(path / "image.nii.gz"), plane="sagittal")
    labels = read_volume(str(path / "labels.nii.gz")).array
    result = measure_vbq(volume)
    centre = float(np.nonzero(labels)[0].mean())
    assert abs(result.slice_index - centre) * volume.spacing[2] <= 6.0


@pytest.mark.shared
@pytest.mark.parametrize(
    "folder,case",
    [("sagittal_t1", "VB1_10_DzZ_T1"), ("sagittal_other", "VB1_11_DzZ_T2"), ("sagittal_other", "VB1_07_AKs7")],
)
def test_s1_found_and_levels_counted_up_from_it(folder, case):
    """S1 is labelled on these cases: the sacrum search must land in it and raise the confidence."""
    result, label_view = _run(folder, case)
    assert result.sacrum_found
    assert result.labelling_confidence >= 0.9
    row, col = result.view_centres["S1"]
    assert label_view[row, col] == CODES["S1"]
    assert not any("sacrum not identified" in w for w in result.warnings)


@pytest.mark.shared
@pytest.mark.parametrize("case", ["VB1_07_AKs7", "VB1_11_DzZ_T2"])
def test_non_t1_input_is_flagged(case):
    result, _ = _run("sagittal_other", case)
    assert result.category.startswith("invalid")
    assert any("not T1-weighted" in w for w in result.warnings)
    assert np.isfinite(result.vbq)
