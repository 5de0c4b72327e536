"""Where the real data lives (../shared/data beside the repository), for tests in every folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SPINEQUANT_SHARED", REPO_ROOT.parent / "shared")) / "data"


def shared_case(*parts: str) -> Path:
    """Path of a case folder in ../shared/data; skips the test with a clear reason when absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (../shared is not beside the repository)")
    return path


TUM01 = ("axial_dixon", "TUM01")  # the axial water/fat case with expert back-muscle labels


def read_tum01(case: Path):
    """(water, fat, expert labels in the project's label values) of the TUM01 folder `case`."""
    import json

    import numpy as np

    from spinequant.imageio import read_volume
    from spinequant.labels import DEFAULT_LABELS

    water = read_volume(str(case / "image_water.nii.gz"))
    fat = read_volume(str(case / "image_fat.nii.gz"))
    expert = read_volume(str(case / "labels.nii.gz")).array
    meta = json.loads((case / "meta.json").read_text())
    value_of = {structure.key: value for value, structure in DEFAULT_LABELS.items()}
    reference = np.zeros_like(expert)
    for value, name in meta["label_map"].items():
        reference[expert == int(value)] = value_of[name]
    return water, fat, reference


# The labelled sagittal series of ../shared/data (T1, TIRM, T2, gradient echo).
SAGITTAL_CASES = (
    "sagittal_t1/VB1_06_AKs6",
    "sagittal_t1/VB1_10_DzZ_T1",
    "sagittal_other/VB1_07_AKs7",
    "sagittal_other/VB1_11_DzZ_T2",
    "sagittal_other/VB2_02",
    "sagittal_other/VB2_05",
    "sagittal_other/VB3_01",
    "sagittal_other/VB3_10",
)


def axial_reference(volume, slice_mm: float = 4.0, offset_mm: float = 0.0):
    """An empty SimpleITK axial grid (1 mm in-plane, k running inferior like many scanners) covering the
    physical extent of `volume` (a spinequant Volume); `offset_mm` moves the slices down."""
    import numpy as np
    import SimpleITK as sitk

    image = volume.to_sitk()
    size = np.array(image.GetSize()) - 1
    corners = np.array(
        [
            image.TransformContinuousIndexToPhysicalPoint([float(v) for v in np.array(c) * size])
            for c in np.ndindex(2, 2, 2)
        ]
    )
    low, high = corners.min(axis=0), corners.max(axis=0)
    extent = [int(high[0] - low[0]) + 1, int(high[1] - low[1]) + 1, int((high[2] - low[2]) / slice_mm) + 1]
    reference = sitk.Image(extent, sitk.sitkFloat32)
    reference.SetSpacing((1.0, 1.0, slice_mm))
    reference.SetDirection((1, 0, 0, 0, 1, 0, 0, 0, -1))
    reference.SetOrigin((float(low[0]), float(low[1]), float(high[2]) - offset_mm))
    return reference
