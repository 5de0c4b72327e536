"""Muscle measurements on the project's phantom, whose answers are known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from spinequant.errors import InputError
from spinequant.flags import FlagRules
from spinequant.labels import DEFAULT_LABELS, Structure
from spinequant.measure import measure_muscles, structure_masks
from spinequant.phantoms.axial import make_axial_phantom

ALL_METHODS = ["calibrated", "gmm2", "gmm3", "kmeans", "otsu"]


@pytest.fixture(scope="module")
def phantom():
    return make_axial_phantom(seed=3, fat_infiltration={"multifidus_left": 0.62, "erector_spinae_right": 0.35},
                              left_right_scale=0.85)


@pytest.fixture(scope="module")
def table(phantom):
    return measure_muscles(phantom.image, phantom.labels, case_id="p3", methods=ALL_METHODS,
                           levels=phantom.level_slices, water=phantom.water, fat=phantom.fat)


def value(table, structure, side, level, metric, method=""):
    rows = table[(table.structure == structure) & (table.side == side) & (table.level == level)
                 & (table.metric == metric) & (table.method == method)]
    assert len(rows) == 1, (structure, side, level, metric, method)
    return float(rows.value.iloc[0])


def test_areas_and_volumes_equal_voxel_counts(phantom, table):
    pixel_area_cm2 = phantom.image.spacing[0] * phantom.image.spacing[1] / 100
    for label, structure in DEFAULT_LABELS.items():
        mask = phantom.labels.array == label
        voxels = mask.sum()
        assert value(table, structure.name, structure.side, "all", "volume") == pytest.approx(
            voxels * phantom.image.voxel_volume_mm3 / 1000, rel=1e-12)
        per_slice = mask.sum(axis=(1, 2))
        assert value(table, structure.name, structure.side, "all", "csa") == pytest.approx(
            per_slice[per_slice > 0].mean() * pixel_area_cm2, rel=1e-12)
        l4 = phantom.level_slices["L4"]
        assert value(table, structure.name, structure.side, "L4", "csa") == pytest.approx(
            per_slice[l4].mean() * pixel_area_cm2, rel=1e-12)


@pytest.mark.parametrize("method", ALL_METHODS[:1] + ["kmeans", "otsu", "gmm2"])
def test_fat_infiltration_recovered(phantom, table, method):
    for key, truth in phantom.true_fat_infiltration.items():
        structure = Structure(*key.rsplit("_", 1))
        measured = value(table, structure.name, structure.side, "all", "fat_infiltration", method)
        assert measured == pytest.approx(truth, abs=1.0), (method, key)


def test_calibrated_is_robust_to_coil_shading(phantom, table):
    """Per level too (different shading along the stack), within 1 percentage point."""
    for key in ("multifidus_left", "erector_spinae_right", "psoas_left"):
        structure = Structure(*key.rsplit("_", 1))
        mask = phantom.labels.array == [v for v, s in DEFAULT_LABELS.items() if s == structure][0]
        for level, slices in phantom.level_slices.items():
            part = np.zeros_like(mask)
            part[slices] = mask[slices]
            truth = 100 * (phantom.fat_fraction[part] > 0.5).mean()
            measured = value(table, structure.name, structure.side, level, "fat_infiltration", "calibrated")
            assert measured == pytest.approx(truth, abs=1.0), (key, level)


def test_dixon_mean_fat_fraction_and_fat_area(phantom, table):
    water, fat = phantom.water.array.astype(float), phantom.fat.array.astype(float)
    fraction = np.where(water + fat > 0, fat / np.maximum(water + fat, 1e-12), 0)
    mask = phantom.labels.array == 1
    assert value(table, "multifidus", "left", "all", "mean_fat_fraction", "dixon") == pytest.approx(
        100 * fraction[mask].mean(), abs=0.1)
    assert value(table, "multifidus", "left", "all", "fat_infiltration", "dixon") == pytest.approx(
        100 * (fraction[mask] > 0.5).mean(), abs=1e-9)


def test_functional_csa_and_asymmetry(phantom, table):
    csa = value(table, "erector_spinae", "right", "all", "csa")
    fi = value(table, "erector_spinae", "right", "all", "fat_infiltration", "calibrated")
    assert value(table, "erector_spinae", "right", "all", "functional_csa", "calibrated") == pytest.approx(
        csa * (1 - fi / 100))
    left, right = (value(table, "psoas", s, "L4", "csa") for s in ("left", "right"))
    assert right < left  # the phantom's right side is scaled by 0.85
    assert value(table, "psoas", "both", "L4", "asymmetry", "csa (left-right)/mean") == pytest.approx(
        100 * (left - right) / ((left + right) / 2))
    assert value(table, "psoas", "both", "L4", "csa", "left+right") == pytest.approx(left + right)


def test_literature_flags(phantom, table):
    fatty = table[(table.structure == "multifidus") & (table.side == "left") & (table.level == "all")
                  & (table.metric == "fat_infiltration") & (table.method == "calibrated")]
    assert "severe_fat_ge_50" in fatty.flag.iloc[0] and "es_mf_fat_ge_49.78" in fatty.flag.iloc[0]
    lean = table[(table.structure == "psoas") & (table.metric == "fat_infiltration")]
    assert (lean.flag == "").all()
    psoas_l4 = value(table, "psoas", "both", "L4", "csa", "left+right")
    strict = measure_muscles(phantom.image, phantom.labels, case_id="p3", levels=phantom.level_slices,
                             rules=FlagRules(psoas_csa_cm2=psoas_l4 + 0.01))
    row = strict[(strict.structure == "psoas") & (strict.side == "both") & (strict.level == "L4")
                 & (strict.metric == "csa")]
    assert row.flag.iloc[0] == f"psoas_csa_le_{psoas_l4 + 0.01:g}_at_L4"


def test_user_threshold_method(phantom):
    masks = structure_masks(phantom.labels)
    only_mf = {Structure("multifidus", "left"): masks[Structure("multifidus", "left")]}
    table = measure_muscles(phantom.image, only_mf, case_id="t", methods=["threshold"], threshold=1e9)
    assert set(table.method[table.metric == "fat_infiltration"]) == {"threshold=1e+09"}
    assert (table.value[table.metric == "fat_infiltration"] == 0).all()


def test_bad_masks_named(phantom):
    empty = phantom.labels.with_array(np.zeros_like(phantom.labels.array), "seg.nii.gz")
    with pytest.raises(InputError, match="seg.nii.gz: segmentation is empty"):
        measure_muscles(phantom.image, empty, case_id="x")
    with pytest.raises(InputError, match="mask multifidus_left: is empty"):
        measure_muscles(phantom.image, {Structure("multifidus", "left"): np.zeros(phantom.image.array.shape, bool)},
                        case_id="x")
    odd = phantom.labels.array.copy()
    odd[0, 0, 0] = 12
    with pytest.raises(InputError, match=r"label value\(s\) 12 are not in the label map"):
        measure_muscles(phantom.image, phantom.labels.with_array(odd, "seg.nii.gz"), case_id="x")
    cropped = phantom.labels.with_array(phantom.labels.array)
    cropped.array = cropped.array[:, :, :-3]
    with pytest.raises(InputError, match="does not match the image"):
        measure_muscles(phantom.image, cropped, case_id="x")


def test_fat_suppressed_image_refused(phantom):
    water_only = phantom.water.with_array(phantom.water.array, "fs.nii.gz")  # fat signal suppressed
    with pytest.raises(InputError, match="fs.nii.gz: on slice .* fat is not brighter than muscle"):
        measure_muscles(water_only, phantom.labels, case_id="x")


def test_fat_overlay_accepts_0_1_masks(phantom):
    """Masks from Slicer arrive as 0/1 integers; they must act as masks, not as indices."""
    from spinequant.measure import primary_fat_voxels

    mask = (phantom.labels.array == 1).astype(np.uint8)
    overlay = primary_fat_voxels(phantom.image, {Structure("multifidus", "left"): mask}, "calibrated")
    assert overlay.shape == mask.shape
    assert overlay.sum() == ((phantom.fat_fraction > 0.5) & (mask > 0)).sum()
