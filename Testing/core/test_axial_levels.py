"""Vertebral levels of axial slices from a sagittal series (physical space) or from the axial stack alone."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from shared_data import SAGITTAL_CASES, axial_reference, shared_case
from spinequant.axial_levels import (
    UNVERIFIED_FLAG,
    body_level_agreement,
    levels_from_axial,
    levels_from_body_centres,
    levels_from_sagittal,
)
from spinequant.imageio import Volume, read_volume
from spinequant.levels import VERTEBRA_CODES, levels_from_vertebra_map
from spinequant.phantoms.axial import make_axial_phantom
from spinequant.phantoms.sagittal import make_sagittal_phantom

REAL_CASES = [tuple(case.split("/")) for case in SAGITTAL_CASES]


def axial_grid_through(sagittal: Volume, slice_mm: float = 4.0, resample: bool = False) -> Volume:
    """An axial stack covering the sagittal volume's extent (the image resampled onto it when asked)."""
    reference = axial_reference(sagittal, slice_mm)
    if resample:
        reference = sitk.Resample(sagittal.to_sitk(), reference, sitk.Transform(), sitk.sitkLinear, 0.0,
                                  sitk.sitkFloat32)
    return Volume.from_sitk(reference, "axial grid")


def label_centroids(labels: Volume) -> dict:
    array = labels.array
    matrix = labels.ijk_to_lps()
    centres = {}
    for code, name in VERTEBRA_CODES.items():
        kji = np.argwhere(array == code)
        if kji.size:
            centres[name] = (matrix @ np.append(kji.mean(axis=0)[::-1], 1.0))[:3]
    return centres


def test_sagittal_phantom_body_centres_map_onto_axial_slices():
    phantom = make_sagittal_phantom(slices=21)
    grid = axial_grid_through(phantom.volume)
    truth = levels_from_vertebra_map(phantom.labels, grid)
    found = levels_from_body_centres(grid, label_centroids(phantom.labels))
    agreement = body_level_agreement(found, truth)
    assert len(agreement) == 7 and all(agreement.values()), (found, truth)
    assert "L4-L5" in found and "L3-L4" in found


def test_sagittal_detection_is_either_right_or_flagged():
    """The VBQ detector names the bodies; a wrong count must never pass as verified."""
    phantom = make_sagittal_phantom(slices=21)
    grid = axial_grid_through(phantom.volume)
    truth = levels_from_vertebra_map(phantom.labels, grid)
    found = levels_from_sagittal(grid, phantom.volume)
    assert found.method == "sagittal" and found.slices
    agreement = body_level_agreement(found.slices, truth)
    assert all(agreement.values()) or found.flag == UNVERIFIED_FLAG, (found.slices, truth)


def test_axial_phantom_body_disc_pattern_and_unverified_flag():
    phantom = make_axial_phantom(n_slices=20)
    found = levels_from_axial(phantom.image)  # the phantom's slices run head to foot
    truth = phantom.level_slices
    for level in ("L3", "L4"):
        overlap = set(found.slices.get(level, [])) & set(truth[level])
        assert len(overlap) >= len(truth[level]) - 1, (found.slices, truth)
    assert "L3-L4" in found.slices
    assert not found.verified and found.flag == UNVERIFIED_FLAG and found.confidence <= 0.4


