"""Body outline per slice: everything brighter than the background, holes filled."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu

BACKGROUND_SHARE = 0.25  # of the Otsu level between air and tissue: keeps dark viscera inside


def body_mask(signal: np.ndarray) -> np.ndarray:
    """3D boolean mask of the body: largest connected foreground, each slice hole-filled."""
    positive = signal[signal > 0]
    if positive.size == 0:
        return np.zeros(signal.shape, bool)
    sample = positive[:: max(1, positive.size // 200000)]
    level = BACKGROUND_SHARE * threshold_otsu(sample)
    smooth = ndimage.uniform_filter(signal.astype(np.float32), size=(1, 3, 3))
    foreground = smooth > level
    mask = np.zeros_like(foreground)
    for k in range(foreground.shape[0]):
        filled = ndimage.binary_fill_holes(ndimage.binary_opening(foreground[k], iterations=2))
        mask[k] = _largest_component(filled)
    return mask


def _largest_component(mask: np.ndarray) -> np.ndarray:
    labelled, count = ndimage.label(mask)
    if count <= 1:
        return mask
    sizes = ndimage.sum_labels(mask, labelled, index=np.arange(1, count + 1))
    return labelled == (1 + int(np.argmax(sizes)))
