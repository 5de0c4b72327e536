"""Level labels agreed by the sagittal slices around the midline (a majority vote).

On one slice the body chain can skip a patchy body, run on into pelvic look-alikes or follow the
spinous processes, and the sacrum search can then anchor the count one level off. The vertebral bodies are
~40-50 mm wide, so every slice within a few millimetres of the midline shows the same bodies at the same
heights: labelling each of them independently and keeping the answer most of them give (the height of
L3 within a third of the body spacing) removes the slice-specific mistakes. The measurement slice is
the agreeing slice nearest the anatomical midline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List

import numpy as np

from .detect import MIN_CHAIN_BODIES, Chain, find_body_chain
from .levels import LUMBAR, LevelLabels, name_levels
from .sacrum import find_sacrum
from .view import SagittalView

VOTE_HALF_WIDTH_MM = 10.0  # inside the half width of a lumbar body (~20 mm)
MIN_VOTERS_EACH_SIDE = 2  # thick slices: still a few slices either side
VOTE_STEP_MM = 2.0
AGREEMENT_SHARE_OF_SPACING = 0.3  # two labellings agree when each lumbar level is this close


@dataclass
class SliceLabels:
    slice_index: int
    chain: Chain
    labels: LevelLabels


@dataclass
class Vote:
    chosen: SliceLabels
    votes: int  # slices agreeing with the chosen labelling
    voters: int  # slices that showed a column
    runner_up_votes: int  # slices agreeing with the best labelling that disagrees with the chosen one


class SliceChains:
    """The body chain of each slice of a view, found once: midline search, consensus and the fallback all
    ask for the chains of the same slices."""

    def __init__(self, view: SagittalView):
        self.view = view
        self._chains: Dict[int, Chain] = {}

    def __call__(self, k: int) -> Chain:
        if k not in self._chains:
            self._chains[k] = find_body_chain(self.view.slice_image(k))
        return self._chains[k]


def label_slice(chains: SliceChains, k: int) -> SliceLabels | None:
    """Chain and level names on one slice, or None when it shows no column."""
    chain = chains(k)
    if len(chain.centres) < MIN_CHAIN_BODIES:
        return None
    return SliceLabels(k, chain, name_levels(chain.centres, find_sacrum(chains.view.slice_image(k), chain.centres)))


def _spacing(candidate: SliceLabels) -> float:
    rows = [c[0] for c in candidate.chain.centres]
    return float(np.median(np.diff(rows))) if len(rows) > 1 else 35.0


def _agree(a: SliceLabels, b: SliceLabels) -> bool:
    """Same lumbar levels at the same heights (every level both name within a third of the spacing)."""
    tolerance = AGREEMENT_SHARE_OF_SPACING * min(_spacing(a), _spacing(b))
    shared = [n for n in LUMBAR if n in a.labels.centres and n in b.labels.centres]
    return len(shared) >= 3 and all(abs(a.labels.centres[n][0] - b.labels.centres[n][0]) <= tolerance for n in shared)


def vote_levels(chains: SliceChains, k_mid: int) -> Vote | None:
    """Label the slices within VOTE_HALF_WIDTH_MM of k_mid; the labelling most of them agree with wins
    (weighted by each labelling's confidence); ties go to the slice nearest k_mid."""
    view = chains.view
    n = view.volume.array.shape[0]
    step = max(1, int(round(VOTE_STEP_MM / view.slice_spacing)))
    half = max(int(VOTE_HALF_WIDTH_MM / view.slice_spacing), MIN_VOTERS_EACH_SIDE * step)
    slices = sorted({k for k in range(k_mid - half, k_mid + half + 1, step) if 0 <= k < n} | {k_mid})
    found: List[SliceLabels] = [c for c in (label_slice(chains, k) for k in slices) if c is not None]
    if not found:
        return None

    def support(candidate: SliceLabels) -> float:
        return sum(other.labels.confidence for other in found if _agree(candidate, other))

    best = max(found, key=lambda c: (support(c), c.labels.confidence, -abs(c.slice_index - k_mid)))
    agreeing = [c for c in found if _agree(best, c)]
    nearest = min(
        agreeing,
        key=lambda c: (
            sum(n not in c.labels.centres for n in LUMBAR),
            abs(c.slice_index - k_mid),
            -c.labels.confidence,
        ),
    )
    others = [c for c in found if not _agree(best, c)]
    runner_up = max((sum(_agree(c, o) for o in others) for c in others), default=0)
    return Vote(nearest, len(agreeing), len(found), runner_up)
