"""The sagittal T1-like phantom: deterministic, known VBQ recovered within 2 %."""

from __future__ import annotations

import numpy as np
import pytest

from spinequant.phantoms.sagittal import VERSE_CODES, make_sagittal_phantom
from spinequant.vbq import measure_vbq
from spinequant.vbq.view import SagittalView


def test_phantom_is_deterministic():
    a, b = make_sagittal_phantom(5), make_sagittal_phantom(5)
    assert np.array_equal(a.volume.array, b.volume.array)
    assert a.vbq == b.vbq


@pytest.mark.parametrize("seed", range(10))
def test_phantom_vbq_recovered_within_two_percent(seed):
    phantom = make_sagittal_phantom(seed)
    result = measure_vbq(phantom.volume)
    assert abs(result.vbq / phantom.vbq - 1) < 0.02
    assert result.levels_used == ["L1", "L2", "L3", "L4"]
    assert result.csf_level == "L3"
    labels = SagittalView.of(phantom.labels).slice_image(result.slice_index).round().astype(int)
    for level in ("L1", "L2", "L3", "L4", "L5"):
        assert labels[result.view_centres[level]] == VERSE_CODES[level], level
    assert abs(result.slice_index - phantom.midline_slice) <= 4  # the sac is +-9 mm, bodies +-22 mm wide


@pytest.mark.parametrize("slices, midline_offset", [(25, 0), (41, -5), (51, 8), (61, -10)])
def test_phantom_midline_found_in_slabs_of_any_width_and_position(slices, midline_offset):
    """Slabs narrower and wider than the bodies, midline far from the middle slice."""
    phantom = make_sagittal_phantom(1, slices=slices, midline_offset=midline_offset)
    result = measure_vbq(phantom.volume)
    assert abs(result.slice_index - phantom.midline_slice) <= 4
    assert abs(result.vbq / phantom.vbq - 1) < 0.02


def test_fractured_level_is_flagged_and_left_out():
    phantom = make_sagittal_phantom(2, fractured_level="L2")
    result = measure_vbq(phantom.volume)
    assert "L2" in result.excluded and "fracture" in result.excluded["L2"]
    assert "L2" not in result.levels_used
    assert abs(result.vbq / phantom.vbq - 1) < 0.02
