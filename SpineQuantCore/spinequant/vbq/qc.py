"""QC picture of the mid-sagittal slice: ROI outlines in one colour per level, centre markers."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

ROI_COLOURS: Dict[str, tuple] = {
    "L1": (255, 64, 64),
    "L2": (255, 160, 0),
    "L3": (255, 255, 0),
    "L4": (0, 220, 0),
    "L5": (0, 200, 255),
    "CSF": (255, 0, 255),
    "T12": (160, 160, 160),
    "S1": (255, 255, 255),
}


def _grey(image: np.ndarray) -> np.ndarray:
    low, high = np.percentile(image, [1, 99.5])
    scaled = np.clip((image - low) / max(high - low, 1e-6), 0, 1) * 255
    return np.repeat(scaled[..., None], 3, axis=2).astype(np.uint8)


def qc_picture(result) -> np.ndarray:
    """RGB array (rows S->I, cols A->P) with ROI outlines and a 5x5 marker at each landmark."""
    rgb = _grey(result.view_image)
    for name, mask in result.view_rois.items():
        outline = mask & ~ndi.binary_erosion(mask)
        rgb[outline] = ROI_COLOURS.get(name, (255, 255, 255))
    for name, (row, col) in result.view_centres.items():
        colour = ROI_COLOURS.get(name, (255, 255, 255))
        rgb[max(row - 2, 0) : row + 3, max(col - 2, 0) : col + 3] = colour
    return rgb


def write_qc_png(result, path: str) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(sitk.GetImageFromArray(qc_picture(result), isVector=True), str(target))
    return target


def legend() -> Dict[str, str]:
    return {name: "#{:02x}{:02x}{:02x}".format(*colour) for name, colour in ROI_COLOURS.items()}
