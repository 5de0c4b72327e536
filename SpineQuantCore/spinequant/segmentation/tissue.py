"""Tissue maps the segmenter works on: a fat-bright signal and a (pseudo) fat fraction in 0..1.

With Dixon water and fat images the fat fraction is F / (W + F) (muscle low, fat high). With one
fat-bright image (T1, T2 FSE, in-phase) coil shading is removed by dividing by a smooth "fat
envelope" fitted to the brightest tissue, so that fat reads 1 everywhere; the lean-muscle level
then comes from the histogram. Both give the same kind of map, so everything downstream is
contrast-agnostic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
from scipy import ndimage

ENVELOPE_SIGMA_MM = 30.0  # coil shading varies over several centimetres
NOISE_FLOOR_SHARE = 0.03  # below this share of the 99th percentile a voxel is background
LEAN_LEVEL_SIGMA_MM = 20.0
DARK_SHARE = 0.6  # bone cortex and ligament are well below half the brightness of muscle


@dataclass
class TissueMaps:
    signal: np.ndarray  # fat-bright image, (K, J, I)
    fat_fraction: np.ndarray  # 0 = lean muscle / water, 1 = fat
    dark: np.ndarray  # too little signal to be soft tissue (bone cortex, air, ligament)
    from_dixon: bool


def _in_plane_sigma(spacing: Tuple[float, float, float], mm: float) -> Tuple[float, float, float]:
    """Gaussian sigma in voxels, (K, J, I) order, smoothing in-plane only (slices are thick)."""
    return (0.0, mm / spacing[1], mm / spacing[0])


def _normalised_smooth(values: np.ndarray, weights: np.ndarray, sigma) -> np.ndarray:
    """Weighted Gaussian average (normalised convolution): fills gaps where weights are zero."""
    numerator = ndimage.gaussian_filter(values * weights, sigma)
    denominator = ndimage.gaussian_filter(weights.astype(np.float32), sigma)
    return numerator / np.maximum(denominator, 1e-6)


def dixon_maps(water: np.ndarray, fat: np.ndarray) -> TissueMaps:
    water = np.clip(water.astype(np.float32), 0, None)
    fat = np.clip(fat.astype(np.float32), 0, None)
    signal = water + fat
    floor = NOISE_FLOOR_SHARE * float(np.percentile(signal, 99))
    fat_fraction = np.where(signal > floor, fat / np.maximum(signal, 1e-6), 0.0).astype(np.float32)
    return TissueMaps(signal, fat_fraction, np.zeros(signal.shape, bool), True)


def mark_dark(maps: TissueMaps, body: np.ndarray, spacing: Tuple[float, float, float]) -> TissueMaps:
    """Voxels much darker than nearby lean tissue: cortical bone, ligament, air (any contrast)."""
    lean = body & (maps.fat_fraction < 0.3) & (maps.signal > 0)
    level = _normalised_smooth(maps.signal, lean, _in_plane_sigma(spacing, LEAN_LEVEL_SIGMA_MM))
    maps.dark = (maps.signal < DARK_SHARE * level) | ~body
    return maps


def envelope_maps(image: np.ndarray, spacing: Tuple[float, float, float], body: np.ndarray) -> TissueMaps:
    """Pseudo fat fraction of a single fat-bright image, shading removed by a fitted fat envelope."""
    signal = np.clip(image.astype(np.float32), 0, None)
    sigma = _in_plane_sigma(spacing, ENVELOPE_SIGMA_MM)
    envelope = _normalised_smooth(signal, body, sigma)  # first guess: mean tissue brightness
    for _ in range(3):  # fat = clearly brighter than the local mean; refit on fat voxels only
        fat = body & (signal > 1.15 * envelope)
        if fat.sum() < 100:
            break
        envelope = _normalised_smooth(signal, fat, sigma)
    ratio = signal / np.maximum(envelope, 1e-6)
    muscle_level = _muscle_level(ratio[body])
    pseudo = np.clip((ratio - muscle_level) / max(1.0 - muscle_level, 0.2), 0.0, 1.0).astype(np.float32)
    pseudo[~body] = 0.0
    return TissueMaps(signal, pseudo, np.zeros(signal.shape, bool), False)


def _muscle_level(ratios: np.ndarray) -> float:
    """Most common tissue brightness below the fat level (fat reads ~1 after normalisation)."""
    values = ratios[(ratios > 0.1) & (ratios < 0.9)]
    if values.size < 100:
        return 0.4
    histogram, edges = np.histogram(values, bins=80)
    histogram = ndimage.gaussian_filter1d(histogram.astype(float), 2)
    peak = int(np.argmax(histogram))
    return float(0.5 * (edges[peak] + edges[peak + 1]))


def tissue_maps(
    image: np.ndarray,
    spacing: Tuple[float, float, float],
    body: np.ndarray,
    water: Optional[np.ndarray] = None,
    fat: Optional[np.ndarray] = None,
) -> TissueMaps:
    if water is not None and fat is not None:
        maps = dixon_maps(water, fat)
    else:
        maps = envelope_maps(image, spacing, body)
    return mark_dark(maps, body, spacing)
