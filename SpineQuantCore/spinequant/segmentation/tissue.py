"""Tissue maps the segmenter works on: a fat-bright signal and a (pseudo) fat fraction in 0..1.

With Dixon water and fat images the fat fraction is F / (W + F) (muscle low, fat high). With one
fat-bright image (T1, T2 FSE, in-phase, W+F) each voxel is placed between smooth local lean and
fat reference levels, so coil shading cancels and fat reads 1, muscle 0 everywhere; that share of
fat tissue is turned into the share of signal from fat, which is what a Dixon fat fraction reads.
Both give the same kind of map, so everything downstream is
contrast-agnostic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu

REFERENCE_SIGMA_MM = 12.0
REFERENCE_ROUNDS = 4
# The landmark, psoas and quadratus searches take a single image's fat planes at a fixed gain: every
# partial-volume voxel between two structures reads as fat there (what parts muscles from organs).
PLANE_GAIN = 2.0
NOISE_FLOOR_SHARE = 0.03  # below this share of the 99th percentile a voxel is background
LEAN_LEVEL_SIGMA_MM = 20.0
DARK_SHARE = 0.6  # bone cortex and ligament are well below half the brightness of muscle


@dataclass
class TissueMaps:
    signal: np.ndarray  # fat-bright image, (K, J, I)
    fat_fraction: np.ndarray  # 0 = lean muscle / water, 1 = fat
    dark: np.ndarray  # too little signal to be soft tissue (bone cortex, air, ligament)
    from_dixon: bool
    # single image: the map with fat planes saturated (None: fat_fraction serves, as with Dixon)
    plane_fat_fraction: Optional[np.ndarray] = None

    @property
    def saturated_fat_fraction(self) -> np.ndarray:
        """The map the midline, dark-tissue, psoas and quadratus lumborum searches work on."""
        return self.fat_fraction if self.plane_fat_fraction is None else self.plane_fat_fraction


def _in_plane_sigma(spacing: Tuple[float, float, float], mm: float) -> Tuple[float, float, float]:
    """Gaussian sigma in voxels, (K, J, I) order, smoothing in-plane only (slices are thick)."""
    return (0.0, mm / spacing[1], mm / spacing[0])


def local_level(values: np.ndarray, where: np.ndarray, spacing, sigma_mm: float) -> np.ndarray:
    """Smooth in-plane map of the `values` at the voxels `where`, filled in between them (a
    Gaussian of `sigma_mm`): a local reference level such as the lean muscle's signal."""
    return _normalised_smooth(values, where, _in_plane_sigma(spacing, sigma_mm))


def _normalised_smooth(values: np.ndarray, weights: np.ndarray, sigma) -> np.ndarray:
    """Weighted Gaussian average (normalised convolution): fills gaps where weights are zero.

    Wide kernels run on an in-plane block-averaged grid (the result is smooth anyway) and are
    interpolated back, which keeps the cost a few hundred milliseconds per volume.
    """
    weights = weights.astype(np.float32)
    numerator = _coarse_gaussian(values.astype(np.float32) * weights, sigma)
    denominator = _coarse_gaussian(weights, sigma)
    return numerator / np.maximum(denominator, 1e-6)


