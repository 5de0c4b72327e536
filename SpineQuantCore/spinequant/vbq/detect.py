"""Vertebral bodies on one sagittal view: a vertical chain of homogeneous blocks separated by discs.

Works in every common contrast because it uses only (1) the marrow of a body is homogeneous over a
~15 x 23 mm core and (2) between two consecutive bodies there is a thin band (disc and endplates) that
differs from both, whether darker (T1) or brighter (T2, gradient echo). Lumbar bodies are ~25-30 mm
tall with ~8-12 mm discs, i.e. a 30-45 mm centre spacing in adults.

Patchy marrow (fatty and red islands, a body as dark as its discs) makes a body's homogeneity peak
off-centre or at its endplate, and makes neighbouring bodies differ in signal: the disc test therefore
also accepts a band unlike the nearer of two unequal bodies, and each inner centre is moved mid-way
between the discs that bound it. Spinous processes form a second column of marrow blocks with the same
spacing; the bodies are the anterior one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
from scipy import ndimage as ndi
from skimage.feature import peak_local_max

BODY_CORE_MM = (15, 23)  # (S-I, A-P) core that fits inside any adult lumbar body
MAX_CORE_CV = 0.3  # coefficient of variation above which a core is not marrow
MIN_SPACING_MM, MAX_SPACING_MM = 22, 50
MAX_TILT = 0.5  # |A-P shift| / S-I step between consecutive bodies (lordosis, lumbosacral angle)
MAX_SIGNAL_STEP = 0.4  # neighbouring bodies differ by less than this fraction in marrow signal
MIN_DISC_CONTRAST = 0.12  # the disc band differs from the bodies by at least this fraction
MAX_DISC_SHARE = 0.55  # ... over at most this share of the path between the two centres
DISC_BAND_HALF_WIDTH = 11  # mm either side of the path, the A-P width of the sampled band
MAX_CANDIDATES = 400
MIN_CHAIN_BODIES = 3  # fewer bodies in a column is no spine
MIN_COLUMN_GAP_MM = 20  # bodies lie >= 20 mm in front of the spinous processes (canal in between)
MIN_PARALLEL_OVERLAP = 0.6  # share of the chain's S-I span a parallel anterior chain must cover ...
MIN_PARALLEL_SCORE = 0.75  # ... and the share of its score (bowel loops in front score far lower)


@dataclass
class Chain:
    """Body centres (row, col) in view pixels, superior first, and the chain score."""

    centres: List[Tuple[int, int]]
    score: float
    disc_contrasts: List[float]


def body_likeness(image: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per pixel: how homogeneous the body-sized core around it is (0..1), and the core mean."""
    mean = ndi.uniform_filter(image, BODY_CORE_MM)
    mean_sq = ndi.uniform_filter(image * image, BODY_CORE_MM)
    std = np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))
    bright = np.percentile(image, 95)
    cv = std / np.maximum(mean, 1e-6)
    score = np.clip(1.0 - cv / MAX_CORE_CV, 0.0, None)
    score[mean < 0.1 * bright] = 0.0  # air and background are not marrow even when flat
    return score, mean


def band_means(image: np.ndarray) -> np.ndarray:
    """Mean of a 3-pixel-tall band across the body width around every pixel (sampled along disc paths)."""
    return ndi.uniform_filter(image, (3, 2 * DISC_BAND_HALF_WIDTH + 1), mode="nearest")


def path_profile(bands: np.ndarray, start, end) -> np.ndarray:
    """Band means (see band_means) along the straight path start->end, one value per row."""
    (r0, c0), (r1, c1) = start, end
    rows = np.arange(int(r0), int(r1) + 1)
    cols = np.rint(c0 + (rows - r0) / max(r1 - r0, 1) * (c1 - c0)).astype(int)
    return bands[rows, np.clip(cols, 0, bands.shape[1] - 1)]


def _disc_band(profile: np.ndarray, deviation: np.ndarray) -> Tuple[float, float]:
    """(contrast, centre 0..1 of the band) when `deviation` peaks in a thin band mid-way, else (0, 0.5)."""
    peak = int(np.argmax(deviation))
    contrast = float(deviation[peak])
    if contrast < MIN_DISC_CONTRAST:
        return 0.0, 0.5
    if not 0.2 <= peak / len(profile) <= 0.8:  # the disc lies between the bodies, not at a centre
        return 0.0, 0.5
    band = deviation > 0.5 * contrast
    if np.mean(band) > MAX_DISC_SHARE:  # a thin disc, not a whole body between
        return 0.0, 0.5
    run = ndi.label(band)[0]
    rows = np.nonzero(run == run[peak])[0]
    return contrast, 0.5 * (rows[0] + rows[-1]) / max(len(profile) - 1, 1)


def disc_on_path(bands: np.ndarray, upper, lower, upper_mean: float, lower_mean: float) -> Tuple[float, float]:
    """(contrast, position 0..1 of the disc band's centre) between two body centres; contrast 0 when the path
    does not look like a disc between two bodies.

    The disc differs from the mean of the two bodies (a disc brighter than a dark, patchy body still counts)
    or from the nearer of the two (bodies of different marrow signal are not a disc between them).
    """
    profile = path_profile(bands, upper, lower)
    reference = max(0.5 * (upper_mean + lower_mean), 1e-6)
    from_mean = _disc_band(profile, np.abs(profile - reference) / reference)
    nearer = np.minimum(np.abs(profile - upper_mean), np.abs(profile - lower_mean)) / reference
    return max(from_mean, _disc_band(profile, nearer))


