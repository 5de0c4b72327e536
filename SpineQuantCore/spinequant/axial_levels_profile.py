"""The vertebral-body column of an axial stack, followed slice by slice: its signal profile (discs),
its front-to-back course (the turn into the sacrum) and the width of its bodies (sacral ala).

A fixed in-plane spot leaves the bodies of a lordotic or tilted spine, so the column is tracked: on
the midline, the spot whose signal alternates along the stack with the body/disc period (25-55 mm)
and is flat in-plane like marrow; a dynamic-programming path links the spots with limited
front-to-back drift per mm of stack. Its course is measured separately, by matching neighbouring
slices' midline profiles, because the path is kept smooth on purpose.
Arrays are (K, J, I) on the LPS-reoriented stack: I to patient left, J posterior, K superior.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
from scipy import ndimage, signal
from skimage.filters import threshold_otsu

from .errors import InputError
from .imageio import Volume
from .segmentation.orientation import canonical_slice_order, to_canonical

IN_PLANE_SMOOTH_MM = 2.0  # averages noise, keeps the ~35 mm deep body
BAND_LOW_MM, BAND_HIGH_MM = 6.0, 16.0  # along-stack band pass (Gaussian sigmas) for the ~38 mm period
ENERGY_WINDOW_MM = 30.0  # the alternation is judged over about two vertebrae
DARK_SHARE = 0.3  # of the typical tissue signal: the floor of the local level
CORE_MM, MAX_CORE_CV = 15.0, 0.3  # a homogeneous ~15 mm marrow (or disc) core
MIRROR_REACH_MM, SEARCH_MM = 60.0, 40.0  # back muscles either side of the midline
MIDLINE_BAND_MM = 6.0  # the body column lies on the midline
MAX_DRIFT_PER_MM = 1.2  # front-to-back shift of the column per mm along the stack (sacrum ~1)
DRIFT_COST = 0.05  # score given up per mm of drift: a steady column wins over jumps
SACRUM_WIDTH_RATIO = 1.8  # sacrum with ala is > ~2x as wide as a lumbar body (~45 mm) ...
MIN_ALA_WIDTH_MM = 80.0  # ... and spans > ~100 mm: a narrower or clipped field of view cannot show it
TRAJECTORY_HALF_MM = 50.0  # the spine and its surroundings in front of and behind the track
PROFILE_RADIUS_MM = 7.0  # sampled disc of the body column (inside any adult lumbar body)
DISC_DETREND_MM = 20.0  # removes shading and the body-to-body drift, keeps ~10 mm discs
MIN_DISC_SPACING_MM = 20.0  # no two discs closer than the shortest (upper sacral / T10) segment
MIN_DISC_PROMINENCE = 1.0  # in units of the profile noise
MAX_DISC_HALF_SLICES = 1  # a disc (8-12 mm, tilted) covers at most the peak slice and one either side


def canonical_stack(axial: Volume) -> Tuple[Volume, np.ndarray]:
    """LPS-reoriented copy (i left, j posterior, k superior) and, per input slice, its canonical index
    (DICOMOrient only permutes and flips axes: no resampling)."""

    canonical, _ = to_canonical(axial)
    return canonical, canonical_slice_order(axial)


@dataclass
class ColumnTrack:
    rows: np.ndarray  # J index per canonical slice
    column: int  # I index of the midline


def _midline_column(mean: np.ndarray, tissue: np.ndarray, spacing_x: float) -> int:
    """Column of best left-right mirror symmetry of the stack-mean image (the spine lies on it);
    the reach shrinks to fit a narrow field of view."""
    cols = np.nonzero(tissue.any(axis=0))[0]
    centre = (cols.min() + cols.max()) / 2
    half_width = (cols.max() - cols.min()) / 2
    reach = max(3, int(min(MIRROR_REACH_MM / spacing_x, 0.6 * half_width)))
    best, best_score = int(round(centre)), -np.inf
    for c in range(
        max(reach, int(centre - SEARCH_MM / spacing_x)),
        min(mean.shape[1] - reach - 1, int(centre + SEARCH_MM / spacing_x)) + 1,
    ):
        left, right = mean[:, c - reach : c][:, ::-1].ravel(), mean[:, c + 1 : c + 1 + reach].ravel()
        score = float(np.corrcoef(left, right)[0, 1]) if left.std() > 0 and right.std() > 0 else -1.0
        if score > best_score:
            best, best_score = c, score
    return best


def _column_evidence(values: np.ndarray, spacing) -> np.ndarray:
    """Per voxel: relative body/disc alternation along the stack times in-plane flatness."""
    dz = spacing[2]
    smooth = ndimage.gaussian_filter(values, (0.0, IN_PLANE_SMOOTH_MM / spacing[1], IN_PLANE_SMOOTH_MM / spacing[0]))
    fine = ndimage.gaussian_filter1d(smooth, BAND_LOW_MM / dz / 2, axis=0, mode="nearest")
    coarse = ndimage.gaussian_filter1d(smooth, BAND_HIGH_MM / dz, axis=0, mode="nearest")
    window = ENERGY_WINDOW_MM / dz
    energy = ndimage.gaussian_filter1d((fine - coarse) ** 2, window, axis=0, mode="nearest")
    scale = float(np.median(smooth[smooth > threshold_otsu(smooth)]))
    level = ndimage.gaussian_filter1d(smooth, window, axis=0, mode="nearest")
    relative = np.sqrt(energy) / np.maximum(level, DARK_SHARE * scale)  # dark noise must not look relative-big
    size = (1, max(3, int(round(CORE_MM / spacing[1]))), max(3, int(round(CORE_MM / spacing[0]))))
    mean = ndimage.uniform_filter(values, size)
    std = np.sqrt(np.maximum(ndimage.uniform_filter(values * values, size) - mean * mean, 0.0))
    cv = ndimage.gaussian_filter1d(std / np.maximum(mean, 1e-6), window / 2, axis=0, mode="nearest")
    flat = np.clip(1.0 - cv / MAX_CORE_CV, 0.0, None)
    bright = mean > 0.25 * threshold_otsu(values)  # not air or background
    return relative * flat * bright


def track_column(canonical: Volume) -> ColumnTrack:
    values = canonical.array.astype(np.float32)
    spacing = canonical.spacing
    mean = ndimage.gaussian_filter(values.mean(axis=0), 2.0)
    tissue = mean > 0.25 * threshold_otsu(mean)
    if not tissue.any():
        raise InputError(canonical.source, "no tissue found to locate the spine")
    column = _midline_column(mean, tissue, spacing[0])
    half = max(1, int(round(MIDLINE_BAND_MM / spacing[0])))
    evidence = _column_evidence(values, spacing)[:, :, max(column - half, 0) : column + half + 1].mean(axis=2)
    peak = evidence.max(axis=1, keepdims=True)
    score = evidence / max(float(np.percentile(peak, 90)), 1e-9)
    rows = _best_path(score, MAX_DRIFT_PER_MM * spacing[2] / spacing[1], DRIFT_COST * spacing[1])
    return ColumnTrack(rows, column)


def _best_path(score: np.ndarray, max_step: float, step_cost: float) -> np.ndarray:
    """Row per slice maximising the summed score minus the drift cost (Viterbi)."""
    n_k, n_j = score.shape
    reach = max(1, int(np.ceil(max_step)))
    offsets = np.arange(-reach, reach + 1)
    total = score[0].copy()
    back = np.zeros((n_k, n_j), dtype=np.int32)
    rows = np.arange(n_j)
    for k in range(1, n_k):
        candidates = np.full((len(offsets), n_j), -np.inf)
        for index, offset in enumerate(offsets):
            source = rows - offset
            valid = (source >= 0) & (source < n_j)
            candidates[index, valid] = total[source[valid]] - step_cost * abs(offset)
        best = np.argmax(candidates, axis=0)
        back[k] = rows - offsets[best]
        total = candidates[best, rows] + score[k]
    path = np.zeros(n_k, dtype=int)
    path[-1] = int(np.argmax(total))
    for k in range(n_k - 1, 0, -1):
        path[k - 1] = back[k, path[k]]
    return path


def column_profile(canonical: Volume, track: ColumnTrack) -> np.ndarray:
    """Median signal of a small disc on the tracked column, per canonical slice."""
    n_j, n_i = canonical.array.shape[1:]
    jj, ii = np.ogrid[:n_j, :n_i]
    profile = []
    for k, plane in enumerate(canonical.array.astype(np.float32)):
        disc = ((jj - track.rows[k]) * canonical.spacing[1]) ** 2 + ((ii - track.column) * canonical.spacing[0]) ** 2
        profile.append(float(np.median(plane[disc <= PROFILE_RADIUS_MM**2])))
    return np.asarray(profile)


@dataclass
class DiscPeaks:
    slices: np.ndarray  # canonical slice index of each disc centre, inferior to superior
    centres: np.ndarray  # the same to a fraction of a slice (parabola through the peak and its neighbours)
    strength: np.ndarray  # prominence in units of the profile's noise
    half_widths: np.ndarray  # slices either side still within the disc (0 or 1)
    polarity: int  # +1: discs brighter than the bodies, -1 darker


def find_discs(profile: np.ndarray, slice_mm: float) -> DiscPeaks:
    """Discs are short excursions of the column signal between ~30 mm body plateaus. Their sign
    differs by contrast (dark on T1, often bright on T2), so the sign giving the narrower peaks wins."""
    detrended = profile - ndimage.gaussian_filter1d(profile, DISC_DETREND_MM / slice_mm, mode="nearest")
    noise = 1.4826 * float(np.median(np.abs(detrended - np.median(detrended)))) or 1.0
    distance = max(1, int(MIN_DISC_SPACING_MM / slice_mm))
    best = None
    for polarity in (1, -1):
        peaks, props = signal.find_peaks(
            polarity * detrended, distance=distance, prominence=MIN_DISC_PROMINENCE * noise
        )
        if peaks.size == 0:
            continue
        widths = signal.peak_widths(polarity * detrended, peaks, rel_height=0.5)[0]
        sharpness = float(np.median(props["prominences"]) / np.median(widths))
        if best is None or sharpness > best[0]:
            half = np.clip(np.round((widths * slice_mm - slice_mm) / (2 * slice_mm)), 0, MAX_DISC_HALF_SLICES)
            centres = _refine(polarity * detrended, peaks)
            best = (sharpness, DiscPeaks(peaks, centres, props["prominences"] / noise, half.astype(int), polarity))
    empty = np.array([], int)
    return best[1] if best else DiscPeaks(empty, empty.astype(float), empty.astype(float), empty, 1)


def _refine(values: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Sub-slice peak positions: vertex of the parabola through each peak and its two neighbours."""
    return np.array([k + _vertex(values, int(k)) for k in peaks], dtype=float)


