"""Psoas major: the lean, near-elliptic muscle beside the vertebral body, in front of the transverse process.

Anatomy used (standard lumbar cross-sectional anatomy; psoas CSA grows caudally, e.g. 1.9 +- 1.1 cm^2
at L1 to 12.1 +- 2.5 cm^2 at L5 in young women, "Morphometry of lumbar muscles in the seated posture
with weight-bearing MR scans"; larger in men, hence the wide area range below):
- the psoas arises from the sides of the vertebral bodies and discs, so its medial edge lies beside
  the body, ~15-30 mm from the midline, never across it;
- it lies in front of the transverse processes: its centre is ~20-75 mm in front of the posterior
  laminar surface and ~20-60 mm lateral of the midline;
- in section it is convex (round at L4-L5, a teardrop at L1-L2). Kidney, bowel and vertebral
  body may touch it, but only across a neck or a fat plane, never as one convex blob.

The muscle is found with lean_muscle's shape-prior search: a lean psoas walled by fat planes is
kept to the pixel; one touching the body, a disc or the kidney is cut at the contact; marrow
(fattier than muscle) is a rival for the border; slices are tracked from the most consistent one.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
from scipy import ndimage

from ..labels import LABEL_OF
from .lean_muscle import SIDES, SMOOTH_MM, Blob, Frame, muscle_in_window, slice_frame, track_slices, window

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
SCORE_OFFSET_MM = 20.0
MEDIAL_SLACK_MM = 6.0  # how much closer to the midline than usual the psoas may reach on one slice


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


def _accept_in_prior(blob: Blob) -> bool:
    return AREA_MM2[0] <= blob.area_mm2 <= AREA_MM2[1] and blob.solidity >= MIN_SOLIDITY


def psoas_slice(
    lean, fat_fraction, raw_fat_fraction, body, frame: Frame, taken, prior=None
) -> Tuple[Optional[np.ndarray], float]:
    """One side's psoas on one slice and its score; (None, 0) when no convincing candidate.

    With a prior (the neighbouring slice's psoas, dilated) the search is confined to it and the
    position rules are dropped: the muscle is known to be there.
    """
    allowed = body & ~taken & window(frame, WINDOW_LATERAL_MM, WINDOW_FRONT_MM)
    accept = _accept_psoas
    if prior is not None:
        allowed, accept = allowed & prior, _accept_in_prior
    maps = (lean, fat_fraction, raw_fat_fraction)
    return muscle_in_window(maps, allowed, body & ~taken, frame, accept, _score_psoas, frame.lateral < SPINE_STRIP_MM)


def label_psoas(labels, lean, fat_fraction, body, midlines, laminae, spacing) -> np.ndarray:
    """Add psoas labels (5 left, 6 right) to a canonical (K, J, I) label map, in place; returns it."""
    smooth = ndimage.gaussian_filter(fat_fraction, (0, SMOOTH_MM / spacing[1], SMOOTH_MM / spacing[0]))
    taken = labels > 0
    for column, (side, name) in enumerate(SIDES):

        def segment_slice(k, prior, column=column, side=side):
            if not (np.isfinite(midlines[k]) and np.isfinite(laminae[k, column]) and body[k].any()):
                return None, 0.0
            frame = slice_frame(lean[k].shape, midlines[k], laminae[k, column], side, spacing)
            return psoas_slice(lean[k], smooth[k], fat_fraction[k], body[k], frame, taken[k], prior)

        masks = track_slices(segment_slice, labels.shape[0], spacing[0])
        for k, mask in enumerate(clear_of_the_spine(masks, midlines, side, spacing[0])):
            if mask is not None:
                labels[k][mask & ~taken[k]] = LABEL_OF[f"psoas_{name}"]
    return labels


def clear_of_the_spine(masks: list, midlines, side: int, pixel_mm: float) -> list:
    """Cut what reaches well medial of the psoas's usual medial edge: the disc it touched at one level.

    Vertebral bodies and discs are about equally wide through the lumbar spine, so the psoas's medial
    edge (against them) stays at a similar distance from the midline; a slice where it reaches much
    closer took in part of a disc (water-rich, as lean as muscle) or of the body.
    """
    medial = {}
    for k, mask in enumerate(masks):
        if mask is not None:
            lateral = (np.nonzero(mask)[1] - midlines[k]) * pixel_mm * side
            medial[k] = np.percentile(lateral, 1)
    if len(medial) < 3:
        return masks
    limit = np.median(list(medial.values())) - MEDIAL_SLACK_MM
    out = list(masks)
    for k in medial:
        columns = (np.arange(masks[k].shape[1]) - midlines[k]) * pixel_mm * side
        out[k] = masks[k] & (columns >= limit)[None, :]
    return out