def disc_between(bands: np.ndarray, upper, lower, upper_mean: float, lower_mean: float) -> float:
    return disc_on_path(bands, upper, lower, upper_mean, lower_mean)[0]


def centre_between_discs(chain: Chain, bands: np.ndarray, core_mean: np.ndarray) -> Chain:
    """Move each inner body centre to mid-way between the discs above and below it.

    A body whose marrow is patchy or as dark as its discs peaks off-centre in homogeneity (sometimes at
    its endplate); the two discs that bound it are more reliable than its own texture.
    """
    centres = chain.centres
    discs = []
    for upper, lower in zip(centres[:-1], centres[1:]):
        _, t = disc_on_path(bands, upper, lower, core_mean[upper], core_mean[lower])
        discs.append(upper[0] + t * (lower[0] - upper[0]))
    moved = list(centres)
    for index in range(1, len(centres) - 1):
        row = int(round(0.5 * (discs[index - 1] + discs[index])))
        moved[index] = (row, centres[index][1])
    return Chain(moved, chain.score, chain.disc_contrasts)


class _Discs:
    """Disc tests between candidate pairs of one image, cached (the anterior-chain search repeats them)."""

    def __init__(self, bands: np.ndarray, core_mean: np.ndarray):
        self.bands, self.core_mean, self.cache = bands, core_mean, {}

    def contrast(self, upper: Tuple[int, int], lower: Tuple[int, int]) -> float:
        key = (upper, lower)
        if key not in self.cache:
            ma, mb = self.core_mean[upper], self.core_mean[lower]
            plausible = abs(ma - mb) <= MAX_SIGNAL_STEP * max(ma, mb)
            self.cache[key] = min(disc_between(self.bands, upper, lower, ma, mb), 1.0) if plausible else 0.0
        return self.cache[key]


def _best_chain(discs: _Discs, score: np.ndarray, peaks: np.ndarray) -> Chain:
    """Best-scoring superior->inferior chain through `peaks` (dynamic programming over body candidates:
    node homogeneity plus the disc contrast of each link)."""
    if len(peaks) == 0:
        return Chain([], 0.0, [])
    peaks = peaks[np.lexsort((peaks[:, 1], peaks[:, 0]))]
    points = [(int(r), int(c)) for r, c in peaks]
    node = np.array([score[p] for p in points])
    best = node.copy()
    previous = -np.ones(len(points), dtype=int)
    link_contrast = np.zeros(len(points))
    for b, (rb, cb) in enumerate(points):
        for a in range(b - 1, -1, -1):
            ra, ca = points[a]
            step = rb - ra
            if step > MAX_SPACING_MM:
                break
            if step < MIN_SPACING_MM or abs(cb - ca) > MAX_TILT * step:
                continue
            if best[a] + node[b] + 1.0 <= best[b]:
                continue  # cannot win even with the strongest disc
            contrast = discs.contrast(points[a], points[b])
            if contrast > 0.0 and best[a] + node[b] + contrast > best[b]:
                best[b], previous[b], link_contrast[b] = best[a] + node[b] + contrast, a, contrast
    end = int(np.argmax(best))
    path = []
    while end >= 0:
        path.append(end)
        end = previous[end]
    path.reverse()
    return Chain([points[p] for p in path], float(best.max()), [float(link_contrast[p]) for p in path[1:]])


def _anterior_of(chain: Chain, peaks: np.ndarray) -> np.ndarray:
    """Candidates clearly in front of the chain (its column interpolated at their rows)."""
    rows = np.array([c[0] for c in chain.centres], dtype=float)
    cols = np.array([c[1] for c in chain.centres], dtype=float)
    front = peaks[:, 1] < np.interp(peaks[:, 0], rows, cols) - MIN_COLUMN_GAP_MM
    return peaks[front]


def find_body_chain(image: np.ndarray) -> Chain:
    """The chain of vertebral bodies: the best chain, or a parallel chain in front of it.

    Behind the bodies, spinous processes (and off the midline the articular pillars) also form a regular
    column of marrow blocks with the same spacing; the bodies are always the anterior column, so a chain
    in front of the best one that is about as long and spans the same levels wins.
    """
    smooth = ndi.gaussian_filter(image.astype(np.float32), 1.0)
    score, core_mean = body_likeness(smooth)
    bands = band_means(smooth)
    discs = _Discs(bands, core_mean)
    peaks = peak_local_max(score, min_distance=5, threshold_abs=0.2, num_peaks=MAX_CANDIDATES, exclude_border=10)
    chain = _best_chain(discs, score, peaks)
    for _ in range(2):
        if len(chain.centres) < 3:
            break
        front = _best_chain(discs, score, _anterior_of(chain, peaks))
        span = chain.centres[-1][0] - chain.centres[0][0]
        overlap = (
            min(front.centres[-1][0], chain.centres[-1][0]) - max(front.centres[0][0], chain.centres[0][0])
            if front.centres
            else 0
        )
        if (
            len(front.centres) < max(3, len(chain.centres) - 1)
            or overlap < MIN_PARALLEL_OVERLAP * span
            or front.score < MIN_PARALLEL_SCORE * chain.score
        ):
            break
        chain = front
    return centre_between_discs(chain, bands, core_mean)
