"""Vertebral levels of an axial muscle stack without hand-placed landmarks.

Two ways, both returning the ``LevelSlices`` dict of :mod:`levels` (bodies "L4" and discs "L4-L5"):

* from a sagittal series of the same session: the VBQ detector finds and names the vertebral bodies
  (counting up from the sacrum); each axial slice plane is intersected, in physical LPS space, with
  the polyline through the body centres, and falls on a body or on the disc between two bodies;
* from the axial stack alone: the body/disc alternation along the stack in the vertebral-body column
  (found as the in-plane spot whose signal varies most along the stack), counted from the sacrum
  when the sacral ala are seen, otherwise from an assumed lowest body (flagged "levels unverified").

Typical adult lumbar geometry used as priors: body height ~27-30 mm, disc height ~8-12 mm, i.e.
bodies fill ~74 % of the centre-to-centre spacing (Zhou et al. 2000, Eur Spine J 9:242-248).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu

from .errors import InputError
from .imageio import Volume
from .levels import LEVEL_ORDER, LevelSlices

BODY_SHARE_OF_SPACING = 0.74  # 28 mm body / 38 mm centre spacing
SPINE_NAMES = ("T7", "T8", "T9", "T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1")
UNVERIFIED_FLAG = "levels_unverified"
VERIFIED_MIN_CONFIDENCE = 0.7
COLUMN_SMOOTH_MM = 4.0  # in-plane smoothing: keeps the ~40 mm body, averages edge jitter away
COLUMN_RADIUS_MM = 8.0  # sampled disc of the body column (inside any adult lumbar body)
DETREND_MM = 40.0  # along-stack trend (coil shading) removed before body/disc classification
MAX_BODY_RUN_MM, MAX_DISC_RUN_MM = 45.0, 20.0  # longer runs mean the alternation was not found
MIRROR_REACH_MM, SEARCH_MM, MIDLINE_BAND_MM = 60.0, 40.0, 6.0  # back muscles either side; body on the line
CORE_MM, MAX_CORE_CV = 15.0, 0.3  # as the sagittal body detector: a homogeneous ~15 mm marrow core
SACRUM_WIDTH_RATIO = 1.8  # sacrum with ala is > ~2x as wide as a lumbar body (~45 mm)


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


def levels_from_body_centres(axial: Volume, centres_lps: Mapping[str, Sequence[float]],
                             heights_mm: Optional[Mapping[str, float]] = None) -> LevelSlices:
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


def _superior_step(axial: Volume) -> int:
    """+1 when increasing slice index moves superior (LPS +z), else -1."""
    return 1 if axial.direction[2, 2] >= 0 else -1


def _midline_column(mean: np.ndarray, tissue: np.ndarray, spacing_x: float) -> int:
    """Column of best left-right mirror symmetry of the stack-mean image (the spine lies on it)."""
    cols = np.nonzero(tissue.any(axis=0))[0]
    reach = max(3, int(round(MIRROR_REACH_MM / spacing_x)))
    centre = (cols.min() + cols.max()) / 2
    best, best_score = int(round(centre)), -np.inf
    for c in range(max(reach, int(centre - SEARCH_MM / spacing_x)),
                   min(mean.shape[1] - reach - 1, int(centre + SEARCH_MM / spacing_x)) + 1):
        left, right = mean[:, c - reach:c][:, ::-1].ravel(), mean[:, c + 1:c + 1 + reach].ravel()
        score = float(np.corrcoef(left, right)[0, 1]) if left.std() > 0 and right.std() > 0 else -1.0
        if score > best_score:
            best, best_score = c, score
    return best


def find_body_column(axial: Volume) -> Tuple[int, int]:
    """(row, column) of the vertebral-body column on the LPS-reoriented stack: on the mirror-symmetry
    midline, the spot whose signal alternates most along the stack (body vs disc) and that is flat
    in-plane like marrow; contrast-agnostic."""
    values = axial.array.astype(np.float32)
    sigma = (0.0, COLUMN_SMOOTH_MM / axial.spacing[1], COLUMN_SMOOTH_MM / axial.spacing[0])
    smooth = ndimage.gaussian_filter(values, sigma)
    trend = ndimage.gaussian_filter1d(smooth, DETREND_MM / axial.spacing[2], axis=0, mode="nearest")
    relative = np.sqrt(np.mean((smooth - trend) ** 2, axis=0)) / np.maximum(smooth.mean(axis=0), 1e-6)
    mean = smooth.mean(axis=0)
    tissue = mean > 0.25 * threshold_otsu(mean)
    if not tissue.any():
        raise InputError(axial.source, "no tissue found to locate the spine")
    midline = _midline_column(mean, tissue, axial.spacing[0])
    near = np.zeros_like(tissue)
    half = max(1, int(round(MIDLINE_BAND_MM / axial.spacing[0])))
    near[:, max(midline - half, 0):midline + half + 1] = True
    score = np.where(near & tissue, relative * _homogeneity(values, axial.spacing), 0.0)
    return tuple(int(v) for v in np.unravel_index(int(np.argmax(score)), score.shape))


def _homogeneity(values: np.ndarray, spacing) -> np.ndarray:
    """0..1 per pixel: how flat a body-core-sized patch is in-plane, on average over the stack
    (marrow and disc are; the edges of moving muscles and fat planes, which also vary, are not)."""
    size = (1, max(3, int(round(CORE_MM / spacing[1]))), max(3, int(round(CORE_MM / spacing[0]))))
    mean = ndimage.uniform_filter(values, size)
    std = np.sqrt(np.maximum(ndimage.uniform_filter(values * values, size) - mean * mean, 0.0))
    cv = np.median(std / np.maximum(mean, 1e-6), axis=0)
    return np.clip(1.0 - cv / MAX_CORE_CV, 0.0, None)


def _canonical_stack(axial: Volume) -> Tuple[Volume, np.ndarray]:
    """LPS-reoriented copy (i left, j posterior) and, per input slice, its canonical slice index."""
    from .segmentation.orientation import to_canonical  # permutations/flips only, no resampling

    canonical, _ = to_canonical(axial)
    n = axial.array.shape[0]
    index = np.ascontiguousarray(np.broadcast_to(np.arange(n, dtype=np.int16)[:, None, None], axial.array.shape))
    moved, _ = to_canonical(axial.with_array(index))
    order = np.array([int(np.flatnonzero((moved.array == k).all(axis=(1, 2)))[0]) for k in range(n)])
    return canonical, order


def _column_profile(axial: Volume, centre: Tuple[int, int]) -> np.ndarray:
    n_j, n_i = axial.array.shape[1:]
    jj, ii = np.ogrid[:n_j, :n_i]
    disc = ((jj - centre[0]) * axial.spacing[1]) ** 2 + ((ii - centre[1]) * axial.spacing[0]) ** 2
    region = disc <= COLUMN_RADIUS_MM ** 2
    return np.array([float(np.median(s[region])) for s in axial.array.astype(np.float32)])


def _runs(classes: np.ndarray) -> List[Tuple[int, int, int]]:
    """(class, first, last) of each run of equal values."""
    runs, start = [], 0
    for k in range(1, len(classes) + 1):
        if k == len(classes) or classes[k] != classes[start]:
            runs.append((int(classes[start]), start, k - 1))
            start = k
    return runs


def _body_width_mm(slice_values: np.ndarray, centre: Tuple[int, int], body_level: float, spacing_x: float) -> float:
    """Left-right extent of body-like signal through the column centre (sacral ala widen it)."""
    row = ndimage.uniform_filter1d(slice_values[centre[0]].astype(np.float32), 5)
    similar = np.abs(row - body_level) <= 0.2 * abs(body_level)
    labelled, _ = ndimage.label(similar)
    own = labelled[centre[1]]
    return float(np.count_nonzero(labelled == own) * spacing_x) if own else 0.0


def levels_from_axial(axial: Volume, lowest_body: str = "L5") -> AxialLevels:
    """Body/disc pattern along the stack, named upward from S1 (when the sacrum is seen) or from
    `lowest_body` (an assumption: the result is then flagged unverified)."""
    n = axial.array.shape[0]
    if n < 3:
        raise InputError(axial.source, "too few slices to see the body/disc alternation")
    canonical, order = _canonical_stack(axial)
    centre = find_body_column(canonical)
    profile = _column_profile(canonical, centre)[order]  # back to the input's slice order
    trend = ndimage.gaussian_filter1d(profile, DETREND_MM / axial.spacing[2], mode="nearest")
    detrended = profile - trend
    level = threshold_otsu(detrended) if np.ptp(detrended) > 0 else 0.0
    classes = ndimage.median_filter((detrended > level).astype(int), size=3, mode="nearest")
    runs = _runs(classes)
    length = {c: np.mean([last - first + 1 for cc, first, last in runs if cc == c] or [0]) for c in (0, 1)}
    body_class = 1 if length[1] >= length[0] else 0
    notes = [f"vertebral-body column at row {centre[0]}, column {centre[1]}"]
    inside = classes == body_class
    contrast = abs(profile[inside].mean() - profile[~inside].mean()) if inside.any() and (~inside).any() else 0.0
    noise = np.sqrt(0.5 * (np.var(detrended[inside]) + np.var(detrended[~inside]))) if contrast else 1.0
    separation = float(contrast / max(noise, 1e-6))
    confidence = float(np.clip(separation / 4.0, 0.0, 1.0))
    dz = axial.spacing[2]
    bodies = [(first, last) for c, first, last in runs if c == body_class]
    for c, first, last in runs:
        limit = MAX_BODY_RUN_MM if c == body_class else MAX_DISC_RUN_MM
        inner = 0 < first and last < n - 1  # runs cut by the stack ends may be shorter or longer
        if inner and (last - first + 1) * dz > limit:
            confidence *= 0.5
            notes.append(f"slices {first}-{last}: {(last - first + 1) * dz:.0f} mm run is implausible for a "
                         f"{'body' if c == body_class else 'disc'}")
    step = _superior_step(axial)
    bodies.sort(key=lambda run: step * run[0])  # inferior first
    sacrum = _sacrum_seen(canonical, centre, profile, bodies, order)
    anchor_rank = _rank("S1") if sacrum else _rank(lowest_body)
    if sacrum:
        notes.append("sacrum (ala wider than the lumbar bodies) seen: levels counted up from S1")
    else:
        confidence = min(confidence, 0.4)
        notes.append(f"sacrum not seen: the lowest body was assumed to be {lowest_body}; levels unverified")
    names = {run: SPINE_NAMES[anchor_rank - index] for index, run in enumerate(bodies)
             if anchor_rank - index >= 0}
    slices: LevelSlices = {}
    for (first, last), name in names.items():
        if name in LEVEL_ORDER:
            slices[name] = list(range(first, last + 1))
    ordered = sorted(names.items(), key=lambda item: item[0][0])
    for (run_a, name_a), (run_b, name_b) in zip(ordered, ordered[1:]):
        upper, lower = sorted((name_a, name_b), key=_rank)
        disc = disc_name(upper, lower)
        if disc and run_b[0] - run_a[1] > 1:
            slices[disc] = list(range(run_a[1] + 1, run_b[0]))
    verified = sacrum and confidence >= VERIFIED_MIN_CONFIDENCE
    return AxialLevels(slices, round(confidence, 3), verified, "axial", notes)


def _sacrum_seen(axial: Volume, centre, profile: np.ndarray, bodies: List[Tuple[int, int]], order) -> bool:
    """The lowest body run is S1 when the body-like signal there is much wider than in the others."""
    if len(bodies) < 2:
        return False
    widths = []
    for first, last in bodies:
        middle = (first + last) // 2
        widths.append(_body_width_mm(axial.array[order[middle]], centre, profile[middle], axial.spacing[0]))
    others = float(np.median(widths[1:]))
    return others > 0 and widths[0] > SACRUM_WIDTH_RATIO * others


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
