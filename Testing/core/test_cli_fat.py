"""The `spinequant demo` and `spinequant fat` commands, including their answers to bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from spinequant.cli import main
from spinequant.imageio import Volume, write_volume
from spinequant.phantoms.axial import make_axial_phantom


@pytest.fixture(scope="module")
def case_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("case")
    phantom = make_axial_phantom(seed=5, n_slices=12)
    write_volume(phantom.image, str(folder / "image.nii.gz"))
    write_volume(phantom.labels, str(folder / "seg.nii.gz"))
    write_volume(phantom.vertebrae, str(folder / "vertebrae.nii.gz"))
    return folder, phantom


def run_cli(*args):
    return main([str(a) for a in args])


def test_demo_writes_measurements_and_qc(tmp_path, capsys):
    assert run_cli("demo", "--out", tmp_path) == 0
    table = pd.read_csv(tmp_path / "measurements.csv", keep_default_na=False)
    assert {"multifidus", "erector_spinae", "psoas", "quadratus_lumborum"} <= set(table.structure)
    assert {"left", "right", "both"} <= set(table.side)
    assert {"calibrated", "otsu", "gmm2", "dixon"} <= set(table.method)
    assert (tmp_path / "qc.png").stat().st_size > 1000
    assert "true fat infiltration" in capsys.readouterr().out


def test_fat_with_levels_and_cohort(case_files, tmp_path):
    folder, phantom = case_files
    cohort = tmp_path / "cohort.csv"
    code = run_cli("fat", folder / "image.nii.gz", "--segmentation", folder / "seg.nii.gz",
                   "--levels", folder / "vertebrae.nii.gz", "--method", "all", "--out", tmp_path / "o",
                   "--cohort", cohort)
    assert code == 0
    table = pd.read_csv(tmp_path / "o" / "measurements.csv", keep_default_na=False)
    assert set(table.case_id) == {folder.name}  # generic file name 'image' takes the folder's name
    assert set(phantom.level_slices) <= set(table.level)
    assert {"calibrated", "gmm2", "gmm3", "kmeans", "otsu"} <= set(table.method)
    assert len(pd.read_csv(cohort)) == len(table)


def test_label_map_file(case_files, tmp_path):
    folder, phantom = case_files
    swapped = np.where(phantom.labels.array == 1, 2, np.where(phantom.labels.array == 2, 1, 0))
    write_volume(phantom.labels.with_array(swapped.astype(np.uint8)), str(tmp_path / "mf.nii.gz"))
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"1": "multifidus_right", "2": "multifidus_left"}))
    assert run_cli("fat", folder / "image.nii.gz", "--segmentation", tmp_path / "mf.nii.gz",
                   "--label-map", mapping, "--out", tmp_path / "o") == 0
    table = pd.read_csv(tmp_path / "o" / "measurements.csv", keep_default_na=False)
    left_volume = table[(table.side == "left") & (table.metric == "volume") & (table.level == "all")]
    assert left_volume.value.iloc[0] == pytest.approx(
        (phantom.labels.array == 1).sum() * phantom.image.voxel_volume_mm3 / 1000)


def _bad_inputs(folder, phantom, tmp):
    sagittal = Volume(phantom.image.array, phantom.image.spacing,
                      direction=np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]], float))
    write_volume(sagittal, str(tmp / "sagittal.nii.gz"))
    write_volume(phantom.labels.with_array(np.zeros_like(phantom.labels.array)), str(tmp / "empty.nii.gz"))
    small = Volume(phantom.labels.array[:, :-4], phantom.labels.spacing)
    write_volume(small, str(tmp / "small.nii.gz"))
    with_nan = phantom.image.with_array(phantom.image.array.copy())
    with_nan.array[3, 40, 40] = np.nan
    write_volume(with_nan, str(tmp / "nan.nrrd"))
    odd = phantom.labels.array.copy()
    odd[odd == 3] = 9
    write_volume(phantom.labels.with_array(odd), str(tmp / "odd.nii.gz"))
    (tmp / "broken.nii.gz").write_bytes(b"garbage")
    import SimpleITK as sitk
    sitk.WriteImage(sitk.GetImageFromArray(phantom.image.array[5]), str(tmp / "flat.nii.gz"))
    image, seg = folder / "image.nii.gz", folder / "seg.nii.gz"
    return [
        ((tmp / "sagittal.nii.gz", seg), r"sagittal\.nii\.gz: holds sagittal slices"),
        ((tmp / "flat.nii.gz", seg), r"flat\.nii\.gz: is a 2D image"),
        ((image, tmp / "empty.nii.gz"), r"empty\.nii\.gz: segmentation is empty"),
        ((image, tmp / "small.nii.gz"), r"small\.nii\.gz: grid .* does not match the image"),
        ((image, tmp / "odd.nii.gz"), r"odd\.nii\.gz: label value\(s\) 9 are not in the label map"),
        ((tmp / "nan.nrrd", seg), r"nan\.nrrd: contains 1 NaN"),
        ((tmp / "broken.nii.gz", seg), r"broken\.nii\.gz: cannot read the image"),
    ]


def test_bad_inputs_get_clear_messages(case_files, tmp_path, capsys):
    folder, phantom = case_files
    import re
    for (image, seg), message in _bad_inputs(folder, phantom, tmp_path):
        out = tmp_path / "never"
        assert run_cli("fat", image, "--segmentation", seg, "--out", out) == 2
        error = capsys.readouterr().err
        assert re.search(message, error), (message, error)
        assert "Traceback" not in error
        assert not out.exists()


def test_duplicate_case_in_cohort_refused_before_any_work(case_files, tmp_path, capsys):
    folder, _ = case_files
    cohort = tmp_path / "cohort.csv"
    args = ["fat", folder / "image.nii.gz", "--segmentation", folder / "seg.nii.gz", "--case-id", "P1",
            "--cohort", cohort]
    assert run_cli(*args, "--out", tmp_path / "first") == 0
    before = cohort.read_bytes()
    assert run_cli(*args, "--out", tmp_path / "second") == 2
    assert "case id P1 is already in the cohort" in capsys.readouterr().err
    assert cohort.read_bytes() == before and not (tmp_path / "second").exists()
    assert run_cli(*args, "--out", tmp_path / "third", "--replace") == 0
    assert len(list(tmp_path.glob("cohort.backup-*.csv"))) == 1
