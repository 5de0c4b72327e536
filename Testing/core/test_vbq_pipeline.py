"""VBQ pipeline: landmark override gives identical results, bad input is refused clearly, CLI outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spinequant.cli import main
from spinequant.errors import InputError
from spinequant.imageio import Volume, write_volume
from spinequant.phantoms.sagittal import make_sagittal_phantom
from spinequant.vbq import measure_vbq
from spinequant.vbq.cutoffs import resolve_cutoff
from spinequant.vbq.landmarks import landmarks_to_json, parse_landmarks


@pytest.fixture(scope="module")
def phantom():
    return make_sagittal_phantom(0)


def test_exported_landmarks_give_identical_vbq(phantom):
    detected = measure_vbq(phantom.volume)
    points = parse_landmarks(json.loads(json.dumps(landmarks_to_json(detected.landmarks_lps))))
    manual = measure_vbq(phantom.volume, landmarks=points)
    assert manual.source == "landmarks"
    assert manual.vbq == pytest.approx(detected.vbq, rel=1e-9)
    assert manual.level_signals == pytest.approx(detected.level_signals)
    assert np.array_equal(manual.roi_labels, detected.roi_labels)


def test_ras_landmarks_equal_lps(phantom):
    detected = measure_vbq(phantom.volume)
    ras = {name: [-p[0], -p[1], p[2]] for name, p in detected.landmarks_lps.items()}
    ras["coordinate_system"] = "RAS"
    manual = measure_vbq(phantom.volume, landmarks=parse_landmarks(ras))
    assert manual.vbq == pytest.approx(detected.vbq, rel=1e-9)


def test_user_exclusion_is_recorded(phantom):
    result = measure_vbq(phantom.volume, exclude=["L4"])
    assert result.excluded["L4"].startswith("user")
    assert result.levels_used == ["L1", "L2", "L3"]


def test_axial_volume_is_refused():
    axial = Volume(np.zeros((10, 64, 64), np.float32), (1, 1, 3), source="axial.nii.gz")
    with pytest.raises(InputError, match="sagittal"):
        measure_vbq(axial)


@pytest.mark.parametrize(
    "array",
    [np.zeros((20, 120, 200), np.float32), np.random.default_rng(0).normal(100, 30, (20, 120, 200)).astype(np.float32)],
)
def test_volume_without_spine_is_refused(phantom, array):
    volume = Volume(array, (1, 1, 1), direction=phantom.volume.direction, source="blank.nii.gz")
    with pytest.raises(InputError, match="blank|no vertebral column"):
        measure_vbq(volume)


def test_single_slice_is_refused(phantom):
    one = Volume(phantom.volume.array[15:16], (1, 1, 1), direction=phantom.volume.direction, source="one.nii.gz")
    with pytest.raises(InputError, match="single 2D slice|too few"):
        measure_vbq(one)


def test_cutoff_presets():
    assert resolve_cutoff("ehresman2020").value == 3.0
    assert resolve_cutoff("2.6").value == 2.6
    with pytest.raises(InputError):
        resolve_cutoff("tall")


def test_cli_writes_all_outputs(tmp_path, phantom):
    image = tmp_path / "phantom.nii.gz"
    write_volume(phantom.volume, str(image))
    out = tmp_path / "out"
    assert main(["vbq", str(image), "--out", str(out), "--case-id", "P0"]) == 0
    for name in ("measurements.csv", "rois.nii.gz", "landmarks.json", "qc_midsagittal.png"):
        assert (out / name).exists(), name
    assert main(["vbq", str(image), "--landmarks", str(out / "landmarks.json"), "--out", str(tmp_path / "o2")]) == 0
    first = (out / "measurements.csv").read_text().splitlines()
    assert any(line.startswith("P0,spine,,L1-L4,vbq") for line in first)
