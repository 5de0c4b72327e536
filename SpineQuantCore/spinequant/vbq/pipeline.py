"""VBQ end to end: find or take the level landmarks, build ROIs on the mid-sagittal slice, score."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Tuple

import numpy as np

from ..errors import InputError
from ..imageio import Volume, require_stack
from .cutoffs import Cutoff, categorise, resolve_cutoff
from .levels import LEVEL_NAMES_UP_FROM_S1, LUMBAR
from .locate import detect_levels
from .rois import BodyRegion, body_region, csf_roi, find_canal, robust_mean, with_common_depth
from .view import SagittalView

VBQ_LEVELS = ("L1", "L2", "L3", "L4")
CSF_LEVEL_ORDER = ("L3", "L2", "L1", "L4")  # Ehresman: L3; fall back to the nearest clear levels
FRACTURE_HEIGHT_RATIO = 0.75  # Genant semi-quantitative grade 2 (>25 % height loss; Genant 1993, JBMR 8:1137)
CSF_TOO_BRIGHT_RATIO = 0.8  # on T1, CSF this close to marrow means nerve roots / partial volume
ROI_LABELS = {"L1": 1, "L2": 2, "L3": 3, "L4": 4, "L5": 5, "CSF": 10}
FIELD_STRENGTH_TAG = "0018|0087"


@dataclass
class VBQResult:
    vbq: float
    numerator: float
    level_signals: Dict[str, float]
    levels_used: List[str]
    excluded: Dict[str, str]
    csf_signal: float
    csf_level: str
    csf_notes: List[str]
    cutoff: Cutoff
    category: str
    slice_index: int
    landmarks_lps: Dict[str, np.ndarray]
    roi_labels: np.ndarray  # (K, J, I) label map on the image grid
    source: str  # "detected" or "landmarks"
    labelling_confidence: float
    sacrum_found: bool
    field_strength_t: float | None = None
    warnings: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    view_image: np.ndarray | None = None
    view_rois: Dict[str, np.ndarray] = field(default_factory=dict)
    view_centres: Dict[str, Tuple[int, int]] = field(default_factory=dict)
    body_heights_mm: Dict[str, float] = field(default_factory=dict)


def field_strength(volume: Volume) -> float | None:
    text = volume.metadata.get(FIELD_STRENGTH_TAG, "").strip()
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _neighbour_distance(name: str, centres: Dict[str, Tuple[int, int]]) -> float:
    row = centres[name][0]
    others = [abs(c[0] - row) for other, c in centres.items() if other != name and other != "CSF"]
    others = [d for d in others if d > 0]
    return float(min(others)) if others else 40.0


def _column_axis(name: str, centres: Dict[str, Tuple[int, int]]) -> Tuple[float, float]:
    """Direction (d_row, d_col) of the column at a body, from its neighbours above and below (not S1,
    which is tilted by the lumbosacral angle)."""
    order = [n for n in reversed(LEVEL_NAMES_UP_FROM_S1[1:]) if n in centres]
    index = order.index(name)
    upper = centres[order[max(index - 1, 0)]]
    lower = centres[order[min(index + 1, len(order) - 1)]]
    d_row, d_col = lower[0] - upper[0], lower[1] - upper[1]
    return (d_row, d_col) if d_row > 0 else (1.0, 0.0)


def _mean_over_slices(view: SagittalView, slices: Iterable[int], roi: np.ndarray, robust: bool) -> float:
    values = np.concatenate([view.slice_image(k)[roi] for k in slices])
    return robust_mean(values) if robust else float(values.mean())


def _fracture_flags(heights: Dict[str, float]) -> Dict[str, str]:
    flags = {}
    for index, name in enumerate(LUMBAR):
        if name not in heights:
            continue
        neighbours = [heights[n] for n in LUMBAR[max(index - 1, 0) : index + 2] if n != name and n in heights]
        if neighbours and heights[name] < FRACTURE_HEIGHT_RATIO * float(np.mean(neighbours)):
            ratio = heights[name] / float(np.mean(neighbours))
            flags[name] = (
                f"auto: body height {heights[name]:.0f} mm is {100 * (1 - ratio):.0f} % below its "
                "neighbours (possible fracture)"
            )
    return flags


def measure_vbq(
    volume: Volume,
    landmarks: Dict[str, np.ndarray] | None = None,
    exclude: Iterable[str] = (),
    cutoff=None,
    parasagittal_slices: int = 0,
    auto_exclude_fractures: bool = True,
) -> VBQResult:
    """VBQ of one sagittal volume; `landmarks` (LPS, per level and optional CSF) replace detection."""
    require_stack(volume, "sagittal")
    if not np.isfinite(volume.array).all() or float(np.ptp(volume.array)) == 0.0:
        raise InputError(volume.source, "is blank (constant intensity): no spine to measure")
    cut = resolve_cutoff(cutoff)
    view = SagittalView.of(volume)
    notes: List[str] = []
    warnings: List[str] = []
    csf_centre: Tuple[int, int] | None = None
    if landmarks is None:
        k_mid, labels, how = detect_levels(view)
        centres = dict(labels.centres)
        confidence, sacrum_found, source = labels.confidence, labels.sacrum_found, "detected"
        notes += labels.notes
        notes.append(how)
        if not sacrum_found:
            warnings.append(labels.notes[0])
    else:
        placed = {name: view.lps_to_view(point) for name, point in landmarks.items()}
        lumbar_slices = [placed[name][0] for name in placed if name != "CSF"]
        k_mid = int(np.clip(round(float(np.median(lumbar_slices))), 0, volume.array.shape[0] - 1))
        centres = {name: (int(round(p[1])), int(round(p[2]))) for name, p in placed.items() if name != "CSF"}
        if "CSF" in placed:
            csf_centre = (int(round(placed["CSF"][1])), int(round(placed["CSF"][2])))
        confidence, sacrum_found, source = 1.0, "S1" in centres, "landmarks"
        notes.append(f"levels from user landmarks on slice {k_mid}")
    image = view.slice_image(k_mid)
    shape = image.shape
    for name, (row, col) in centres.items():
        if not (0 <= row < shape[0] and 0 <= col < shape[1]):
            raise InputError(volume.source, f"landmark {name} lies outside the image")
    half = max(0, int(parasagittal_slices))
    slices = [k for k in range(k_mid - half, k_mid + half + 1) if 0 <= k < volume.array.shape[0]]

    regions: Dict[str, BodyRegion] = {}
    for name in LUMBAR:
        if name in centres:
            regions[name] = body_region(
                image, centres[name], _neighbour_distance(name, centres), _column_axis(name, centres)
            )
    regions = with_common_depth(regions, image.shape)
    signals = {name: _mean_over_slices(view, slices, region.roi, robust=False) for name, region in regions.items()}
    heights = {name: region.height_mm for name, region in regions.items()}

    excluded: Dict[str, str] = {}
    for name in exclude:
        excluded[name.strip().upper()] = "user: excluded"
    if auto_exclude_fractures:
        for name, reason in _fracture_flags(heights).items():
            excluded.setdefault(name, reason)
    used = [name for name in VBQ_LEVELS if name in signals and name not in excluded]
    for name in VBQ_LEVELS:
        if name not in signals and name not in excluded:
            excluded[name] = "not found"
    if not used:
        raise InputError(volume.source, "no usable level among L1-L4 (all excluded or not found)")
    numerator = float(np.median([signals[name] for name in used]))

    csf_value, csf_level, csf_notes, csf_mask = _measure_csf(
        view, image, slices, centres, regions, csf_centre, numerator
    )
    if csf_mask is None:
        raise InputError(volume.source, "no CSF ROI could be placed behind L1-L4")
    vbq = numerator / csf_value if csf_value > 0 else float("nan")
    category = categorise(vbq, cut)
    if csf_value >= numerator:
        warnings.append(
            "CSF is brighter than vertebral marrow: the image is not T1-weighted; the VBQ score "
            "is only defined on non-contrast T1-weighted MRI and is NOT valid here"
        )
        category = "invalid (not T1-weighted)"
    strength = field_strength(volume)

    roi_labels = np.zeros(volume.array.shape, dtype=np.uint8)
    view_rois = {name: region.roi for name, region in regions.items()}
    view_rois["CSF"] = csf_mask
    for k in slices:
        for name, mask in view_rois.items():
            view.view_mask_to_volume(mask, k, roi_labels, ROI_LABELS[name])
    landmarks_lps = {name: view.view_to_lps(k_mid, *centre) for name, centre in centres.items()}
    csf_point = _roi_centre(csf_mask)
    landmarks_lps["CSF"] = view.view_to_lps(k_mid, *csf_point)
    view_centres = dict(centres)
    view_centres["CSF"] = csf_point
    return VBQResult(
        vbq,
        numerator,
        signals,
        used,
        excluded,
        csf_value,
        csf_level,
        csf_notes,
        cut,
        category,
        k_mid,
        landmarks_lps,
        roi_labels,
        source,
        confidence,
        sacrum_found,
        strength,
        warnings,
        notes,
        image,
        view_rois,
        view_centres,
        heights,
    )


def _roi_centre(mask: np.ndarray) -> Tuple[int, int]:
    rows, cols = np.nonzero(mask)
    return int(round(0.5 * (rows.min() + rows.max()))), int(round(0.5 * (cols.min() + cols.max())))


def _nearest_level(row: int, centres: Dict[str, Tuple[int, int]]) -> str:
    lumbar = {n: c for n, c in centres.items() if n in LUMBAR} or centres
    return min(lumbar, key=lambda n: abs(lumbar[n][0] - row))


def _measure_csf(view, image, slices, centres, regions, manual_centre, marrow):
    """CSF signal, its level, notes and 2D ROI: L3 first, then L2, L1, L4 when obscured."""
    if manual_centre is not None:
        mask = csf_roi(image.shape, manual_centre)
        level = _nearest_level(manual_centre[0], centres)
        return _mean_over_slices(view, slices, mask, robust=True), level, ["CSF ROI from user landmark"], mask
    notes: List[str] = []
    fallback = None
    for level in CSF_LEVEL_ORDER:
        if level not in regions:
            notes.append(f"{level}: body not found")
            continue
        canal = find_canal(image, regions[level], centres[level])
        if canal.centre is None:
            notes.append(f"{level}: {canal.problem}")
            continue
        mask = csf_roi(image.shape, canal.centre)
        value = _mean_over_slices(view, slices, mask, robust=True)
        if fallback is None:
            fallback = (value, level, mask)
        if canal.problem:
            notes.append(f"{level}: obscured, {canal.problem}")
            continue
        if value < marrow and value > CSF_TOO_BRIGHT_RATIO * marrow:
            notes.append(
                f"{level}: obscured, CSF too bright ({value:.1f} vs marrow {marrow:.1f}; nerve roots or partial volume)"
            )
            continue
        if level != "L3":
            notes.append(f"CSF measured at {level} instead of L3")
        return value, level, notes, mask
    if fallback is None:
        return float("nan"), "", notes, None
    value, level, mask = fallback
    notes.append(f"all levels obscured; CSF taken at {level} anyway, check the QC image")
    return value, level, notes, mask
