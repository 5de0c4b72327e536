"""Quadratus lumborum (QL): the flat posterolateral muscle in front of the lateral erector spinae.

Anatomy used (Gray's Anatomy, posterior abdominal wall and lumbar cross-sections):
- the QL runs from the iliac crest and iliolumbar ligament up to the 12th rib, attached medially
  to the tips of the L1-L4 transverse processes, so in section it starts ~35-50 mm from the midline
  and reaches ~80-110 mm out;
- it lies directly in front of the erector spinae, separated only by the thoracolumbar fascia's
  middle layer, and behind the kidney and colon (perirenal fat and the fascia's anterior layer
  between), lateral to the psoas: its centre is ~0-35 mm in front of the posterior laminar surface;
- it is a band ~1-2 cm thick, a few cm^2 in section (largest at L3-L4), thinning at the iliac crest.

It is searched with lean_muscle's shape prior in that window, lateral of the psoas, among the
voxels no other muscle took. Being thin is what tells it from kidney and colon (thick, in front),
so a candidate must stay a band after growing back. It is kept only where it is continuous over
several slices: a QL that cannot be followed is left out rather than guessed (the quality table
then flags the slice as QL missing on one side).
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
from scipy import ndimage

from ..labels import LABEL_OF
from .compartment import bridged_gaps, gap_slices
from .lean_muscle import SIDES, SMOOTH_MM, Blob, Frame, muscle_in_window, slice_frame, track_slices, window

WINDOW_LATERAL_MM = (30.0, 125.0)
WINDOW_FRONT_MM = (-10.0, 50.0)
CENTRE_LATERAL_MM = (45.0, 105.0)
CENTRE_FRONT_MM = (0.0, 35.0)
EXPECTED_CENTRE_MM = (68.0, 12.0)  # lateral, front
AREA_MM2 = (80.0, 1000.0)
# attached to the transverse process tips (35-50 mm out): a lean blob starting further out is colon,
# kidney pole or abdominal wall (margin for a long L3 process and a rotated spine)
MAX_MEDIAL_EDGE_MM = 70.0
MAX_DEPTH_MM = 25.0  # a band ~1-2 cm thick; the kidney is ~4-5 cm, colon loops ~3-4 cm
MAX_EXTENT_MM = 80.0
MIN_SOLIDITY = 0.6
SCORE_OFFSET_MM = 20.0
MIN_SLICES = 3  # a QL seen on fewer slices is not reliable enough to report
# ... and one missed over up to 12 mm (3 slices of 4 mm) between found ones is bridged (phantom seeds
# 0-3: a fat stripe through the QL on 3 slices of seed 1; QL 0.944-0.994 with 2 slices, 0.965-0.999)
MAX_GAP_MM = 12.0


def _accept_quadratus(blob: Blob) -> bool:
    return (
        CENTRE_LATERAL_MM[0] <= blob.lateral <= CENTRE_LATERAL_MM[1]
        and CENTRE_FRONT_MM[0] <= blob.front <= CENTRE_FRONT_MM[1]
        and blob.extent_mm <= MAX_EXTENT_MM
        and _accept_in_prior(blob)
    )


def _band_like(blob: Blob) -> bool:
    """Thin and convex: not the kidney or a colon loop, which are thick and lie in front of it."""
    return blob.depth_mm <= MAX_DEPTH_MM and blob.solidity >= MIN_SOLIDITY


def _accept_in_prior(blob: Blob) -> bool:
    """Size, medial edge and band shape: what a QL must have also where the neighbours' QL guides it."""
    return AREA_MM2[0] <= blob.area_mm2 <= AREA_MM2[1] and blob.min_lateral <= MAX_MEDIAL_EDGE_MM and _band_like(blob)


def _score_quadratus(blob: Blob) -> float:
    offset = np.hypot(blob.lateral - EXPECTED_CENTRE_MM[0], blob.front - EXPECTED_CENTRE_MM[1])
    return blob.area_mm2 * blob.solidity**2 / (1.0 + (offset / SCORE_OFFSET_MM) ** 2)


def quadratus_slice(
    lean, fat_fraction, raw_fat_fraction, body, frame: Frame, labels_k, side_name: str, prior=None
) -> Tuple[Optional[np.ndarray], float]:
    """One side's QL on one slice and its score; (None, 0) when not found."""
    psoas = labels_k == LABEL_OF[f"psoas_{side_name}"]
    allowed = body & (labels_k == 0) & window(frame, WINDOW_LATERAL_MM, WINDOW_FRONT_MM)
    if psoas.any():
        allowed &= frame.lateral >= np.median(frame.lateral[psoas])
    accept = _accept_quadratus
    if prior is not None:
        allowed, accept = allowed & prior, _accept_in_prior
    maps = (lean, fat_fraction, raw_fat_fraction)
    return muscle_in_window(
        maps, allowed, body & (labels_k == 0), frame, accept, _score_quadratus, np.zeros_like(allowed)
    )


def bridge_missed_slices(labels: np.ndarray, value: int, body: np.ndarray, max_gap: int) -> np.ndarray:
    """Where up to `max_gap` slices lack part of the QL that the slices on both sides of the gap
    have, that part is QL.

    The muscle changes little over a few millimetres, while a marbling patch or a touching kidney
    can hide it on a slice or two (phantom: whole slices missed, their neighbours found). In place.
    """
    present = labels == value
    labels[bridged_gaps(present, max_gap) & ~present & (labels == 0) & body] = value
    return labels


def label_quadratus(labels, lean, fat_fraction, body, midlines, laminae, spacing) -> np.ndarray:
    """Add QL labels (7 left, 8 right) to a canonical (K, J, I) label map, in place; returns it."""
    smooth = ndimage.gaussian_filter(fat_fraction, (0, SMOOTH_MM / spacing[1], SMOOTH_MM / spacing[0]))
    before = labels.copy()
    max_gap = gap_slices(MAX_GAP_MM, spacing[2])
    for column, (side, name) in enumerate(SIDES):

        def segment_slice(k, prior, column=column, side=side, name=name):
            if not (np.isfinite(midlines[k]) and np.isfinite(laminae[k, column]) and body[k].any()):
                return None, 0.0
            frame = slice_frame(lean[k].shape, midlines[k], laminae[k, column], side, spacing)
            return quadratus_slice(lean[k], smooth[k], fat_fraction[k], body[k], frame, before[k], name, prior)

        masks = track_slices(segment_slice, labels.shape[0], spacing[0])
        if sum(mask is not None for mask in masks) < MIN_SLICES:
            continue
        for k, mask in enumerate(masks):
            if mask is not None:
                labels[k][mask & (before[k] == 0)] = LABEL_OF[f"quadratus_lumborum_{name}"]
        bridge_missed_slices(labels, LABEL_OF[f"quadratus_lumborum_{name}"], body, max_gap)
    return labels
