"""Paraspinal segmentation: orientation, importers, quality flags, bad input, phantom, real data."""

from __future__ import annotations

import numpy as np
import pytest

from shared_data import TUM01, read_tum01, shared_case
from spinequant.cli import main
from spinequant.errors import InputError
from spinequant.imageio import Volume, read_volume
from spinequant.phantoms.axial import make_axial_phantom
from spinequant.review import dice
from spinequant.segmentation import segment
from spinequant.segmentation.importers import TOTALSEGMENTATOR_CLASS_MAPS, apply_class_map, project_target
from spinequant.segmentation.orientation import from_canonical, to_canonical
from spinequant.segmentation.quality import slice_quality


@pytest.fixture(scope="module")
def phantom():
    return make_axial_phantom(seed=0)


def test_orientation_round_trip_is_exact():
    array = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    direction = np.array([[-1.0, 0, 0], [0, 0, 1], [0, -1, 0]])  # RSA-like axes, flipped
    volume = Volume(array, (1.0, 2.0, 3.0), (5.0, 6.0, 7.0), direction)
    canonical, code = to_canonical(volume)
    assert np.allclose(canonical.direction, np.eye(3))
    back = from_canonical(canonical, code, volume)
    assert np.array_equal(back.array, array)


def test_foreign_names_map_to_project_sides():
    assert project_target("autochthon_left") == ("autochthon", "left")
    assert project_target("iliopsoas_right") == ("psoas", "right")
    assert project_target("transversospinalis_left") == ("multifidus", "left")
    with pytest.raises(InputError):
        project_target("liver")


def test_class_map_keeps_compartments_for_splitting():
    foreign = np.array([[[46, 47, 48, 49, 5]]])
    labels, compartments = apply_class_map(foreign, TOTALSEGMENTATOR_CLASS_MAPS["total_mr"])
    assert labels.tolist() == [[[0, 0, 5, 6, 0]]]
    assert compartments["left"][0, 0, 0] and compartments["right"][0, 0, 1]


def test_quality_flags_missing_side_and_asymmetry():
    labels = np.zeros((2, 50, 50), np.uint8)
    labels[0, 10:30, 5:20] = 3  # ES left only
    labels[1, 10:30, 5:25] = 3
    labels[1, 10:20, 30:40] = 4  # ES right much smaller
    table = slice_quality(labels, 1.0, np.arange(2.0))
    assert "erector_spinae_missing_right" in table.loc[0, "flags"]
    assert "erector_spinae_asymmetric" in table.loc[1, "flags"]
    assert table.loc[0, "confidence"] < 1.0


def test_zero_image_is_refused():
    volume = Volume(np.zeros((5, 40, 40), np.float32), (1.0, 1.0, 4.0))
    with pytest.raises(InputError, match="every voxel is 0"):
        segment(volume)


def test_sagittal_volume_is_refused(phantom):
    sagittal = phantom.image.with_array(phantom.image.array)
    sagittal.direction = np.array([[0.0, 0, 1], [1, 0, 0], [0, 1, 0]])
    with pytest.raises(InputError, match="axial"):
        segment(sagittal)


def test_volume_without_spine_is_refused():
    rng = np.random.default_rng(0)
    blob = np.zeros((6, 80, 80), np.float32)
    yy, xx = np.mgrid[:80, :80]
    blob[:, (yy - 40) ** 2 + (xx - 40) ** 2 < 30**2] = 500.0
    blob += rng.normal(0, 5, blob.shape).astype(np.float32)
    with pytest.raises(InputError, match="no lumbar spine"):
        segment(Volume(np.abs(blob), (1.5, 1.5, 4.0)))


def test_phantom_dixon_finds_every_paraspinal_muscle_on_the_right_side(phantom):
    result = segment(phantom.image, phantom.water, phantom.fat)
    floors = {1: 0.96, 2: 0.955, 3: 0.97, 4: 0.98, 5: 0.98, 6: 0.98, 7: 0.98, 8: 0.98}
    for value, floor in floors.items():
        # regression floors below the measured MF 0.970/0.963, ES 0.983/0.990, psoas 0.990/0.995,
        # QL 0.995/0.999 (0.963 right when a QL missed on 3 slices was not bridged); target 0.95
        assert dice(result.labels.array == value, phantom.labels.array == value) > floor, value
    assert list(result.quality.columns[:2]) == ["slice", "z_mm"]
    assert (result.quality["hints"] == "").all()  # the phantom's fronts have fascia: none drawn from anatomy


