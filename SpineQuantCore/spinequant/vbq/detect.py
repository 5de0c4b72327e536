"""Vertebral bodies on one sagittal view: a vertical chain of homogeneous blocks separated by discs.

Works in every common contrast because it uses only (1) the marrow of a body is homogeneous over a
~15 x 23 mm core and (2) between two consecutive bodies there is a thin band (disc and endplates) that
differs from both, whether darker (T1) or brighter (T2, gradient echo). Lumbar bodies are ~25-30 mm
tall with ~8-12 mm discs, i.e. a 30-45 mm centre spacing in adults.
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


def path_profile(image: np.ndarray, start, end) -> np.ndarray:
    """Mean of a 3-pixel-tall band across the body width along the straight path start->end."""
    (r0, c0), (r1, c1) = start, end
    values = []
    for row in range(int(r0), int(r1) + 1):
        t = (row - r0) / max(r1 - r0, 1)
        col = int(round(c0 + t * (c1 - c0)))
        left, right = max(col - DISC_BAND_HALF_WIDTH, 0), col + DISC_BAND_HALF_WIDTH + 1
        band = image[max(row - 1, 0):row + 2, left:right]
        values.append(band.mean() if band.size else 0.0)
    return np.asarray(values)


def disc_between(image: np.ndarray, upper, lower, upper_mean: float, lower_mean: float) -> float:
    """Contrast of the disc band between two body centres, or 0 when the path does not look like one."""
    profile = path_profile(image, upper, lower)
    reference = 0.5 * (upper_mean + lower_mean)
    deviation = np.abs(profile - reference) / max(reference, 1e-6)
    peak = int(np.argmax(deviation))
    contrast = float(deviation[peak])
    if contrast < MIN_DISC_CONTRAST:
        return 0.0
    if not 0.2 <= peak / len(profile) <= 0.8:  # the disc lies between the bodies, not at a centre
        return 0.0
    if np.mean(deviation > 0.5 * contrast) > MAX_DISC_SHARE:  # a thin disc, not a whole body between
        return 0.0
    return contrast


def find_body_chain(image: np.ndarray) -> Chain:
    """Best-scoring superior->inferior chain of body centres (dynamic programming over candidates)."""
    smooth = ndi.gaussian_filter(image.astype(np.float32), 1.0)
    score, core_mean = body_likeness(smooth)
    peaks = peak_local_max(score, min_distance=5, threshold_abs=0.2, num_peaks=MAX_CANDIDATES,
                           exclude_border=10)
    if len(peaks) == 0:
        return Chain([], 0.0, [])
    peaks = peaks[np.lexsort((peaks[:, 1], peaks[:, 0]))]
    node = np.array([score[r, c] for r, c in peaks])
    best = node.copy()
    previous = -np.ones(len(peaks), dtype=int)
    link_contrast = np.zeros(len(peaks))
    for b, (rb, cb) in enumerate(peaks):
        for a in range(b - 1, -1, -1):
            ra, ca = peaks[a]
            step = rb - ra
            if step > MAX_SPACING_MM:
                break
            if step < MIN_SPACING_MM or abs(cb - ca) > MAX_TILT * step:
                continue
            ma, mb = core_mean[ra, ca], core_mean[rb, cb]
            if abs(ma - mb) > MAX_SIGNAL_STEP * max(ma, mb):
                continue
            if best[a] + node[b] + 1.0 <= best[b]:
                continue  # cannot win even with the strongest disc
            contrast = disc_between(smooth, (ra, ca), (rb, cb), ma, mb)
            if contrast <= 0.0:
                continue
            total = best[a] + node[b] + min(contrast, 1.0)
            if total > best[b]:
                best[b], previous[b], link_contrast[b] = total, a, contrast
    end = int(np.argmax(best))
    path = []
    while end >= 0:
        path.append(end)
        end = previous[end]
    path.reverse()
    centres = [(int(peaks[p][0]), int(peaks[p][1])) for p in path]
    return Chain(centres, float(best.max()), [float(link_contrast[p]) for p in path[1:]])
