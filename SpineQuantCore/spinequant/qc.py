"""QC pictures: slices shown radiologically (anterior up, patient left on the right) with coloured
outlines of each structure and fat voxels tinted, written as PNG without any plotting library."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import SimpleITK as sitk
from skimage.segmentation import find_boundaries
from skimage.transform import resize

from .imageio import Volume

LABEL_COLOURS = {  # project label value -> RGB (left lighter, right darker)
    1: (255, 80, 80), 2: (180, 30, 30), 3: (80, 160, 255), 4: (30, 90, 200),
    5: (100, 230, 100), 6: (30, 150, 30), 7: (240, 200, 60), 8: (190, 140, 20),
}
FAT_TINT = np.array([255, 255, 0], dtype=np.float32)


def _to_display(volume: Volume) -> sitk.Image:
    """Reorient so that array rows run anterior->posterior and columns patient right->left."""
    return sitk.DICOMOrient(volume.to_sitk(), "LPS")


def _grey(slice_values: np.ndarray) -> np.ndarray:
    low, high = np.percentile(slice_values, [1, 99.5])
    scaled = np.clip((slice_values - low) / max(high - low, 1e-6), 0, 1)
    return np.repeat((scaled * 255)[..., None], 3, axis=2).astype(np.float32)


def overlay_slice(image2d: np.ndarray, labels2d: np.ndarray, fat2d: Optional[np.ndarray],
                  colours: Dict[int, tuple] = None) -> np.ndarray:
    """RGB uint8 picture of one slice with label outlines and tinted fat voxels."""
    colours = colours or LABEL_COLOURS
    rgb = _grey(image2d)
    if fat2d is not None:
        rgb[fat2d] = 0.5 * rgb[fat2d] + 0.5 * FAT_TINT
    for value, colour in colours.items():
        edge = find_boundaries(labels2d == value, mode="inner")
        rgb[edge] = colour
    return rgb.astype(np.uint8)


def _square_pixels(rgb: np.ndarray, row_mm: float, column_mm: float) -> np.ndarray:
    if abs(row_mm - column_mm) < 1e-3:
        return rgb
    shape = (int(round(rgb.shape[0] * row_mm / column_mm)), rgb.shape[1])
    return (resize(rgb, shape + (3,), order=0, preserve_range=True)).astype(np.uint8)


def write_png(rgb: np.ndarray, path: str) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.stem}.part.png")
    sitk.WriteImage(sitk.GetImageFromArray(rgb, isVector=True), str(temporary))
    temporary.replace(target)


def muscle_qc_picture(image: Volume, labels: np.ndarray, fat: Optional[np.ndarray], path: str,
                      slices: Optional[Sequence[int]] = None, max_panels: int = 4) -> List[int]:
    """Montage of axial slices (default: evenly spaced through the labelled extent). Returns slices used."""
    display = sitk.GetArrayFromImage(_to_display(image))
    label_display = sitk.GetArrayFromImage(_to_display(image.with_array(labels.astype(np.uint8))))
    fat_display = (sitk.GetArrayFromImage(_to_display(image.with_array(fat.astype(np.uint8)))) > 0
                   if fat is not None else None)
    labelled = np.flatnonzero(label_display.any(axis=(1, 2)))
    if slices is None:
        candidates = labelled if labelled.size else np.arange(display.shape[0])
        picks = np.linspace(0, candidates.size - 1, min(max_panels, candidates.size)).round().astype(int)
        slices = sorted({int(candidates[p]) for p in picks})
    spacing = _to_display(image).GetSpacing()
    panels = [
        _square_pixels(overlay_slice(display[k], label_display[k], None if fat_display is None else fat_display[k]),
                       spacing[1], spacing[0])
        for k in slices
    ]
    height = max(p.shape[0] for p in panels)
    padded = [np.pad(p, ((0, height - p.shape[0]), (0, 4), (0, 0))) for p in panels]
    write_png(np.concatenate(padded, axis=1), path)
    return list(slices)
