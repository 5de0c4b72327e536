"""Paraspinal muscle measurements per structure, side and level from an image and muscle masks."""

from __future__ import annotations

from typing import Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd

from .errors import InputError
from .fat.methods import FAT_METHODS, classify_fat, dixon_fat_fraction, method_label
from .fat.references import subcutaneous_fat
from .flags import FlagRules, add_flags
from .imageio import Volume, check_volume, require_same_grid
from .labels import DEFAULT_LABELS, MUSCLES, Structure
from .levels import LevelSlices, ordered_levels
from .tables import long_table, make_row

Progress = Callable[[float, str], None]
MM2_PER_CM2 = 100.0
MM3_PER_CM3 = 1000.0


def structure_masks(labels: Volume, label_map: Optional[Mapping[int, Structure]] = None
                    ) -> Dict[Structure, np.ndarray]:
    """Split a label map into one boolean mask per structure; unknown label values are an error."""
    mapping = dict(label_map or DEFAULT_LABELS)
    array = np.asarray(labels.array)
    if not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise InputError(labels.source, "segmentation holds non-integer or NaN values; a label map is needed")
        array = array.astype(np.int64)
    present = [int(v) for v in np.unique(array) if v != 0]
    if not present:
        raise InputError(labels.source, "segmentation is empty (no labelled voxel)")
    unknown = [v for v in present if v not in mapping]
    if unknown:
        raise InputError(labels.source, f"label value(s) {', '.join(map(str, unknown))} are not in the label map "
                                        "(give --label-map FILE.json naming them)")
    masks: Dict[Structure, np.ndarray] = {}
    for value in sorted(mapping):
        if value in present:
            structure = mapping[value]
            masks[structure] = masks[structure] | (array == value) if structure in masks else array == value
    return masks


def _check_masks(masks: Mapping[Structure, np.ndarray], image: Volume) -> None:
    if not masks:
        raise InputError("segmentation", "no muscle masks given")
    for structure, mask in masks.items():
        if mask.shape != image.array.shape:
            raise InputError(f"mask {structure.key}", f"shape {mask.shape} differs from the image "
                                                      f"{image.source} {image.array.shape}")
        if not mask.any():
            raise InputError(f"mask {structure.key}", "is empty (no voxel)")


def _slice_sets(n_slices: int, levels: Optional[LevelSlices]) -> List[tuple]:
    sets = [("all", np.arange(n_slices))]
    for name in ordered_levels(levels or {}):
        slices = np.asarray(sorted(levels[name]), dtype=int)
        if slices.size and (slices.min() < 0 or slices.max() >= n_slices):
            raise InputError("levels", f"level {name} refers to slices outside 0-{n_slices - 1}")
        sets.append((name, slices))
    return sets


def _restrict(mask: np.ndarray, slices: np.ndarray) -> np.ndarray:
    restricted = np.zeros_like(mask)
    restricted[slices] = mask[slices]
    return restricted


class _Context:
    """What every structure's measurement shares: image arrays, references, methods."""

    def __init__(self, image: Volume, methods: Sequence[str], threshold: Optional[float],
                 water: Optional[Volume], fat: Optional[Volume]):
        self.image = image
        self.values = image.array.astype(np.float64)
        self.threshold = threshold
        self.fat_fraction = None
        if (water is None) != (fat is None):
            raise InputError("--water/--fat", "give both the water and the fat image for Dixon")
        if water is not None:
            for other in (water, fat):
                check_volume(other)
                require_same_grid(image, other)
            self.fat_fraction = dixon_fat_fraction(water.array, fat.array)
        self.methods = list(methods)
        if self.fat_fraction is not None and "dixon" not in self.methods:
            self.methods.append("dixon")
        for method in self.methods:
            if method not in FAT_METHODS:
                raise InputError("--method", f"unknown method {method!r}; choose from {', '.join(FAT_METHODS)}")
        self.subcutaneous = (subcutaneous_fat(self.values, image.spacing)
                             if "calibrated" in self.methods else None)

    def fat_maps(self, mask: np.ndarray) -> Dict[str, np.ndarray]:
        return {
            method_label(m, self.threshold): classify_fat(
                self.values, mask, m, subcutaneous=self.subcutaneous, spacing_ijk=self.image.spacing,
                threshold=self.threshold, fat_fraction=self.fat_fraction, source=self.image.source)
            for m in self.methods
        }


