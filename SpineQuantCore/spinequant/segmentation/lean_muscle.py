"""A lean muscle in an anatomical window of an axial slice, by shape prior (psoas, quadratus lumborum).

Each slice gets a frame in millimetres (lateral of the midline, in front of the laminar surface).
Lean voxels in the muscle's window are split into components over a ladder of erosions, so a
muscle touching a neighbour (vertebral body, kidney, bowel) across a contact narrower than itself
comes free; the component that best matches the muscle's prior (area, position, convexity) is
grown back to its lean outline by a marker watershed against its rivals, and the slices are tracked
so that the muscle stays continuous through the stack. Muscles in axial section are near-convex
(Gray's Anatomy, lumbar cross-sections), which the convex envelope and the solidity test use.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
from scipy import ndimage
from skimage.morphology import convex_hull_image
from skimage.segmentation import watershed

from .compartment import _disk_px, fatty_envelope, side_region

EROSION_LADDER_MM = (0.0, 2.0, 4.0, 6.0, 8.0)
MIN_CORE_MM2 = 20.0
MAX_CUT_SHARE = 0.3  # a muscle is walled by fat planes or by other muscles, not cut out of lean tissue
DEPTH_WEIGHT_PER_MM = 0.02
STRICT_FAT_FRACTION = 0.2  # lean muscle; vertebral marrow is fattier (~30-50 %)
SMOOTH_MM = 1.0
BORDER_FAT_FRACTION = 0.5
MARROW_RADIUS_MM = 2.0  # partial-volume muscle borders are thinner than this
TRACK_REACH_MM = 8.0  # a muscle's outline moves less than this between neighbouring slices
TRACK_INSIDE_SHARE = 0.8
TRACK_AREA_RATIO = (0.6, 1.6)  # muscle areas change ~5-10 % per 4 mm slice
RETRY_REACH_MM = 4.0
MAX_GAP = 2
SIDES = ((1, "left"), (-1, "right"))  # +x is the patient's left in LPS


@dataclass
class Frame:
    """Per-slice anatomical coordinates (mm): lateral of the midline on one side, in front of the lamina."""

    lateral: np.ndarray
    front: np.ndarray
    pixel: Tuple[float, float]  # (column, row) size in mm

    def crop(self, box) -> Frame:
        return Frame(self.lateral[box], self.front[box], self.pixel)


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
    depth_mm: float  # front-to-back thickness
    outside: Optional[np.ndarray] = None  # unclaimed lean tissue outside the search window

    @cached_property
    def solidity(self) -> float:  # costly (a convex hull): checked last, only when needed
        return solidity(self.mask)

    @cached_property
    def cut_share(self) -> float:
        """Share of the outline where lean tissue runs on out of the window: a piece cut from a bigger organ."""
        if self.outside is None:
            return 0.0
        ring = dilate_within(self.mask, _disk_px(0.0, 1.0), ~self.mask)
        return float((ring & self.outside).sum()) / max(1, int(ring.sum()))


def describe(mask: np.ndarray, frame: Frame, core=None, radius_mm: float = 0.0, outside=None) -> Blob:
    """Size, position and extent of a region; its medial edge is taken from its core (if given)."""
    area = float(mask.sum()) * frame.pixel[0] * frame.pixel[1]
    lateral, front = frame.lateral[mask], frame.front[mask]
    medial = frame.lateral[core].min() - radius_mm if core is not None else lateral.min()
    extent = max(np.ptp(lateral), np.ptp(front))
    position = (float(lateral.mean()), float(front.mean()), float(medial))
    return Blob(mask, area, *position, float(extent), float(np.ptp(front)), outside)


def bounding_box(mask: np.ndarray, pad: int = 0) -> Tuple[slice, slice]:
    rows, columns = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    return (
        slice(max(0, rows[0] - pad), rows[-1] + pad + 1),
        slice(max(0, columns[0] - pad), columns[-1] + pad + 1),
    )


def solidity(mask: np.ndarray) -> float:
    """Area of the hole-filled section over that of its convex hull (1 = convex)."""
    if mask.sum() < 3:
        return 0.0
    filled = ndimage.binary_fill_holes(mask[bounding_box(mask, 1)])
    return float(filled.sum()) / max(1, int(convex_hull_image(filled).sum()))


def dilate_within(core: np.ndarray, footprint, within: np.ndarray) -> np.ndarray:
    """binary_dilation(core, footprint) & within, computed on the core's bounding box only."""
    box = bounding_box(core, footprint.shape[0] // 2 + 1)
    out = np.zeros_like(core)
    out[box] = ndimage.binary_dilation(core[box], footprint) & within[box]
    return out


def pick_component(
    candidate: np.ndarray,
    frame: Frame,
    accept: Callable[[Blob], bool],
    score: Callable[[Blob], float],
    outside: Optional[np.ndarray] = None,
    ladder_mm: Sequence[float] = EROSION_LADDER_MM,
) -> Tuple[Optional[np.ndarray], np.ndarray, float]:
    """Core of the best accepted component over a ladder of erosions: (core, rival cores, score).

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
            region = core if radius <= 0 else dilate_within(core, footprint, candidate)
            blob = describe(region, frame, core, radius, outside)
            if accept(blob) and blob.cut_share <= MAX_CUT_SHARE and score(blob) > best_score:
                best, best_score = (core, eroded & ~core), score(blob)
    if best is None:
        return None, np.zeros_like(candidate), 0.0
    return best[0], best[1], best_score


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
    """Holes and border notches (fat patches inside the fascia) filled up to the convex outline (holes lie
    inside the hull, so filling them first leaves the outline unchanged)."""
    return fatty_envelope(ndimage.binary_fill_holes(mask), allowed)


def refine_border(mask: np.ndarray, raw_fat_fraction: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Add the ring of border voxels that read lean unsmoothed (smoothing blurs them into the fat plane)."""
    ring = dilate_within(mask, _disk_px(0.0, 1.0), allowed) & ~mask
    return mask | (ring & (raw_fat_fraction < BORDER_FAT_FRACTION))


def muscle_in_window(maps, allowed, free, frame: Frame, accept, score, barrier) -> Tuple[Optional[np.ndarray], float]:
    """The best accepted lean muscle inside `allowed`, its border settled against its neighbours.

    maps = (lean mask, smoothed fat fraction, raw fat fraction); free: unlabelled body voxels;
    barrier: voxels it never takes.
    """
    if not allowed.any():
        return None, 0.0
    box = bounding_box(allowed, 2)  # work on the window only: morphology on whole slices is slow
    sub = frame.crop(box)
    lean, fat_fraction, raw_fat_fraction = (array[box] for array in maps)
    allowed = allowed[box]
    strict = lean & (fat_fraction < STRICT_FAT_FRACTION)
    outside = lean & free[box] & ~allowed
    core, rival_cores, best = pick_component(strict & allowed, sub, accept, score, outside)
    if core is None:
        return None, 0.0
    # thick, part-fatty tissue is not muscle edge but marrow or viscera: it competes for the border
    marrow = ndimage.binary_opening(lean & ~strict, _disk_px(MARROW_RADIUS_MM, frame.pixel[0]))
    rivals = rival_cores | marrow | ~allowed | barrier[box]
    grown = grow_back(core, lean & allowed, rivals, fat_fraction, frame_spacing(frame))
    final = refine_border(convex_envelope(grown, allowed), raw_fat_fraction, allowed)
    if not accept(describe(final, sub)):  # grown into something the prior does not allow
        return None, 0.0
    mask = np.zeros(frame.lateral.shape, bool)
    mask[box] = final
    return mask, best


def frame_spacing(frame: Frame):
    return (frame.pixel[0], frame.pixel[1], 0.0)


def agrees(mask: np.ndarray, previous: np.ndarray, reach: np.ndarray) -> bool:
    """A slice's muscle continues the neighbour's: mostly inside its reach, of similar size."""
    ratio = mask.sum() / max(1, previous.sum())
    return (mask & reach).sum() >= TRACK_INSIDE_SHARE * mask.sum() and TRACK_AREA_RATIO[0] <= ratio <= TRACK_AREA_RATIO[
        1
    ]


def _anchor(free: list, footprint) -> int:
    """The slice whose muscle its neighbours agree with most (ties: the best score)."""
    support = np.full(len(free), -1.0)
    for k, (mask, score) in enumerate(free):
        if mask is None:
            continue
        reach = dilate_within(mask, footprint, np.ones_like(mask))
        near = range(max(0, k - MAX_GAP), min(len(free), k + MAX_GAP + 1))
        votes = sum(free[j][0] is not None and j != k and agrees(free[j][0], mask, reach) for j in near)
        support[k] = votes + score / (1.0 + max(s for _, s in free))
    return int(np.argmax(support))


def track_slices(segment_slice: Callable, n_slices: int, pixel_mm: float) -> list:
    """Masks per slice, kept continuous from the most consistent slice up and down the stack.

    segment_slice(k, prior) -> (mask or None, score). A free result that does not continue the
    neighbouring slice's muscle (bowel, kidney) is replaced by a search within a few mm of the
    neighbour's outline; tracking stops after MAX_GAP slices without a match.
    """
    free = [segment_slice(k, None) for k in range(n_slices)]
    out = [None] * n_slices
    if all(mask is None for mask, _ in free):
        return out
    footprint = _disk_px(TRACK_REACH_MM, pixel_mm)
    anchor = _anchor(free, footprint)
    out[anchor] = free[anchor][0]
    for step in (1, -1):
        previous, gap, k = out[anchor], 0, anchor + step
        while 0 <= k < n_slices and gap <= MAX_GAP:
            reach = dilate_within(previous, footprint, np.ones_like(previous))
            mask = free[k][0]
            if mask is None or not agrees(mask, previous, reach):
                near = dilate_within(previous, _disk_px(RETRY_REACH_MM, pixel_mm), np.ones_like(previous))
                mask = segment_slice(k, near)[0]
            if mask is not None and agrees(mask, previous, reach):
                out[k], previous, gap = mask, mask, 0
            else:
                gap += 1
            k += step
    return out