@pytest.mark.parametrize("fat_infiltration", [None, {"multifidus": 0.6}], ids=["default", "fatty MF 60 %"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_phantom_every_muscle_on_every_seed_with_either_input(seed, fat_infiltration):
    # the must-show: Dice >= 0.95 for every muscle, with a severely (60 %) fatty multifidus too.
    # Measured (seeds 0-3, one image and Dixon): default MF 0.958-0.972, ES 0.962-0.987, psoas
    # 0.975-0.995, QL 0.965-0.999; 60 % MF 0.954-0.972 (0.928-0.946 before the nearby slices' lean
    # islands), ES 0.962-0.987. The floor leaves room for library versions (seed 0 with Dixon is
    # checked above with tighter floors)
    phantom = make_axial_phantom(seed=seed, fat_infiltration=fat_infiltration)
    for result in (segment(phantom.image), segment(phantom.image, phantom.water, phantom.fat)):
        for value in range(1, 9):
            assert dice(result.labels.array == value, phantom.labels.array == value) > 0.945, value


def test_cli_segment_writes_labels_on_the_image_grid(tmp_path, phantom):
    from spinequant.imageio import write_volume

    image = tmp_path / "image.nii.gz"
    water, fat = tmp_path / "w.nii.gz", tmp_path / "f.nii.gz"
    write_volume(phantom.image, str(image))
    write_volume(phantom.water, str(water))
    write_volume(phantom.fat, str(fat))
    out = tmp_path / "seg.nii.gz"
    assert main(["segment", str(image), "--water", str(water), "--fat", str(fat), "--out", str(out)]) == 0
    written = read_volume(str(out))
    assert written.array.shape == phantom.image.array.shape
    assert np.allclose(written.origin, phantom.image.origin, atol=1e-3)
    assert (tmp_path / "seg_quality.csv").exists()
    # run again onto the same file (one the reviewer may have corrected): the earlier one is kept
    corrected = written.with_array(np.where(written.array == 1, 0, written.array).astype(written.array.dtype))
    write_volume(corrected, str(out))
    assert main(["segment", str(image), "--out", str(out)]) == 0
    backups = sorted(tmp_path.glob("seg.backup-*.nii.gz"))
    assert len(backups) == 1 and not (read_volume(str(backups[0])).array == 1).any()
    assert (read_volume(str(out)).array == 1).any() and len(list(tmp_path.glob("seg_quality.backup-*.csv"))) == 1


def test_cli_bad_input_writes_nothing(tmp_path):
    from spinequant.imageio import write_volume

    image = tmp_path / "zeros.nii.gz"
    write_volume(Volume(np.zeros((4, 30, 30), np.float32), (1.0, 1.0, 4.0)), str(image))
    out = tmp_path / "seg.nii.gz"
    assert main(["segment", str(image), "--out", str(out)]) == 2
    assert not out.exists()


@pytest.mark.shared
def test_totalsegmentator_example_imports_with_sides():
    case = shared_case("model_output", "totalsegmentator_example_mr")
    image = read_volume(str(case / "image.nii.gz"))
    foreign = read_volume(str(case / "labels.nii.gz"))
    result = segment(image, backend="totalsegmentator", foreign_labels=foreign)
    labels = result.labels.array
    assert set(np.unique(labels)) <= {0, 1, 2, 3, 4, 5, 6}
    back_left = np.isin(labels, [1, 3]).sum()
    assert back_left == (foreign.array == 46).sum()
    # left structures lie at larger LPS x (patient left) than right ones
    xs = np.arange(labels.shape[2]) * image.spacing[0] + image.origin[0]
    left_x = xs[np.nonzero(np.isin(labels, [1, 3, 5]))[2]].mean()
    right_x = xs[np.nonzero(np.isin(labels, [2, 4, 6]))[2]].mean()
    assert left_x > right_x


def _tum01():
    """TUM01's water and fat volumes and the expert's labels in the project's values."""
    return read_tum01(shared_case(*TUM01))


@pytest.mark.shared
def test_tum01_dixon_back_muscles_overlap_expert():
    water, fat, reference = _tum01()
    image = water.with_array(water.array + fat.array)
    # regression floors just below what is measured (eval_segment_tum01.py): W+F alone MF 0.803/0.829,
    # ES 0.883/0.865; with water/fat MF 0.854/0.871, ES 0.911/0.928. Targets: MF 0.85, ES 0.88.
    # (Without removing thin strands, water/fat MF read 0.842/0.864.)
    floors_alone = {1: 0.795, 2: 0.82, 3: 0.875, 4: 0.86}
    floors_dixon = {1: 0.85, 2: 0.865, 3: 0.905, 4: 0.924}
    for kwargs, floors in (({}, floors_alone), ({"water": water, "fat": fat}, floors_dixon)):
        result = segment(image, **kwargs)
        for value, floor in floors.items():
            assert dice(result.labels.array == value, reference == value) > floor, (value, list(kwargs))
        # quadratus / aponeurosis fused to the erector spinae: the reviewer is told where its front was drawn
        assert result.quality["hints"].str.contains("front_from_anatomy").any()


@pytest.mark.shared
def test_tum01_with_a_fatty_multifidus_keeps_both_muscles():
    # semi-synthetic: 60 % of each expert multifidus made fat in ~4 mm blobs (semi_synthetic.py), on
    # real anatomy. Measured with water/fat (seed 0): MF 0.821/0.839, ES 0.924/0.910 (MF 0.772/0.789
    # while the recovery took the water-poor ligament and bone by the posterior elements as lean
    # islands); far below the phantom, so the floors guard against collapse. The fat share reads 54/56 %
    # for the expert's 61 % (49/50 % with the ligament)
    from semi_synthetic import marbled

    water, fat, reference = _tum01()
    fatty_water, fatty_fat = marbled(water.array, fat.array, reference, {1: 0.6, 2: 0.6}, seed=0)
    fatty_image = water.with_array(fatty_water + fatty_fat)
    result = segment(fatty_image, water.with_array(fatty_water), fat.with_array(fatty_fat))
    floors = {1: 0.79, 2: 0.8, 3: 0.9, 4: 0.89}
    for value, floor in floors.items():
        assert dice(result.labels.array == value, reference == value) > floor, value
    fat_fraction = fatty_fat / np.maximum(fatty_water + fatty_fat, 1e-6)
    for value in (1, 2):
        assert 51.0 < 100.0 * (fat_fraction[result.labels.array == value] > 0.5).mean() < 70.0
    # from W+F alone (measured 0.742/0.755, ES 0.847/0.832; 0.718/0.742 while the bone and ligament
    # by the spinous process, darker than the multifidus, were taken as its lean islands)
    alone = segment(fatty_image).labels.array
    for value, floor in {1: 0.72, 2: 0.74, 3: 0.83, 4: 0.82}.items():
        assert dice(alone == value, reference == value) > floor, ("W+F", value)


def test_cli_segment_measure_writes_the_fat_outputs(tmp_path):
    import pandas as pd

    from spinequant.imageio import write_volume

    small = make_axial_phantom(seed=1, n_slices=8)
    image = tmp_path / "image.nii.gz"
    write_volume(small.image, str(image))
    out_dir = tmp_path / "measured"
    code = main(
        [
            "segment",
            str(image),
            "--out",
            str(tmp_path / "seg.nii.gz"),
            "--measure",
            "--out-dir",
            str(out_dir),
            "--case-id",
            "P1",
            "--levels",
            "L3:0-5",
        ]
    )
    assert code == 0
    table = pd.read_csv(out_dir / "measurements.csv", keep_default_na=False)
    assert set(table.case_id) == {"P1"}
    assert {"multifidus", "erector_spinae"} <= set(table.structure)
    assert (out_dir / "per_slice_csa.csv").exists()
    assert (out_dir / "qc.png").stat().st_size > 1000
    assert (out_dir / "measurements_wide.csv").exists()


def test_cli_segment_measure_needs_out_dir(tmp_path, phantom):
    from spinequant.imageio import write_volume

    image = tmp_path / "image.nii.gz"
    write_volume(phantom.image, str(image))
    out = tmp_path / "seg.nii.gz"
    assert main(["segment", str(image), "--out", str(out), "--measure"]) == 2
    assert not out.exists()
