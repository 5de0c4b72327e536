"""Naming the bodies of a chain by counting up from the sacrum (S1 = first sacral segment).

S1 is recognised by the lumbosacral junction: the step from L5 to S1 turns sharply posterior
(lumbosacral angle) and is not longer than the lumbar spacing (usually shorter: S1 is tilted and its disc
wedge-shaped; with a thick L5-S1 disc about as long). Either the chain already holds that step, or S1
was found by its own search below the chain (sacrum.py), which also drops pelvic look-alike bodies below
L5. When neither sees S1 the sacrum is taken
as out of view (or not found): the lowest body is called L5 and the labelling is marked low-confidence
for a human to confirm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import numpy as np

from .sacrum import TAIL_FORWARD_TILT, Sacrum

LEVEL_NAMES_UP_FROM_S1 = ("S1", "L5", "L4", "L3", "L2", "L1", "T12", "T11", "T10", "T9", "T8", "T7")
LUMBAR = ("L1", "L2", "L3", "L4", "L5")
MIN_SACRAL_TILT = 0.38  # A-P shift / S-I step of the L5->S1 step (~21 degrees off the column axis)
MIN_LUMBAR_STEP = 0.75  # the step into L5 is a lumbar step: at least this share of the spacing,
# and not turning forward more than a pelvic tail does (sacrum.TAIL_FORWARD_TILT)
MAX_SACRAL_STEP = 1.15  # L5->S1 step as a fraction of the median lumbar spacing (about as long or shorter)


@dataclass
class LevelLabels:
    """Level name -> body centre (row, col) in the view, with how sure the naming is."""

    centres: Dict[str, Tuple[int, int]]
    sacrum_found: bool
    confidence: float
    notes: List[str] = field(default_factory=list)


def find_s1(centres: List[Tuple[int, int]]) -> int | None:
    """Index of S1 in a superior-first chain, or None when no lumbosacral step is seen."""
    if len(centres) < 3:
        return None
    points = np.asarray(centres, dtype=float)
    steps = np.diff(points, axis=0)
    spacing = float(np.median(steps[:, 0]))
    for index, (d_row, d_col) in enumerate(steps):
        if index == 0:
            continue  # the step into S1 needs a lumbar step above it for comparison
        above_row, above_col = steps[index - 1]
        if above_row < MIN_LUMBAR_STEP * spacing or above_col < TAIL_FORWARD_TILT * above_row:
            continue  # the body above is no lumbar body in line (a pelvic block turned forward or too close)
        if d_col > MIN_SACRAL_TILT * d_row and d_row < MAX_SACRAL_STEP * spacing:
            return index + 1
    return None


def name_levels(centres: List[Tuple[int, int]], sacrum: Sacrum | None = None) -> LevelLabels:
    """Name a superior-first chain of body centres; the sacrum (in the chain or searched below it)
    anchors the count."""
    s1 = find_s1(centres)
    notes: List[str] = []
    if s1 is None and sacrum is not None:
        centres = list(centres[: sacrum.l5_index + 1]) + [tuple(sacrum.s1)]
        s1 = len(centres) - 1
        if sacrum.dropped_tail:
            notes.append(
                f"{sacrum.dropped_tail} body-like block(s) below L5 left out (not in line with the "
                "lumbosacral junction)"
            )
    if s1 is not None:
        anchor, anchor_rank = s1, 0
        kept = centres[: s1 + 1]
        confidence = 0.9 if s1 >= 5 else 0.7
        notes.insert(0, "sacrum identified by the lumbosacral step; levels counted up from S1")
    else:
        anchor, anchor_rank = len(centres) - 1, 1
        kept = centres
        confidence = 0.4
        notes.append(
            "sacrum not identified in the field of view: the lowest body found was called L5; "
            "a human must confirm the levels"
        )
    named: Dict[str, Tuple[int, int]] = {}
    for index, centre in enumerate(kept):
        rank = anchor_rank + (anchor - index)
        if 0 <= rank < len(LEVEL_NAMES_UP_FROM_S1):
            named[LEVEL_NAMES_UP_FROM_S1[rank]] = centre
    missing = [name for name in LUMBAR if name not in named]
    if missing:
        confidence = min(confidence, 0.3)
        notes.append(f"levels not found: {', '.join(missing)}")
    return LevelLabels(named, s1 is not None, confidence, notes)
