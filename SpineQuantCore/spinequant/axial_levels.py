"""Vertebral levels of an axial muscle stack without hand-placed landmarks.

Two ways, both returning the ``LevelSlices`` dict of :mod:`levels` (bodies "L4" and discs "L4-L5"):

* from a sagittal series of the same session: the VBQ detector finds and names the vertebral bodies
  (counting up from the sacrum); each axial slice plane is intersected, in physical LPS space, with
  the polyline through the body centres, and falls on a body or on the disc between two bodies;
* from the axial stack alone: the discs along the vertebral-body column, tracked slice by slice
  (axial_levels_profile), linked into a chain of vertebra-spaced discs and counted up from S1 when
  the sacrum is seen below the lowest one (the whole column turns backward there, S1 being tilted
  ~40 degrees against a lordotic L5, or the ala are much wider than the lumbar bodies); otherwise
  named from an assumed lowest body and flagged "levels unverified". Only L5-S1 .. T12-L1 are
  counted: each further disc adds a chance of a miscount and the paraspinal muscles end at T12.

Typical adult lumbar geometry used as priors: body height ~27-30 mm, disc height ~8-12 mm, i.e.
bodies fill ~74 % of the centre-to-centre spacing (Zhou et al. 2000, Eur Spine J 9:242-248).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .axial_levels_profile import (
    DiscPeaks,
    ala_seen,
    canonical_stack,
    column_profile,
    column_trajectory,
    find_discs,
    track_column,
)
from .errors import InputError
from .imageio import Volume
from .levels import LEVEL_ORDER, LevelSlices

BODY_SHARE_OF_SPACING = 0.74  # 28 mm body / 38 mm centre spacing
SPINE_NAMES = ("T7", "T8", "T9", "T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1")
UNVERIFIED_FLAG = "levels_unverified"
VERIFIED_MIN_CONFIDENCE = 0.7
VERTEBRA_SPACING_MM = (24.0, 50.0)  # disc-to-disc along the stack, T10 (~28 mm) to a tall L3 (~45 mm)
CHAIN_GAP_RANGE = (0.65, 1.5)  # of the typical spacing: shorter is a spurious peak, longer a missed disc
MIN_CHAIN_DISCS = 3  # L5-S1, L4-L5, L3-L4: fewer cannot be counted
MAX_COUNTED_DISCS = 6  # L5-S1 ... T12-L1: counting errors grow with every disc, the muscles end at T12
SACRAL_SLOPE = 0.75  # below L5-S1 the column runs backward >= 0.75 mm per mm down (S1 tilted >~ 37 degrees) ...
LUMBOSACRAL_EXTRA_SLOPE = 0.25  # ... clearly more than over L5 (the lumbosacral angle)
SACRAL_SLOPE_REACH_MM = 24.0  # judged over the first sacral segment; a stack ending sooner cannot show it
GAP_CV_RANGE = (0.2, 0.45)  # relative SD of disc spacing: normal up to (body heights, 4 mm slices), none left at


@dataclass
class AxialLevels:
    """Slices per level plus how far to trust them."""

    slices: LevelSlices
    confidence: float
    verified: bool
    method: str  # "sagittal" or "axial"
    notes: List[str] = field(default_factory=list)

    @property
    def flag(self) -> str:
        return "" if self.verified else UNVERIFIED_FLAG


def _rank(name: str) -> int:
    return SPINE_NAMES.index(name) if name in SPINE_NAMES else -1


def disc_name(upper: str, lower: str) -> Optional[str]:
    """'L4-L5' style name when both neighbours are levels this project measures."""
    if upper in LEVEL_ORDER and lower in LEVEL_ORDER:
        return f"{upper}-{lower}"
    return None


def _slice_planes(axial: Volume) -> Tuple[np.ndarray, np.ndarray]:
    """A point on every slice (slice centre, LPS) and the common unit normal."""
    matrix = axial.ijk_to_lps()
    n_k, n_j, n_i = axial.array.shape
    ks = np.arange(n_k, dtype=float)
    index = np.stack([np.full(n_k, (n_i - 1) / 2), np.full(n_k, (n_j - 1) / 2), ks, np.ones(n_k)])
    points = (matrix @ index)[:3].T
    normal = np.cross(axial.direction[:, 0], axial.direction[:, 1])
    return points, normal / np.linalg.norm(normal)


def _heights(names: Sequence[str], centres: np.ndarray, heights_mm: Optional[Mapping[str, float]]) -> np.ndarray:
    gaps = np.linalg.norm(np.diff(centres, axis=0), axis=1)
    result = []
    for index, name in enumerate(names):
        near = [gaps[g] for g in (index - 1, index) if 0 <= g < len(gaps)]
        default = BODY_SHARE_OF_SPACING * float(np.mean(near)) if near else 28.0
        result.append(float((heights_mm or {}).get(name, default)))
    return np.asarray(result)


def levels_from_body_centres(
    axial: Volume, centres_lps: Mapping[str, Sequence[float]], heights_mm: Optional[Mapping[str, float]] = None
) -> LevelSlices:
    """Name each axial slice by where its plane cuts the chain of body centres (LPS mm).

    Between two centres a distance t along the segment lies in the upper body when t <= h_upper / 2,
    in the lower body when (L - t) <= h_lower / 2, and in the disc otherwise.
    """
    names = sorted((n for n in centres_lps if n in SPINE_NAMES), key=_rank)
    if len(names) < 2:
        raise InputError("sagittal levels", "fewer than two named vertebral bodies to map onto the axial stack")
    centres = np.array([np.asarray(centres_lps[n], float) for n in names])
    heights = _heights(names, centres, heights_mm)
    points, normal = _slice_planes(axial)
    result: LevelSlices = {}
    for k, point in enumerate(points):
        signed = (centres - point) @ normal
        name = _level_on_plane(names, centres, heights, signed)
        if name:
            result.setdefault(name, []).append(k)
    return result


def _level_on_plane(names, centres, heights, signed) -> Optional[str]:
    for a in range(len(names) - 1):
        sa, sb = signed[a], signed[a + 1]
        if sa == sb or sa * sb > 0:
            continue
        length = float(np.linalg.norm(centres[a + 1] - centres[a]))
        t = sa / (sa - sb) * length
        if t <= heights[a] / 2:
            return names[a] if names[a] in LEVEL_ORDER else None
        if length - t <= heights[a + 1] / 2:
            return names[a + 1] if names[a + 1] in LEVEL_ORDER else None
        return disc_name(names[a], names[a + 1])
    # beyond either end of the chain: still inside the end body within half its height
    for end in (0, len(names) - 1):
        if abs(signed[end]) <= heights[end] / 2 and np.sign(signed[end]) == np.sign(signed[1 if end == 0 else -2]):
            return names[end] if names[end] in LEVEL_ORDER else None
    return None


def levels_from_sagittal(axial: Volume, sagittal: Volume) -> AxialLevels:
    """Detect and name the bodies on the sagittal series (VBQ detector), then map them to axial slices."""
    from .vbq.pipeline import detect_levels  # late: the VBQ package is optional for axial-only work
    from .vbq.view import SagittalView

    view = SagittalView.of(sagittal)
    k_mid, named, _ = detect_levels(view)
    centres = {n: view.view_to_lps(k_mid, row, col) for n, (row, col) in named.centres.items()}
    slices = levels_from_body_centres(axial, centres)
    notes = [f"levels from sagittal series {sagittal.source}"] + list(named.notes)
    if not slices:
        notes.append("the axial stack does not overlap the detected vertebral bodies")
    verified = named.sacrum_found and named.confidence >= VERIFIED_MIN_CONFIDENCE and bool(slices)
    return AxialLevels(slices, named.confidence, verified, "sagittal", notes)


# ---------------------------------------------------------------- axial stack alone


def _chain(centres: np.ndarray, strength: np.ndarray, start: int, spacing: float) -> List[int]:
    """Discs linked upward from `start`, each next one a plausible vertebra away (the strongest such);
    peaks closer than that are skipped, a larger gap (a missed disc) ends the chain."""
    chain = [start]
    while True:
        gaps = centres - centres[chain[-1]]
        ahead = np.flatnonzero((gaps >= CHAIN_GAP_RANGE[0] * spacing) & (gaps <= CHAIN_GAP_RANGE[1] * spacing))
        if ahead.size == 0:
            return chain
        chain.append(int(ahead[np.argmax(strength[ahead])]))


def _slope(position: np.ndarray, low: float, high: float, dz: float) -> float:
    """mm the column moves backward per mm down between two canonical slice positions (low < high):
    the median slice-to-slice shift, so one poorly matched slice cannot fake or hide a turn."""
    a, b = int(round(low)), min(int(round(high)), len(position) - 1)
    if a < 0 or b - a < 2:
        return np.nan  # too short, or the stack ends before the reach
    return float(-np.median(np.diff(position[a : b + 1])) / dz)


def _anchor(centres: np.ndarray, strength: np.ndarray, spacing: float, position: np.ndarray, dz: float):
    """(lowest disc, chain upward from it, sacral turn seen below it). The chain start is a disc
    where the column turns backward steeply below it (S1 sits tilted ~40 degrees at the lumbosacral
    angle) but less over the vertebra above it, which (L5, lordotic) must not lean forward; without
    such a disc, the lowest disc of the longest chain. Two discs that both look like L5-S1 leave the
    count unverified."""
    below = SACRAL_SLOPE_REACH_MM / dz  # in slices
    starts = [(i, _chain(centres, strength, i, spacing)) for i in range(len(centres))]
    starts = [(i, chain) for i, chain in starts if len(chain) >= 2]
    turns = []
    for i, chain in starts:
        under = _slope(position, centres[i] - below, centres[i], dz)
        over = _slope(position, centres[i], centres[chain[1]], dz)
        if under >= SACRAL_SLOPE and under - over >= LUMBOSACRAL_EXTRA_SLOPE and over >= 0.0:  # L5: lordotic
            turns.append((i, chain))
    if len(turns) == 1:
        return turns[0][0], turns[0][1], True
    if not starts:
        return None, [], False
    i, chain = max(starts, key=lambda item: (len(item[1]), -item[0]))
    return i, chain, False


def _name_slices(discs: DiscPeaks, chain: List[int], lowest: str, spacing: float, n: int) -> Dict[str, List[int]]:
    """Canonical slices per level: each chain disc (peak +- its half width), the bodies between them,
    and at either end of the chain one body height's worth of slices."""
    names = [SPINE_NAMES[_rank(lowest) - j] if _rank(lowest) - j >= 0 else "" for j in range(len(chain) + 1)]
    result: Dict[str, List[int]] = {}
    bounds = []
    for j, index in enumerate(chain):
        k, half = int(discs.slices[index]), int(discs.half_widths[index])
        bounds.append((k - half, k + half))
        disc = disc_name(names[j + 1], names[j]) if names[j + 1] else None
        if disc:
            result[disc] = [s for s in range(k - half, k + half + 1) if 0 <= s < n]
    reach = int(round(BODY_SHARE_OF_SPACING * spacing))
    edges = [(bounds[0][0] - reach, bounds[0][0])] + [(a[1] + 1, b[0]) for a, b in zip(bounds, bounds[1:])]
    edges.append((bounds[-1][1] + 1, bounds[-1][1] + 1 + reach))
    for name, (first, stop) in zip(names, edges):
        if name in LEVEL_ORDER:
            result[name] = [s for s in range(max(first, 0), min(stop, n))]
    return {name: ks for name, ks in result.items() if ks}


