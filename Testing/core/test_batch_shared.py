"""`spinequant batch` over real cases mixed with phantoms: interrupted once and resumed, the cohort file is
byte-identical to an uninterrupted run, and a corrupt case is listed, not fatal. Real images are linked
from ../shared/data (never copied into the repository)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from batch_runs import interrupted_then_resumed

from shared_data import shared_case
from spinequant.batch import run_batch
from spinequant.imageio import write_volume
from spinequant.phantoms.axial import make_axial_phantom
from spinequant.phantoms.sagittal import make_sagittal_phantom

pytestmark = pytest.mark.shared


def link(target: Path, link_path: Path) -> None:
    link_path.parent.mkdir(parents=True, exist_ok=True)
    link_path.symlink_to(target)


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mixed")
    tum01 = shared_case("axial_dixon", "TUM01")
    link(tum01 / "image_water.nii.gz", root / "real_tum01" / "ax_dixon_water.nii.gz")
    link(tum01 / "image_fat.nii.gz", root / "real_tum01" / "ax_dixon_fat.nii.gz")
    link(shared_case("sagittal_t1", "VB1_10_DzZ_T1") / "image.nii.gz", root / "real_vb1_10" / "sag_t1.nii.gz")
    write_volume(make_axial_phantom(n_slices=10, seed=3).image, str(root / "phantom_a" / "ax_t2.nii.gz"))
    write_volume(make_sagittal_phantom(seed=2).volume, str(root / "phantom_a" / "sag_t1.nii.gz"))
    (root / "zz_corrupt").mkdir()
    (root / "zz_corrupt" / "sag_t1.nii.gz").write_bytes(b"\x1f\x8b not really gzip")
    return root


def test_real_and_phantom_cases_resume_to_the_identical_cohort(tmp_path, mixed_folder):
    whole = run_batch(str(mixed_folder), str(tmp_path / "whole"), report=False)
    status = pd.read_csv(tmp_path / "whole" / "batch_status.csv", keep_default_na=False).set_index("case")
    assert status.loc["zz_corrupt", "status"] == "failed" and "sag_t1.nii.gz" in status.loc["zz_corrupt", "reason"]
    assert (status.drop(index="zz_corrupt")["status"] == "done").all(), status
    cohort = pd.read_csv(whole.cohort_csv)
    real_muscles = cohort[(cohort.case_id == "real_tum01") & (cohort.metric == "csa")]
    assert {"multifidus", "erector_spinae"} <= set(real_muscles.structure)
    assert "dixon" in set(cohort[cohort.case_id == "real_tum01"].method)
    vbq = cohort[(cohort.case_id == "real_vb1_10") & (cohort.metric == "vbq")]["value"]
    assert len(vbq) == 1 and 2.0 < vbq.iloc[0] < 4.0

    seen, resumed = interrupted_then_resumed(mixed_folder, tmp_path / "split", stop_after=2)
    assert resumed.skipped == seen and "zz_corrupt" in resumed.processed
    assert (tmp_path / "split" / "cohort.csv").read_bytes() == whole.cohort_csv.read_bytes()
