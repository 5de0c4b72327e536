"""Semi-synthetic fatty muscles on real anatomy: marbling fat written into labelled muscles of a
water/fat pair (TUM01), for the benchmark eval_fatty_tum01.py and its regression test.

Marbling as in the phantom: ~4 mm blobs (a smoothed random field, ranked) covering the given share of
each muscle; a marbled voxel becomes 90 % fat at the subcutaneous fat's signal, with 2 % noise on the
changed muscles.
"""

from __future__ import annotations

import numpy as np

from spinequant.phantoms.axial import highest_share, marbling_field

MARBLED_FAT_FRACTION = 0.9
NOISE_SHARE = 0.02


def marbled(water, fat, reference, shares, seed, spacing_kji=(4.0, 1.02, 1.02)):
    """(water, fat) arrays with `shares` ({label value: share}) of each muscle's voxels made fat
    (`spacing_kji`: voxel size in mm, numpy order; TUM01's by default)."""
    water, fat = water.astype(np.float32).copy(), fat.astype(np.float32).copy()
    signal = water + fat
    fat_fraction = fat / np.maximum(signal, 1e-6)
    fat_level = float(np.median(signal[(fat_fraction > 0.9) & (signal > 0.1 * signal.max())]))
    rng = np.random.default_rng(seed)
    field = marbling_field(rng, reference.shape, spacing_kji)
    for value, share in shares.items():
        chosen = highest_share(field, reference == value, share)
        fat[chosen] = MARBLED_FAT_FRACTION * fat_level
        water[chosen] = (1.0 - MARBLED_FAT_FRACTION) * fat_level
    changed = np.isin(reference, list(shares))
    noise = NOISE_SHARE * fat_level
    water = np.abs(water + rng.normal(0, noise, water.shape) * changed)
    fat = np.abs(fat + rng.normal(0, noise, fat.shape) * changed)
    return water, fat