def levels_from_axial(axial: Volume, lowest_body: str = "L5") -> AxialLevels:
    """Disc chain along the tracked body column, named upward from S1 when the sacrum is seen below
    it, otherwise from `lowest_body` (an assumption: the result is then flagged unverified)."""
    n = axial.array.shape[0]
    if n < 3:
        raise InputError(axial.source, "too few slices to see the body/disc alternation")
    canonical, order = canonical_stack(axial)
    track = track_column(canonical)
    dz = axial.spacing[2]
    discs = find_discs(column_profile(canonical, track), dz)
    centres = discs.centres
    gaps = np.diff(centres) * dz
    plausible = gaps[(gaps >= VERTEBRA_SPACING_MM[0]) & (gaps <= VERTEBRA_SPACING_MM[1])]
    notes = [f"body column tracked at image column {track.column}; {len(centres)} disc-like peaks"]
    if plausible.size < 1:
        notes.append("no regular body/disc alternation found along the stack; levels not assigned")
        return AxialLevels({}, 0.0, False, "axial", notes)
    spacing = float(np.median(plausible)) / dz  # in slices
    position = column_trajectory(canonical, track)
    anchor, chain, turn = _anchor(centres, discs.strength, spacing, position, dz)
    if anchor is None:
        notes.append("no two discs a vertebra apart; levels not assigned")
        return AxialLevels({}, 0.0, False, "axial", notes)
    sacrum = turn or ala_seen(canonical, track, centres, chain)
    strength = float(np.median(discs.strength[chain[:4]]))
    chain_gaps = np.diff(centres[chain[:5]])
    spread = float(np.std(chain_gaps) / np.mean(chain_gaps))
    regular = 1.0 - (spread - GAP_CV_RANGE[0]) / (GAP_CV_RANGE[1] - GAP_CV_RANGE[0])
    regular = regular if len(chain_gaps) > 1 else 0.5  # one gap shows no regularity
    confidence = float(np.clip(min((strength - 1.0) / 2.0, regular, len(chain) / 4.0), 0.0, 1.0))
    if sacrum:
        notes.append(f"sacrum seen below the disc at {dz * centres[anchor]:.0f} mm: levels counted up from S1")
    else:
        confidence = min(confidence, 0.4)
        notes.append(f"sacrum not seen: the lowest body was assumed to be {lowest_body}; levels unverified")
    named = _name_slices(discs, chain[:MAX_COUNTED_DISCS], "S1" if sacrum else lowest_body, spacing, n)
    back = np.argsort(order)  # canonical index -> input index
    slices = {name: sorted(int(back[k]) for k in ks) for name, ks in named.items()}
    verified = sacrum and len(chain) >= MIN_CHAIN_DISCS and confidence >= VERIFIED_MIN_CONFIDENCE
    return AxialLevels(slices, round(confidence, 3), verified, "axial", notes)


def assign_levels(axial: Volume, sagittal: Optional[Volume] = None, lowest_body: str = "L5") -> AxialLevels:
    """Best available: the sagittal series when given and usable, otherwise the axial stack alone."""
    notes: List[str] = []
    if sagittal is not None:
        try:
            result = levels_from_sagittal(axial, sagittal)
            if result.slices:
                return result
            notes += result.notes
        except InputError as exc:
            notes.append(f"sagittal levels failed ({exc.problem}); using the axial stack")
    result = levels_from_axial(axial, lowest_body)
    result.notes = notes + result.notes
    return result


def body_level_agreement(predicted: LevelSlices, truth: LevelSlices) -> Dict[str, bool]:
    """Per true body level: does the majority of its slices carry the same predicted name?"""
    name_of = {k: name for name, ks in predicted.items() for k in ks}
    result = {}
    for name, ks in truth.items():
        if "-" in name:
            continue
        votes = [name_of.get(k, "") for k in ks]
        result[name] = max(set(votes), key=votes.count) == name
    return result
