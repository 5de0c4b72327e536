"""One entry point for every backend: input checks, canonical orientation, mapping back, flags."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd

from ..errors import InputError
from ..imageio import Volume, check_volume, require_same_grid
from . import builtin, importers, quality
from .orientation import canonical_slice_order, from_canonical, to_canonical

BUILTIN = "builtin"
IMPORTERS = ("totalsegmentator", "totalsegmentator:total_mr", "totalsegmentator:total",
             "totalsegmentator:abdominal_muscles", "musclemap", "json")
BACKENDS = (BUILTIN,) + IMPORTERS + ("totalsegmentator-run",)
MIN_SEGMENTED_SLICE_SHARE = 0.2  # below this share of slices with back muscles: no spine found


@dataclass
class SegmentationResult:
    labels: Volume  # project label values on the input image's grid
    quality: pd.DataFrame  # one row per slice (input K order)
    backend: str


def check_inputs(image: Volume, water: Optional[Volume], fat: Optional[Volume]) -> None:
    check_volume(image, plane="axial")
    if (water is None) != (fat is None):
        raise InputError("--water/--fat", "give both the water and the fat image, or neither")
    for other in (water, fat):
        if other is not None:
            check_volume(other, plane="axial")
            require_same_grid(image, other)
    if not np.any(image.array):
        raise InputError(image.source, "every voxel is 0; there is no image to segment")
    if float(np.ptp(image.array)) <= 0:
        raise InputError(image.source, "has one constant value; there is no anatomy to segment")


def segment(
    image: Volume,
    water: Optional[Volume] = None,
    fat: Optional[Volume] = None,
    backend: str = BUILTIN,
    foreign_labels: Optional[Volume] = None,
    label_map_path: Optional[str] = None,
) -> SegmentationResult:
    """Segment (or import) paraspinal muscles; the result lies on the input image's grid."""
    if backend not in BACKENDS:
        raise InputError(backend, f"unknown backend; use one of {', '.join(BACKENDS)}")
    check_inputs(image, water, fat)
    canonical, code = to_canonical(image)
    water_c = to_canonical(water)[0].array.astype(np.float32) if water is not None else None
    fat_c = to_canonical(fat)[0].array.astype(np.float32) if fat is not None else None
    array = canonical.array.astype(np.float32)
    spacing = canonical.spacing
    hints = None
    if backend == BUILTIN:
        labels, anatomy = builtin.segment_canonical(array, spacing, water_c, fat_c)
        _require_spine(labels, image)
        order = canonical_slice_order(image)
        hints = {template: drawn[order] for template, drawn in anatomy.hints.items()}
    else:
        foreign = _foreign_labels(image, foreign_labels, backend)
        class_map = importers.class_map_for(backend, label_map_path)
        labels, compartments = importers.apply_class_map(to_canonical(foreign)[0].array, class_map)
        if compartments:
            anatomy = builtin.find_anatomy(array, spacing, water_c, fat_c)
            labels = builtin.split_compartments(labels, compartments, anatomy, spacing)
    result = from_canonical(canonical.with_array(labels), code, image)
    result.array = result.array.astype(np.uint8)
    result.source = f"{image.source} ({backend} segmentation)"
    return SegmentationResult(result, check_table(result.array, image, hints), backend)


def check_table(labels: np.ndarray, image: Volume, hints=None) -> pd.DataFrame:
    """The per-slice quality table (quality.slice_quality) of a label map on the image's grid, for any
    segmentation (`hints`: the built-in segmenter's review hints, input slice order)."""
    positions = image.origin[2] + np.arange(image.array.shape[0]) * image.spacing[2]
    return quality.slice_quality(np.asarray(labels).astype(np.int64), image.pixel_area_mm2, positions, hints)


def _foreign_labels(image: Volume, foreign: Optional[Volume], backend: str) -> Volume:
    if backend == "totalsegmentator-run":
        from .run_totalsegmentator import run_totalsegmentator

        return run_totalsegmentator(image)
    if foreign is None:
        raise InputError(backend, "this backend imports an existing label map; give it with --labels SEG.nii.gz")
    require_same_grid(image, foreign)
    if not np.issubdtype(foreign.array.dtype, np.integer):
        rounded = np.round(foreign.array)
        if not np.allclose(rounded, foreign.array):
            raise InputError(foreign.source, "is not a label map (non-integer values)")
        foreign = foreign.with_array(rounded.astype(np.int32), foreign.source)
    return foreign


def _require_spine(labels: np.ndarray, image: Volume) -> None:
    """The built-in method must find back muscles on a fair share of slices, else it is no spine."""
    back = np.isin(labels, [1, 2, 3, 4]).any(axis=(1, 2))
    if back.mean() < MIN_SEGMENTED_SLICE_SHARE:
        raise InputError(
            image.source,
            f"no lumbar spine with paraspinal muscles found (back muscles on {int(back.sum())} of "
            f"{back.size} slices); is this an axial lumbar MRI?",
        )
