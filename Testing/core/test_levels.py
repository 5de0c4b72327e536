"""Vertebral levels of an axial stack from slice ranges, landmarks or a vertebra label map."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spinequant.errors import InputError
from spinequant.levels import levels_from_points, levels_from_ranges, levels_from_vertebra_map, resolve_levels
from spinequant.phantoms.axial import make_axial_phantom


@pytest.fixture(scope="module")
def phantom():
    return make_axial_phantom(seed=1)


def test_ranges():
    assert levels_from_ranges("L4:2-4, l5:6", 10) == {"L4": [2, 3, 4], "L5": [6]}
    with pytest.raises(InputError, match="outside 0-9"):
        levels_from_ranges("L4:8-12", 10)
    with pytest.raises(InputError, match="unknown level name"):
        levels_from_ranges("X9:1-2", 10)


def test_vertebra_map_names_bodies_and_discs(phantom):
    levels = levels_from_vertebra_map(phantom.vertebrae, phantom.image)
    for name, slices in phantom.level_slices.items():
        assert levels[name] == slices
    assert "L3-L4" in levels and "L4-L5" in levels
    assert set(levels["L3-L4"]).isdisjoint(levels["L3"])


def test_points_at_mid_vertebra(phantom, tmp_path):
    matrix = phantom.image.ijk_to_lps()
    points = {}
    for name, slices in phantom.level_slices.items():
        middle = float(np.mean(slices))
        points[name] = (matrix @ np.array([10, 10, middle, 1.0]))[:3].tolist()
    levels = levels_from_points(points, phantom.image)
    for name, slices in phantom.level_slices.items():
        assert set(slices) <= set(levels[name]) or len(set(slices) & set(levels[name])) >= len(slices) - 2
        assert int(round(np.mean(slices))) in levels[name]
    file = tmp_path / "points.json"
    ras = {k: [-v[0], -v[1], v[2]] for k, v in points.items()}
    file.write_text(json.dumps({**ras, "coordinate_system": "RAS"}))
    assert resolve_levels(str(file), phantom.image) == levels


def test_point_outside_stack_refused(phantom):
    with pytest.raises(InputError, match="L1 lie outside the axial stack"):
        levels_from_points({"L1": [0, 0, -500.0]}, phantom.image)