def _body_width_mm(plane: np.ndarray, row: int, column: int, spacing_x: float) -> float:
    """Left-right extent of body-like signal through the column centre (sacral ala widen it)."""
    line = ndimage.uniform_filter1d(plane[row].astype(np.float32), 5)
    level = float(np.median(line[max(column - 3, 0) : column + 4]))
    labelled, _ = ndimage.label(np.abs(line - level) <= 0.2 * abs(level))
    own = labelled[column]
    return float(np.count_nonzero(labelled == own) * spacing_x) if own else 0.0


def ala_seen(canonical: Volume, track, centres: np.ndarray, chain: List[int]) -> bool:
    """The segment below the anchor disc is much wider than the lumbar bodies above it (needs a field
    of view wider than the ala; a narrow one never shows them)."""
    if len(chain) < 2:
        return False
    lows = [max(int(centres[chain[0]] - 3), 0)] + [
        int(round((centres[a] + centres[b]) / 2)) for a, b in zip(chain, chain[1:])
    ]
    widths = [_body_width_mm(canonical.array[k], track.rows[k], track.column, canonical.spacing[0]) for k in lows]
    others = float(np.median(widths[1:]))
    return others > 0 and widths[0] > max(SACRUM_WIDTH_RATIO * others, MIN_ALA_WIDTH_MM)