def _coarse_gaussian(array: np.ndarray, sigma) -> np.ndarray:
    factor = int(max(1, min(sigma[1], sigma[2]) // 3))  # >= 3 coarse voxels per sigma: still smooth
    if factor == 1:
        return ndimage.gaussian_filter(array, sigma)
    k, j, i = array.shape
    pad_j, pad_i = (-j) % factor, (-i) % factor
    padded = np.pad(array, ((0, 0), (0, pad_j), (0, pad_i)), mode="edge")
    blocks = padded.reshape(k, padded.shape[1] // factor, factor, padded.shape[2] // factor, factor).mean(axis=(2, 4))
    smooth = ndimage.gaussian_filter(blocks, (sigma[0], sigma[1] / factor, sigma[2] / factor))
    # block centres sit at (b + 0.5) * factor - 0.5 in fine voxels: interpolate back linearly, as two
    # small matrix products per slice (separable bilinear interpolation)
    along_j = _linear_weights(j, smooth.shape[1], factor)
    along_i = _linear_weights(i, smooth.shape[2], factor)
    return np.einsum("jb,kbc,ic->kji", along_j, smooth.astype(np.float32), along_i, optimize=True)


def _linear_weights(n_fine: int, n_coarse: int, factor: int) -> np.ndarray:
    """(n_fine, n_coarse) matrix of linear-interpolation weights, edges clamped."""
    position = np.clip((np.arange(n_fine) + 0.5) / factor - 0.5, 0, n_coarse - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, n_coarse - 1)
    weight = (position - low).astype(np.float32)
    matrix = np.zeros((n_fine, n_coarse), np.float32)
    matrix[np.arange(n_fine), low] += 1 - weight
    matrix[np.arange(n_fine), high] += weight
    return matrix


def dixon_maps(water: np.ndarray, fat: np.ndarray) -> TissueMaps:
    water = np.clip(water.astype(np.float32), 0, None)
    fat = np.clip(fat.astype(np.float32), 0, None)
    signal = water + fat
    floor = NOISE_FLOOR_SHARE * float(np.percentile(signal, 99))
    fat_fraction = np.where(signal > floor, fat / np.maximum(signal, 1e-6), 0.0).astype(np.float32)
    return TissueMaps(signal, fat_fraction, np.zeros(signal.shape, bool), True)


def mark_dark(maps: TissueMaps, body: np.ndarray, spacing: Tuple[float, float, float]) -> TissueMaps:
    """Voxels much darker than nearby lean tissue: cortical bone, ligament, air (any contrast)."""
    lean = body & (maps.saturated_fat_fraction < 0.3) & (maps.signal > 0)
    level = local_level(maps.signal, lean, spacing, LEAN_LEVEL_SIGMA_MM)
    maps.dark = (maps.signal < DARK_SHARE * level) | ~body
    return maps


def envelope_maps(image: np.ndarray, spacing: Tuple[float, float, float], body: np.ndarray) -> TissueMaps:
    """Pseudo fat fraction of one fat-bright image from local fat and lean reference levels.

    Coil shading scales fat and muscle alike, so each voxel is placed between the *local* lean
    level and the *local* fat level: two smooth maps fitted by normalised convolution to the voxels
    currently classed lean or fat (a local two-class model, in the spirit of bias-corrected
    fuzzy c-means, Ahmed et al., IEEE TMI 2002, and of the subcutaneous-fat reference sampled
    locally in spinequant.fat.references). Starting from each slice's Otsu split, a few rounds
    re-class voxels at the midpoint of the local levels. Fat then reads ~1 and muscle ~0
    everywhere, whatever the shading.
    """
    signal = np.clip(image.astype(np.float32), 0, None)
    fat = np.zeros(signal.shape, bool)
    for k in range(signal.shape[0]):
        values = signal[k][body[k]]
        if values.size > 100 and np.ptp(values) > 0:
            fat[k] = body[k] & (signal[k] > threshold_otsu(values[:: max(1, values.size // 50000)]))
    lean = body & ~fat
    fat_level = lean_level = None
    for _ in range(REFERENCE_ROUNDS):
        if fat.sum() < 100 or lean.sum() < 100:
            break
        fat_level = local_level(signal, fat, spacing, REFERENCE_SIGMA_MM)
        lean_level = local_level(signal, lean, spacing, REFERENCE_SIGMA_MM)
        middle = 0.5 * (fat_level + lean_level)
        fat = body & (signal > middle)
        # bone cortex, ligament and air are far below muscle: they must not drag the lean level down
        lean = body & ~fat & (signal > DARK_SHARE * lean_level)
    if fat_level is None:
        empty = np.zeros(signal.shape, np.float32)
        return TissueMaps(signal, empty, np.zeros(signal.shape, bool), False, empty)
    return maps_from_levels(signal, lean_level, fat_level, body)


def maps_from_levels(signal: np.ndarray, lean_level: np.ndarray, fat_level: np.ndarray, body: np.ndarray) -> TissueMaps:
    """One fat-bright image's maps, each voxel placed between its local lean and fat levels: the
    pseudo fat fraction (signal_fat_fraction) and the map with fat planes saturated (PLANE_GAIN)."""
    span = np.maximum(fat_level - lean_level, 1e-3 * max(float(fat_level.max()), 1e-6))
    fat_share = (signal - lean_level) / span
    planes = np.clip(PLANE_GAIN * fat_share, 0.0, 1.0).astype(np.float32)
    pseudo = signal_fat_fraction(np.clip(fat_share, 0.0, 1.0), fat_level / np.maximum(lean_level, 1e-6))
    pseudo[~body] = 0.0
    planes[~body] = 0.0
    return TissueMaps(signal, pseudo, np.zeros(signal.shape, bool), False, planes)


def signal_fat_fraction(fat_share: np.ndarray, fat_to_lean: np.ndarray) -> np.ndarray:
    """Share of a voxel's signal that comes from fat, for a voxel holding `fat_share` fat tissue
    (by its intensity between the lean and fat levels) and fat `fat_to_lean` times brighter.

    Fat is several times brighter than muscle on a fat-bright image (W+F: ~3x on TUM01), so a
    voxel a quarter fat tissue already gets half its signal from fat, as a Dixon fraction reads it;
    a plain linear share would keep thin fat planes and partial-volume borders near lean.
    """
    ratio = np.maximum(fat_to_lean, 1.0)
    fat_signal = ratio * fat_share
    return (fat_signal / np.maximum(fat_signal + 1.0 - fat_share, 1e-6)).astype(np.float32)


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
