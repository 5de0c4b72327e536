"""Where the spine is on a sagittal series: the mid-sagittal slice and the named levels on it.

The midline comes from anatomy (midsagittal.py), the levels from the chain of bodies counted up from S1
on each slice around it, kept where most slices agree (consensus.py).
"""

from __future__ import annotations

from typing import Tuple

from ..errors import InputError
from .consensus import SliceChains, vote_levels
from .detect import MIN_CHAIN_BODIES, Chain
from .levels import name_levels
from .midsagittal import find_midsagittal_slice
from .sacrum import find_sacrum
from .view import SagittalView

MAX_RUNNER_UP_SHARE = 0.75  # a competing labelling with this share of the winner's votes: levels uncertain


def detect_chain(view: SagittalView, chains: SliceChains) -> Tuple[int, Chain, str]:
    """Mid-sagittal slice, its chain of bodies and how the slice was found; raises InputError when no spine
    is visible."""
    n = view.volume.array.shape[0]
    chain, k_chain = Chain([], 0.0, []), n // 2
    for k_chain in dict.fromkeys((n // 2, n // 3, (2 * n) // 3)):
        chain = chains(k_chain)
        if len(chain.centres) >= MIN_CHAIN_BODIES:
            break
    if len(chain.centres) < MIN_CHAIN_BODIES:
        raise InputError(
            view.volume.source,
            "no vertebral column found (fewer than 3 vertebral bodies in a "
            "column); is this a sagittal lumbar spine MRI?",
        )
    if n <= 4:
        return k_chain, chain, "mid-sagittal slice: the middle of a thin slab"
    midline = find_midsagittal_slice(view, chain, k_chain, chains)
    k_mid = midline.slice_index
    mid_chain = chains(k_mid)
    if len(mid_chain.centres) >= max(MIN_CHAIN_BODIES, len(chain.centres) - 1):
        chain = mid_chain
    return k_mid, chain, f"mid-sagittal slice {k_mid}: {midline.method}"


def detect_levels(view: SagittalView):
    """Mid-sagittal slice, body chain and level names (counted up from S1 when the sacrum is found)."""
    chains = SliceChains(view)
    k_mid, chain, how = detect_chain(view, chains)
    vote = vote_levels(chains, k_mid)
    if vote is None:
        return k_mid, name_levels(chain.centres, find_sacrum(view.slice_image(k_mid), chain.centres)), how
    labels = vote.chosen.labels
    how += (
        f"; levels agreed by {vote.votes} of {vote.voters} slices around it, measured on slice "
        f"{vote.chosen.slice_index}"
    )
    if vote.runner_up_votes >= MAX_RUNNER_UP_SHARE * vote.votes:
        labels.confidence = min(labels.confidence, 0.4)
        labels.notes.append(
            f"the slices around the midline disagree on the levels ({vote.votes} for these, "
            f"{vote.runner_up_votes} for another count): a human must confirm them"
        )
    return vote.chosen.slice_index, labels, how
