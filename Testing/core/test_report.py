"""QC report: overlay per level on the right slice, case page, cohort index with flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import SimpleITK as sitk

from spinequant.imageio import Volume
from spinequant.measure import measure_muscles
from spinequant.phantoms.axial import make_axial_phantom
from spinequant.report import _display_slice, key_numbers, write_cohort_report, write_muscle_pictures


def test_display_slice_follows_flipped_stacks():
    array = np.zeros((5, 4, 4), np.float32)
    upward = Volume(array, (1.0, 1.0, 2.0))
    downward = Volume(array, (1.0, 1.0, 2.0), direction=np.diag([1.0, 1.0, -1.0]))
    assert _display_slice(upward, 1) == 1
    assert _display_slice(downward, 1) == 3


def test_case_and_cohort_report(tmp_path):
    phantom = make_axial_phantom(n_slices=10, seed=3)
    case_dir = tmp_path / "cases" / "p1"
    case_dir.mkdir(parents=True)
    pictures = write_muscle_pictures(phantom.image, phantom.labels.array, None, phantom.level_slices, case_dir)
    assert [p["level"] for p in pictures] == list(phantom.level_slices)
    picture = sitk.GetArrayFromImage(sitk.ReadImage(str(case_dir / pictures[0]["file"])))
    assert picture.ndim == 3 and picture.shape[2] == 3
    table = measure_muscles(phantom.image, phantom.labels, case_id="p1", levels=phantom.level_slices)
    table.to_csv(case_dir / "measurements.csv", index=False)
    numbers = key_numbers(table)
    assert {"MF fat %", "ES fat %", "psoas CSA cm2"} <= set(numbers)
    status = pd.DataFrame({"case": ["p1", "bad"], "status": ["done", "failed"], "reason": ["", "cannot read x"],
                           "seconds": [1.0, 0.1]})
    summaries = {"p1": {"case_id": "p1", "status": "done", "muscle_pictures": pictures,
                        "flags": ["levels_unverified"], "level_source": "axial", "levels_verified": False}}
    index = write_cohort_report(tmp_path, ["p1", "bad"], status, summaries).read_text()
    assert "levels_unverified" in index and "UNVERIFIED" in index and "cannot read x" in index
    assert f"cases/p1/{pictures[0]['file']}" in index
    assert (case_dir / "report.html").exists()
