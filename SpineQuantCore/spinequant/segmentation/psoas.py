"""Psoas major: the lean, near-elliptic muscle beside the vertebral body, in front of the transverse process.

Anatomy used (Gray's Anatomy, lumbar cross-sections; psoas CSA from Hanson et al., Am J Sports Med
1999 and Reimann et al., Sci Rep 2024: ~2-8 cm^2 at L1-L2 growing to ~10-30 cm^2 at L4-L5):
- the psoas arises from the sides of the vertebral bodies and discs, so its medial edge lies beside
  the body, ~15-30 mm from the midline, never across it;
- it lies in front of the transverse processes: its centre is ~20-75 mm in front of the posterior
  laminar surface and ~20-60 mm lateral of the midline;
- in section it is convex (round at L4-L5, a teardrop at L1-L2). Kidney, bowel and vertebral
  body may touch it, but only across a neck or a fat plane, never as one convex blob.

The muscle is therefore taken as the lean component that matches this prior after the smallest
morphological opening that cuts it from its neighbours (an "opening ladder"): a lean psoas walled
by fat planes is kept to the pixel; one touching the kidney is cut at the narrowest contact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
from scipy import ndimage
from skimage.morphology import convex_hull_image
from skimage.segmentation import watershed

from ..labels import LABEL_OF
from .compartment import _disk_px, side_region

WINDOW_LATERAL_MM = (8.0, 90.0)
WINDOW_FRONT_MM = (-5.0, 85.0)
CENTRE_LATERAL_MM = (18.0, 60.0)
CENTRE_FRONT_MM = (5.0, 65.0)
EXPECTED_CENTRE_MM = (36.0, 35.0)  # lateral, front: beside the middle of the vertebral body
MAX_MEDIAL_MM = 35.0  # its medial edge touches the body (half-width ~20-30 mm): kidney and colon lie further out
SPINE_STRIP_MM = 10.0  # a blob reaching this close to the midline is fused with the vertebral body
AREA_MM2 = (150.0, 3500.0)
MAX_EXTENT_MM = 75.0  # no psoas section is wider than ~6 cm in any direction
MIN_SOLIDITY = 0.6  # of the hole-filled section; large fat patches at the border notch it deeply
EROSION_LADDER_MM = (0.0, 2.0, 4.0, 6.0, 8.0)
MIN_CORE_MM2 = 20.0
SCORE_OFFSET_MM = 20.0
DEPTH_WEIGHT_PER_MM = 0.02
STRICT_FAT_FRACTION = 0.2  # psoas is among the leanest muscles; vertebral marrow is fattier (~30-50 %)
SMOOTH_MM = 1.0
SIDES = ((1, "left"), (-1, "right"))  # +x is the patient's left in LPS


@dataclass
class Frame:
    """Per-slice anatomical coordinates (mm): lateral of the midline on one side, in front of the lamina."""

    lateral: np.ndarray
    front: np.ndarray
    pixel: Tuple[float, float]  # (column, row) size in mm


def slice_frame(shape, midline: float, lamina_row: float, side: int, spacing) -> Frame:
    _, lateral_mm = side_region(shape, midline, side, spacing[0])
    rows = np.arange(shape[0])[:, None]
    lateral = np.broadcast_to(lateral_mm[None, :], shape)
    front = np.broadcast_to((lamina_row - rows) * spacing[1], shape)
    return Frame(lateral, front, (spacing[0], spacing[1]))


def window(frame: Frame, lateral_mm, front_mm) -> np.ndarray:
    return (
        (frame.lateral >= lateral_mm[0])
        & (frame.lateral <= lateral_mm[1])
        & (frame.front >= front_mm[0])
        & (frame.front <= front_mm[1])
    )


@dataclass
class Blob:
    mask: np.ndarray
    area_mm2: float
    lateral: float  # centroid, mm
    front: float
    min_lateral: float
    extent_mm: float
    solidity: float


def describe(mask: np.ndarray, frame: Frame, core: Optional[np.ndarray] = None, radius_mm: float = 0.0) -> Blob:
    """Size, position and convexity of a region; its medial edge is taken from its core (if given)."""
    area = float(mask.sum()) * frame.pixel[0] * frame.pixel[1]
    lateral, front = frame.lateral[mask], frame.front[mask]
    medial = frame.lateral[core].min() - radius_mm if core is not None else lateral.min()
    filled = ndimage.binary_fill_holes(mask)
    solidity = float(filled.sum()) / max(1, int(convex_hull_image(filled).sum())) if mask.sum() >= 3 else 0.0
    extent = max(np.ptp(lateral), np.ptp(front))
    return Blob(mask, area, float(lateral.mean()), float(front.mean()), float(medial), float(extent), solidity)


def pick_component(
    candidate: np.ndarray,
    frame: Frame,
    accept: Callable[[Blob], bool],
    score: Callable[[Blob], float],
    ladder_mm: Sequence[float] = EROSION_LADDER_MM,
) -> Tuple[Optional[np.ndarray], np.ndarray]:
    """Core of the best-scoring accepted component over a ladder of erosions; (core, rival cores).

    A muscle touching a neighbour (vertebral body, kidney) across a contact narrower than itself
    separates from it once eroded by half the contact's width; a free one is best seen uneroded.
    """
    pixel, min_pixels = frame.pixel[0], MIN_CORE_MM2 / (frame.pixel[0] * frame.pixel[1])
    best, best_score = None, -np.inf
    for radius in ladder_mm:
        footprint = _disk_px(radius, pixel) if radius > 0 else None
        eroded = candidate if radius <= 0 else ndimage.binary_erosion(candidate, footprint)
        labelled, count = ndimage.label(eroded)
        sizes = ndimage.sum_labels(eroded, labelled, np.arange(1, count + 1))
        for index in 1 + np.nonzero(sizes >= min_pixels)[0]:
            core = labelled == index
            region = core if radius <= 0 else ndimage.binary_dilation(core, footprint) & candidate
            blob = describe(region, frame, core, radius)
            if accept(blob) and score(blob) > best_score:
                best, best_score = (core, eroded & ~core), score(blob)
    return best if best is not None else (None, np.zeros_like(candidate))


def grow_back(core: np.ndarray, loose: np.ndarray, rivals: np.ndarray, fat_fraction: np.ndarray, spacing) -> np.ndarray:
    """Grow a core out to the loose lean outline, competing with rival markers (marker watershed).

    The relief is the fat fraction (fat planes are ridges) minus a little of the distance to the
    outline (necks between touching convex blobs are ridges too), so each contested voxel goes to
    the region it resembles and is nearer the middle of: marrow and viscera stay out.
    """
    markers = np.zeros(core.shape, np.int32)
    markers[rivals & loose] = 2
    markers[core] = 1
    depth = ndimage.distance_transform_edt(loose | core, sampling=(spacing[1], spacing[0]))
    flooded = watershed(fat_fraction - DEPTH_WEIGHT_PER_MM * depth, markers, mask=loose | core)
    return flooded == 1


def convex_envelope(mask: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Holes and border notches (fat patches inside the fascia) filled up to the convex outline."""
    if mask.sum() < 3:
        return mask
    return ndimage.binary_fill_holes(mask) | (convex_hull_image(mask) & allowed)


