"""Vertebral levels of an axial stack: which slices belong to L1 ... S1 (and discs between them).

Three ways in: slice ranges ("L4:7-12,L5:15-19"), one point per level (LPS mm, e.g. markups
placed at mid-vertebra), or a vertebra label map (VerSe codes 20 = L1 ... 24 = L5, 25 = L6, 26 = S1)
in the same physical space, resampled onto the axial grid.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
import SimpleITK as sitk

from .errors import InputError
from .imageio import Volume, read_volume
from .vbq.landmarks import read_landmarks

LevelSlices = Dict[str, List[int]]

VERTEBRA_CODES = {17: "T10", 18: "T11", 19: "T12", 20: "L1", 21: "L2", 22: "L3", 23: "L4", 24: "L5",
                  25: "L6", 26: "S1"}
LEVEL_ORDER = [VERTEBRA_CODES[c] for c in sorted(VERTEBRA_CODES)]
MAX_POINT_REACH_MM = 20.0  # a single landmark speaks for slices within this distance
MIN_SLICE_VOXELS = 20  # a vertebra needs this many voxels on a slice to name it


def _check_level_name(name: str, source: str) -> str:
    level = name.strip().upper()
    if level not in LEVEL_ORDER and not re.fullmatch(r"(T1[0-2]|L[1-6])-(T12|L[1-6]|S1)", level):
        raise InputError(source, f"unknown level name {name!r}; use names like L1..L5, S1 or L4-L5")
    return level


def levels_from_ranges(text: str, n_slices: int, source: str = "--levels") -> LevelSlices:
    """Parse 'L3:0-4,L4:7-12' (0-based slice indices, inclusive)."""
    result: LevelSlices = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = re.fullmatch(r"([A-Za-z0-9-]+?):(\d+)(?:-(\d+))?", part)
        if not match:
            raise InputError(source, f"cannot read {part!r}; write LEVEL:FIRST-LAST, e.g. L4:7-12")
        level = _check_level_name(match.group(1), source)
        first, last = int(match.group(2)), int(match.group(3) or match.group(2))
        if first > last or last >= n_slices:
            raise InputError(source, f"slices {first}-{last} for {level} are outside 0-{n_slices - 1}")
        result[level] = list(range(first, last + 1))
    if not result:
        raise InputError(source, "no levels given")
    return result


def _slice_coordinate(volume: Volume, point_lps: Sequence[float]) -> float:
    """Continuous K index of the slice a physical point lies on."""
    index = np.linalg.solve(volume.ijk_to_lps(), np.append(np.asarray(point_lps, float), 1.0))
    return float(index[2])


def levels_from_points(points: Mapping[str, Sequence[float]], volume: Volume,
                       source: str = "landmarks") -> LevelSlices:
    """Each slice goes to the nearest landmark's level, up to halfway to the next landmark."""
    named = {_check_level_name(name, source): _slice_coordinate(volume, p) for name, p in points.items()}
    if not named:
        raise InputError(source, "no level landmarks given")
    reach = MAX_POINT_REACH_MM / volume.spacing[2]
    result: LevelSlices = {}
    coordinates = np.array(list(named.values()))
    names = list(named)
    for k in range(volume.array.shape[0]):
        distances = np.abs(coordinates - k)
        nearest = int(np.argmin(distances))
        others = np.delete(coordinates, nearest)
        halfway = np.min(np.abs(others - coordinates[nearest])) / 2 if others.size else reach
        if distances[nearest] <= min(reach, halfway):
            result.setdefault(names[nearest], []).append(k)
    outside = [n for n in names if n not in result]
    if outside:
        raise InputError(source, f"landmark(s) {', '.join(outside)} lie outside the axial stack")
    return result


def levels_from_vertebra_map(vertebrae: Volume, volume: Volume) -> LevelSlices:
    """Name slices by the vertebral body on them; slices between two bodies get the disc name."""
    resampled = sitk.Resample(vertebrae.to_sitk(), volume.to_sitk(), sitk.Transform(),
                              sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    labels = sitk.GetArrayViewFromImage(resampled)
    per_slice: List[Optional[str]] = []
    for k in range(labels.shape[0]):
        codes, counts = np.unique(labels[k][labels[k] > 0], return_counts=True)
        keep = [(n, c) for c, n in zip(codes, counts) if int(c) in VERTEBRA_CODES and n >= MIN_SLICE_VOXELS]
        per_slice.append(VERTEBRA_CODES[int(max(keep)[1])] if keep else None)
    if not any(per_slice):
        raise InputError(vertebrae.source, "no labelled lumbar vertebral body overlaps the axial stack "
                                           "(expected VerSe codes 20 = L1 ... 24 = L5)")
    result: LevelSlices = {}
    for k, level in enumerate(per_slice):
        if level is None:
            above = next((per_slice[j] for j in range(k - 1, -1, -1) if per_slice[j]), None)
            below = next((per_slice[j] for j in range(k + 1, len(per_slice)) if per_slice[j]), None)
            if above and below and above != below:
                level = "-".join(sorted((above, below), key=LEVEL_ORDER.index))
        if level:
            result.setdefault(level, []).append(k)
    return result


def resolve_levels(spec: Optional[str], volume: Volume) -> Optional[LevelSlices]:
    """Interpret a --levels value: a JSON landmark file, a vertebra label image, or slice ranges."""
    if not spec:
        return None
    path = Path(spec)
    if path.suffix.lower() == ".json":
        points = read_landmarks(spec)  # the same landmark files VBQ reads and writes
        points.pop("CSF", None)
        return levels_from_points(points, volume, source=spec)
    if path.exists():
        return levels_from_vertebra_map(read_volume(spec), volume)
    return levels_from_ranges(spec, volume.array.shape[0])


def ordered_levels(levels: LevelSlices) -> List[str]:
    """Levels sorted cranio-caudally by their first slice's anatomical order, then by name."""
    def key(name: str):
        head = name.split("-")[0]
        return (LEVEL_ORDER.index(head) if head in LEVEL_ORDER else 99, name)
    return sorted(levels, key=key)
