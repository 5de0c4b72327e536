"""`spinequant batch`: series selection, failed cases, identical resume, de-identification."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest
import SimpleITK as sitk
from batch_runs import interrupted_then_resumed

from spinequant.batch import run_batch
from spinequant.batch.series import find_series, select_series, weighting_of
from spinequant.cli import main
from spinequant.deid import scrub_text, study_case_id
from spinequant.imageio import Volume, write_volume
from spinequant.phantoms.axial import make_axial_phantom
from spinequant.phantoms.sagittal import make_sagittal_phantom


@pytest.fixture(scope="module")
def phantoms():
    return make_axial_phantom(n_slices=10, seed=2), make_sagittal_phantom(slices=15)


def make_cases(root: Path, phantoms, n: int = 3, corrupt: bool = True) -> Path:
    axial, sagittal = phantoms
    for index in range(n):
        case = root / f"case{index + 1:02d}"
        write_volume(axial.image, str(case / "ax_t2.nii.gz"))
        if index % 2 == 0:
            write_volume(sagittal.volume, str(case / "sag_t1.nii.gz"))
    if corrupt:
        (root / "case99").mkdir(parents=True)
        (root / "case99" / "ax_t2.nii.gz").write_bytes(b"this is not an image")
    return root


def test_batch_measures_cases_and_lists_failures(tmp_path, phantoms):
    cases = make_cases(tmp_path / "in", phantoms)
    out = tmp_path / "out"
    assert main(["batch", str(cases), "--out", str(out)]) == 0
    status = pd.read_csv(out / "batch_status.csv", keep_default_na=False)
    assert list(status["case"]) == ["case01", "case02", "case03", "case99"]
    assert list(status["status"]) == ["done", "done", "done", "failed"]
    assert "cannot read" in status["reason"].iloc[3]
    cohort = pd.read_csv(out / "cohort.csv")
    assert set(cohort["case_id"]) == {"case01", "case02", "case03"}
    assert (cohort["metric"] == "vbq").sum() == 2  # sagittal T1 in case01 and case03 only
    assert (out / "cohort.xlsx").exists() and (out / "index.html").exists()
    index = (out / "index.html").read_text()
    assert "case99" in index and "cases/case01/report.html" in index
    assert list((out / "cases" / "case01").glob("muscles_*.png"))
    assert (out / "cases" / "case01" / "vbq_midsagittal.png").exists()


def test_interrupted_and_resumed_run_gives_identical_cohort(tmp_path, phantoms):
    cases = make_cases(tmp_path / "in", phantoms, n=3, corrupt=True)
    whole = run_batch(str(cases), str(tmp_path / "whole"), report=False)
    done, resumed = interrupted_then_resumed(cases, tmp_path / "split", stop_after=2)
    assert done == ["case01", "case02"]
    assert resumed.processed == ["case03", "case99"] and resumed.skipped == ["case01", "case02"]
    assert (tmp_path / "split" / "cohort.csv").read_bytes() == whole.cohort_csv.read_bytes()
    again = run_batch(str(cases), str(tmp_path / "split"), resume=True, report=False)
    assert again.processed == []
    assert (tmp_path / "split" / "cohort.csv").read_bytes() == whole.cohort_csv.read_bytes()


def write_dicom_series(volume: Volume, folder: Path, tags: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    image = sitk.Cast(volume.to_sitk(), sitk.sitkInt16)
    direction = volume.direction
    for k in range(image.GetDepth()):
        plane = image[:, :, k]
        point = image.TransformIndexToPhysicalPoint((0, 0, k))
        values = dict(tags)
        values.update({
            "0020|0032": "\\".join(f"{v:.4f}" for v in point), "0020|0013": str(k + 1),
            "0020|0037": "\\".join(f"{v:.6f}" for v in list(direction[:, 0]) + list(direction[:, 1])),
            "0018|0050": f"{volume.spacing[2]:.3f}", "0008|0060": "MR",
        })
        for tag, value in values.items():
            plane.SetMetaData(tag, value)
        writer = sitk.ImageFileWriter()
        writer.KeepOriginalImageUIDOn()
        writer.SetFileName(str(folder / f"slice{k:03d}.dcm"))
        writer.Execute(plane)


def output_texts(folder: Path):
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            yield path, data
            if path.suffix == ".xlsx":
                with zipfile.ZipFile(path) as archive:
                    for member in archive.namelist():
                        yield path, archive.read(member)


def test_dicom_identifiers_never_reach_the_outputs(tmp_path, phantoms):
    axial, _ = phantoms
    tags = {"0010|0010": "DOE^JOHN", "0010|0020": "PID7734", "0010|0030": "19500101",
            "0020|000e": "1.2.826.0.1.3680043.2.1125.1", "0020|000d": "1.2.826.0.1.3680043.2.1125.2",
            "0008|103e": "AX T2 TSE", "0018|0080": "4000", "0018|0081": "90"}
    write_dicom_series(axial.image, tmp_path / "in" / "DOE_JOHN" / "series1", tags)
    series = find_series(str(tmp_path / "in" / "DOE_JOHN"))
    assert len(series) == 1 and series[0].plane == "axial" and series[0].weighting == "T2"
    out = tmp_path / "out"
    assert main(["batch", str(tmp_path / "in"), "--out", str(out)]) == 0
    status = pd.read_csv(out / "batch_status.csv", keep_default_na=False)
    assert status["status"].tolist() == ["done"], status
    assert status["case"].iloc[0].startswith("case-")  # the folder carried the patient's name
    for path, data in output_texts(out):
        for secret in (b"DOE", b"JOHN", b"PID7734", b"19500101"):
            assert secret not in data.upper(), f"{secret!r} found in {path}"
    kept = tmp_path / "kept"
    assert main(["batch", str(tmp_path / "in"), "--out", str(kept), "--keep-identifiers", "--no-report"]) == 0
    assert any(b"DOE^JOHN" in data for _, data in output_texts(kept))


def test_series_selection_and_weighting_rules():
    assert weighting_of({"0018|0080": "550", "0018|0081": "12"}, "x") == "T1"
    assert weighting_of({"0018|0080": "3500", "0018|0081": "100"}, "x") == "T2"
    assert weighting_of({}, "sag_T1_tse.nii.gz") == "T1"
    assert weighting_of({"0018|0080": "550", "0018|0081": "12"}, "dixon_water.nii.gz") == "water"
    assert study_case_id("DOE_JOHN", {"patient_name": "DOE^JOHN"}) != "DOE_JOHN"
    assert study_case_id("S001", {"patient_name": "DOE^JOHN"}) == "S001"
    assert "DOE" not in scrub_text("cannot read /data/doe/img", {"patient_name": "DOE^JOHN"}).upper()
    assert select_series([]).axial is None


def test_empty_or_missing_input_folder_is_an_error(tmp_path):
    assert main(["batch", str(tmp_path / "absent"), "--out", str(tmp_path / "o")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["batch", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2


def test_a_rerun_keeps_the_earlier_label_map_of_a_case(tmp_path, phantoms):
    cases = make_cases(tmp_path / "in", phantoms, n=1, corrupt=False)
    out = tmp_path / "out"
    run_batch(str(cases), str(out), report=False)
    case = out / "cases" / "case01"
    first = (case / "muscles.nii.gz").read_bytes()
    run_batch(str(cases), str(out), report=False)  # not resumed: the case runs again
    backups = list(case.glob("muscles.backup-*.nii.gz"))
    assert len(backups) == 1 and backups[0].read_bytes() == first