def _accept_psoas(blob: Blob) -> bool:
    return (
        AREA_MM2[0] <= blob.area_mm2 <= AREA_MM2[1]
        and CENTRE_LATERAL_MM[0] <= blob.lateral <= CENTRE_LATERAL_MM[1]
        and CENTRE_FRONT_MM[0] <= blob.front <= CENTRE_FRONT_MM[1]
        and SPINE_STRIP_MM <= blob.min_lateral <= MAX_MEDIAL_MM
        and blob.extent_mm <= MAX_EXTENT_MM
        and blob.solidity >= MIN_SOLIDITY
    )


def _score_psoas(blob: Blob) -> float:
    """Big, convex and where the psoas should be: the bulkiest lean muscle beside the body."""
    offset = np.hypot(blob.lateral - EXPECTED_CENTRE_MM[0], blob.front - EXPECTED_CENTRE_MM[1])
    return blob.area_mm2 * blob.solidity**2 / (1.0 + (offset / SCORE_OFFSET_MM) ** 2)


def psoas_slice(lean, fat_fraction, body, midline: float, lamina_row: float, side: int, spacing, taken):
    """Mask of one side's psoas on one slice; empty when no convincing candidate."""
    frame = slice_frame(lean.shape, midline, lamina_row, side, spacing)
    allowed = body & ~taken & window(frame, WINDOW_LATERAL_MM, WINDOW_FRONT_MM)
    strict = lean & (fat_fraction < STRICT_FAT_FRACTION)
    core, rival_cores = pick_component(strict & allowed, frame, _accept_psoas, _score_psoas)
    if core is None:
        return np.zeros_like(lean)
    rivals = rival_cores | ~allowed | (frame.lateral < SPINE_STRIP_MM)
    grown = grow_back(core, lean & allowed, rivals, fat_fraction, spacing)
    return convex_envelope(grown, allowed)


def label_psoas(labels, lean, fat_fraction, body, midlines, laminae, spacing) -> np.ndarray:
    """Add psoas labels (5 left, 6 right) to a canonical (K, J, I) label map, in place; returns it."""
    smooth = ndimage.gaussian_filter(fat_fraction, (0, SMOOTH_MM / spacing[1], SMOOTH_MM / spacing[0]))
    for k in range(labels.shape[0]):
        if not np.isfinite(midlines[k]) or not body[k].any():
            continue
        for column, (side, name) in enumerate(SIDES):
            if not np.isfinite(laminae[k, column]):
                continue
            taken = labels[k] > 0
            mask = psoas_slice(lean[k], smooth[k], body[k], midlines[k], laminae[k, column], side, spacing, taken)
            labels[k][mask] = LABEL_OF[f"psoas_{name}"]
    return labels
