"""Axial-only vertebral levels on real anatomy: the shared sagittal volumes resliced into 4 mm axial
stacks (expert vertebra labels give each slice's level) and the real axial Dixon stack TUM01 (L2-L5,
no sacrum). The levels must be right wherever they are passed as verified, and flagged unverified
whenever the sacrum is not in view."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from shared_data import shared_case
from spinequant.axial_levels import UNVERIFIED_FLAG, levels_from_axial

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from eval_axial_levels_shared import S1_IN_VIEW, SAGITTAL_CASES, load_case, miscounted, score  # noqa: E402

pytestmark = pytest.mark.shared


def _run(case: str):
    stack, truth, present = load_case(shared_case(*case.split("/")))
    found = levels_from_axial(stack)
    return found, score(found, truth, present, stack.spacing[2]), truth


@pytest.mark.parametrize("case", SAGITTAL_CASES)
def test_verified_levels_are_never_miscounted(case):
    found, counts, truth = _run(case)
    if found.verified:
        assert not miscounted(found, truth) and counts["wrong"] == 0, (counts, found.notes)
        named = counts["slices"] - counts["unnamed"]  # thoracic slices above the counted chain stay unnamed
        assert counts["correct"] >= 0.6 * named, counts  # the rest: tilted endplates, boundaries a slice off
        assert "S1" in found.slices and "L4-L5" in found.slices and found.confidence >= 0.7
    else:
        assert found.flag == UNVERIFIED_FLAG and found.confidence < 0.7


@pytest.mark.parametrize("case", [c for c in SAGITTAL_CASES if c.split("/")[1] not in S1_IN_VIEW])
def test_no_sacrum_in_view_gives_unverified(case):
    found = _run(case)[0]
    assert not found.verified and found.flag == UNVERIFIED_FLAG, found.notes


def test_most_stacks_with_the_sacrum_in_view_are_counted():
    verified = [c for c in SAGITTAL_CASES if c.split("/")[1] in S1_IN_VIEW and _run(c)[0].verified]
    assert len(verified) >= 4, verified  # 5 of 6 at the time of writing (VB1_06: no clear turn into S1)


def test_tum01_l2_to_l5_without_sacrum_is_unverified():
    found = _run("axial_dixon/TUM01")[0]
    assert not found.verified and found.flag == UNVERIFIED_FLAG and found.confidence <= 0.4
    assert "S1" not in found.slices