def test_sacral_ala_anchor_the_count():
    phantom = make_axial_phantom(n_slices=20)
    array = phantom.image.array.copy()
    lowest = phantom.level_slices["L5"]  # paint wide sacral ala on the lowest body: it becomes S1
    x = phantom.image.origin[0] + np.arange(array.shape[2]) * phantom.image.spacing[0]
    y = phantom.image.origin[1] + np.arange(array.shape[1]) * phantom.image.spacing[1]
    yy, xx = np.meshgrid(y, x, indexing="ij")
    body_value = float(np.median(array[lowest[0]][(np.abs(xx) < 10) & (np.abs(yy + 22) < 8)]))
    ala = (np.abs(xx) < 70) & (np.abs(yy + 22) < 12)
    for k in lowest:
        array[k][ala] = body_value
    volume = Volume(array, phantom.image.spacing, phantom.image.origin, np.diag([1.0, 1.0, -1.0]), "sacrum")
    found = levels_from_axial(volume)
    assert "S1" in found.slices and set(found.slices["S1"]) == set(lowest)
    # counting up from S1, the phantom's "L4" and "L3" bodies are now L5 and L4
    assert len(set(found.slices["L5"]) & set(phantom.level_slices["L4"])) >= 6
    assert len(set(found.slices["L4"]) & set(phantom.level_slices["L3"])) >= 6


def test_body_centres_outside_the_stack_give_no_level():
    grid = Volume(np.zeros((5, 4, 4), np.float32), (1.0, 1.0, 4.0), (0.0, 0.0, 500.0))
    assert levels_from_body_centres(grid, {"L1": [0, 0, 0], "L2": [0, 0, -38]}) == {}


@pytest.mark.shared
@pytest.mark.parametrize("group,case", REAL_CASES)
def test_real_body_centres_map_to_the_right_axial_slices(group, case):
    folder = shared_case(group, case)
    labels = read_volume(str(folder / "labels.nii.gz"))
    grid = axial_grid_through(labels)
    truth = levels_from_vertebra_map(labels, grid)
    found = levels_from_body_centres(grid, label_centroids(labels))
    agreement = body_level_agreement(found, truth)
    assert len(agreement) >= 5 and all(agreement.values()), agreement


@pytest.mark.shared
@pytest.mark.parametrize("group,case", REAL_CASES)
def test_real_sagittal_detection_names_the_lumbar_levels(group, case):
    """Axial slices get the right lumbar level from the detected sagittal bodies, with the sacrum found;
    thoracic names above L1 are not required."""
    folder = shared_case(group, case)
    sagittal = read_volume(str(folder / "image.nii.gz"))
    labels = read_volume(str(folder / "labels.nii.gz"))
    grid = axial_grid_through(labels)
    found = levels_from_sagittal(grid, sagittal)
    agreement = body_level_agreement(found.slices, levels_from_vertebra_map(labels, grid))
    lumbar = {level: ok for level, ok in agreement.items() if level.startswith(("L", "S"))}
    assert found.verified and found.confidence >= 0.9, found.notes
    assert len(lumbar) >= 5 and all(lumbar.values()), agreement


def _course(slope_per_slice_mm, n=40):
    """Front-to-back column position per slice (inferior first) from a slope (mm back per mm down) per slice."""
    slopes = np.array([slope_per_slice_mm(k) for k in range(n)])
    return -np.concatenate([[0.0], np.cumsum(slopes[1:] * 4.0)])


def test_sacrum_is_where_the_column_turns_backward_below_a_lordotic_l5():
    from spinequant.axial_levels import _anchor

    centres = np.array([5.0, 14.0, 23.0, 32.0])  # discs 36 mm apart on 4 mm slices, inferior first
    strength = np.full(4, 3.0)
    turning = _course(lambda k: 1.0 if k <= 14 else (0.3 if k <= 23 else 0.0))  # S1 ~45 deg, L5 lordotic
    anchor, chain, turn = _anchor(centres, strength, 9.0, turning, 4.0)
    assert turn and anchor == 1 and list(chain) == [1, 2, 3]
    flat = _course(lambda k: 0.2)  # no turn anywhere: the count cannot be anchored
    assert not _anchor(centres, strength, 9.0, flat, 4.0)[2]
    forward_l5 = _course(lambda k: 1.0 if k <= 14 else (-0.3 if k <= 23 else 0.0))  # L5 leaning forward
    assert not _anchor(centres, strength, 9.0, forward_l5, 4.0)[2]
