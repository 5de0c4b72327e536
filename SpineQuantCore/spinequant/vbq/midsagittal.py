"""The mid-sagittal slice from anatomy: the plane of left-right mirror symmetry of the spine.

The vertebral column (bodies, canal, spinous processes) is bilaterally symmetric about the
mid-sagittal plane, so slice k0 is the midline when slices k0-d and k0+d look alike for d = 2..8 mm
within the spine band. Only the band is compared (flank tissue is not symmetric in a thin slab), and
the sharpest symmetry peak wins (slab edges give broad plateaus, the midline a sharp peak).
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
from scipy import ndimage as ndi

from .detect import Chain
from .view import SagittalView

MIRROR_OFFSETS_MM = (2, 3, 4, 5, 6, 7, 8)
PEAK_HALF_WIDTH_MM = 7
BAND_ANTERIOR_MM, BAND_POSTERIOR_MM = 25, 60  # bodies' anterior margin to spinous processes


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    denominator = np.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / denominator if denominator > 0 else 0.0


def symmetry_profile(view: SagittalView, chain: Chain) -> np.ndarray:
    """Mirror similarity of each slice (NaN where the offsets leave the slab)."""
    centres = np.array(chain.centres)
    r0, r1 = centres[:, 0].min(), centres[:, 0].max() + 1
    c0 = max(int(centres[:, 1].min()) - BAND_ANTERIOR_MM, 0)
    c1 = int(centres[:, 1].max()) + BAND_POSTERIOR_MM
    n = view.volume.array.shape[0]
    band = np.stack([view.slice_image(k)[r0:r1, c0:c1] for k in range(n)])
    band = ndi.gaussian_filter(band, (0, 1.5, 1.5))
    offsets = sorted({max(1, int(round(d / view.slice_spacing))) for d in MIRROR_OFFSETS_MM})
    profile = np.full(n, np.nan)
    for k0 in range(offsets[-1], n - offsets[-1]):
        profile[k0] = np.mean([_correlation(band[k0 - d].ravel(), band[k0 + d].ravel()) for d in offsets])
    return profile


def find_midsagittal_slice(view: SagittalView, chain: Chain) -> Tuple[int, float]:
    """(slice index, symmetry prominence); falls back to the slice of the chain when the slab is thin."""
    profile = symmetry_profile(view, chain)
    half = max(1, int(round(PEAK_HALF_WIDTH_MM / view.slice_spacing)))
    prominence = np.full(len(profile), -np.inf)
    for k in range(half, len(profile) - half):
        if np.isfinite(profile[[k - half, k, k + half]]).all():
            prominence[k] = profile[k] - 0.5 * (profile[k - half] + profile[k + half])
    if not np.isfinite(prominence).any():
        if np.isfinite(profile).any():
            return int(np.nanargmax(profile)), 0.0
        return view.volume.array.shape[0] // 2, 0.0
    k = int(np.argmax(prominence))
    return k, float(prominence[k])