def column_trajectory(canonical: Volume, track: ColumnTrack) -> np.ndarray:
    """Front-to-back position of the spine per canonical slice (mm, posterior positive, 0 at the
    lowest slice): neighbouring slices' midline profiles are matched by cross-correlation, so the whole
    column (body, canal, posterior elements) decides the shift, not one tracked spot."""
    dy, dz = canonical.spacing[1], canonical.spacing[2]
    half = max(1, int(round(MIDLINE_BAND_MM / canonical.spacing[0])))
    band = canonical.array[:, :, max(track.column - half, 0) : track.column + half + 1].astype(np.float32)
    profiles = ndimage.gaussian_filter1d(band.mean(axis=2), 1.0 / dy, axis=1)
    reach, most = int(round(TRAJECTORY_HALF_MM / dy)), int(np.ceil(MAX_DRIFT_PER_MM * dz / dy))
    n_k, n_j = profiles.shape
    position = [0.0]
    for k in range(n_k - 1):
        low, high = max(track.rows[k] - reach, most), min(track.rows[k] + reach, n_j - most - 1)
        scores = np.array(
            [_correlation(profiles[k, low:high], profiles[k + 1, low + s : high + s]) for s in range(-most, most + 1)]
        )
        best = int(np.argmax(scores))
        position.append(position[-1] + (best - most + _vertex(scores, best)) * dy)
    return np.asarray(position)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3 or a.size != b.size:
        return 0.0  # window squeezed out by the image edge
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum() + 1e-12))


def _vertex(values: np.ndarray, index: int) -> float:
    """Sub-sample offset of a maximum from the parabola through it and its neighbours."""
    if not 0 < index < len(values) - 1:
        return 0.0
    left, mid, right = values[index - 1], values[index], values[index + 1]
    curvature = left - 2 * mid + right
    return float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5)) if curvature < 0 else 0.0