def _structure_rows(case_id: str, structure: Structure, mask: np.ndarray, context: _Context,
                    slice_sets: List[tuple]) -> List[dict]:
    rows = []
    fat_maps = context.fat_maps(mask)
    primary = next(iter(fat_maps))
    pixel_area = context.image.pixel_area_mm2
    for level, slices in slice_sets:
        part = _restrict(mask, slices)
        voxels = int(part.sum())
        if voxels == 0:
            continue
        areas = part.sum(axis=(1, 2))
        present = areas[areas > 0]
        csa = float(present.mean()) * pixel_area / MM2_PER_CM2
        common = dict(case_id=case_id, structure=structure.name, side=structure.side, level=level)
        extra = {"slices": int(present.size)}
        rows.append(make_row(metric="csa", value=csa, **common, **extra))
        rows.append(make_row(metric="volume", value=voxels * context.image.voxel_volume_mm3 / MM3_PER_CM3,
                             **common, **extra))
        rows.append(make_row(metric="mean_intensity", value=float(context.values[part].mean()),
                             **common, **extra))
        for label, fat_map in fat_maps.items():
            infiltration = 100.0 * float(fat_map[part].sum()) / voxels
            rows.append(make_row(metric="fat_infiltration", value=infiltration, method=label, **common, **extra))
            if label == primary:
                rows.append(make_row(metric="functional_csa", value=csa * (1 - infiltration / 100.0),
                                     method=label, **common, **extra))
        if context.fat_fraction is not None:
            rows.append(make_row(metric="mean_fat_fraction", value=100.0 * float(context.fat_fraction[part].mean()),
                                 method="dixon", **common, **extra))
    return rows


def _bilateral_rows(table: pd.DataFrame) -> List[dict]:
    """Left + right CSA ('both') and the signed asymmetry (left - right) / mean x 100 %."""
    rows = []
    csa = table[(table["metric"] == "csa") & table["side"].isin(["left", "right"])]
    for (case_id, structure, level), group in csa.groupby(["case_id", "structure", "level"], sort=False):
        sides = dict(zip(group["side"], group["value"]))
        if len(sides) != 2:
            continue
        left, right = sides["left"], sides["right"]
        common = dict(case_id=case_id, structure=structure, side="both", level=level)
        rows.append(make_row(metric="csa", value=left + right, method="left+right", **common))
        rows.append(make_row(metric="asymmetry", value=100.0 * (left - right) / ((left + right) / 2.0),
                             method="csa (left-right)/mean", **common))
    return rows


def measure_muscles(
    image: Volume,
    labels: Union[Volume, Mapping[Structure, np.ndarray]],
    *,
    case_id: str,
    methods: Sequence[str] = ("calibrated",),
    levels: Optional[LevelSlices] = None,
    water: Optional[Volume] = None,
    fat: Optional[Volume] = None,
    label_map: Optional[Mapping[int, Structure]] = None,
    threshold: Optional[float] = None,
    rules: Optional[FlagRules] = None,
    progress: Optional[Progress] = None,
) -> pd.DataFrame:
    """Long table of CSA, functional CSA, volume, mean intensity, fat infiltration (each method),
    Dixon fat fraction, bilateral CSA and asymmetry, per structure/side and level ('all' + given levels).
    The first method is the primary one (functional CSA and flags use it)."""
    check_volume(image, "axial")
    if isinstance(labels, Volume):
        check_volume(labels)
        require_same_grid(image, labels)
        masks = structure_masks(labels, label_map)
    else:
        masks = {s: np.asarray(m, bool) for s, m in labels.items()}
    _check_masks(masks, image)
    context = _Context(image, methods, threshold, water, fat)
    slice_sets = _slice_sets(image.array.shape[0], levels)
    order = {name: i for i, name in enumerate(MUSCLES)}
    rows: List[dict] = []
    ordered = sorted(masks, key=lambda s: (order.get(s.name, 99), s.name, s.side))
    for index, structure in enumerate(ordered):
        if progress:
            progress(index / len(ordered), f"Measuring {structure.key.replace('_', ' ')}")
        rows.extend(_structure_rows(case_id, structure, masks[structure], context, slice_sets))
    table = long_table(rows)
    table = long_table(rows + _bilateral_rows(table))
    if progress:
        progress(1.0, "Done")
    return add_flags(table, rules or FlagRules())


def per_slice_areas(image: Volume, masks: Mapping[Structure, np.ndarray], case_id: str,
                    levels: Optional[LevelSlices] = None) -> pd.DataFrame:
    """CSA of every structure on every slice where it appears (cm2), with the slice's level."""
    level_of = {k: name for name, slices in (levels or {}).items() for k in slices}
    records = []
    for structure, mask in masks.items():
        areas = mask.sum(axis=(1, 2)) * image.pixel_area_mm2 / MM2_PER_CM2
        for k in np.flatnonzero(areas):
            records.append({"case_id": case_id, "structure": structure.name, "side": structure.side,
                            "slice": int(k), "level": level_of.get(int(k), ""), "csa_cm2": float(areas[k])})
    return pd.DataFrame(records)


def primary_fat_voxels(image: Volume, masks: Mapping[Structure, np.ndarray], method: str,
                       water: Optional[Volume] = None, fat: Optional[Volume] = None,
                       threshold: Optional[float] = None) -> np.ndarray:
    """Union of the fat voxels of all masks by one method (for QC overlays)."""
    context = _Context(image, [method], threshold, water, fat)
    union = np.zeros(image.array.shape, bool)
    for mask in masks.values():
        union |= context.fat_maps(np.asarray(mask, bool))[method_label(method, threshold)]
    return union
