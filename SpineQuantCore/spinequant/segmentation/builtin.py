"""The built-in segmenter, on canonical (LPS) arrays: landmarks, compartments, split, psoas, QL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional, Tuple

import numpy as np
from scipy import ndimage

from ..labels import LABEL_OF
from . import body as body_module
from . import boundary, compartment, fascia, landmarks, midline, psoas, quadratus, split, tissue

SIDES = ((1, "left"), (-1, "right"))  # +x is the patient's left in LPS
SKIN_MARGIN_MM = 5.0  # skin and partial-volume voxels at the body edge are never muscle
FATTY_LEAN_SHARE = 0.85  # a muscle replaced by its envelope fills under 85 % of it
FATTY_LEAN_OUTLINE_SHARE = 0.9  # a muscle with under 10 % fat inside its outline needs no recovery
# under ~2/3 lean inside its outline the border itself is often fat: the back is taken to the fascia
# (phantom: 20 % marbling stays above it on most slices, 60-70 % falls below; provisional)
SEVERE_LEAN_OUTLINE_SHARE = 0.65
CROP_FRONT_MM = 40.0  # the compartment reaches only a few mm in front of the laminae
CROP_HALF_WIDTH_MM = 160.0  # wider than any back (and than compartment.BACK_DEPTH_MM)
FRAGMENT_REACH_MM = 20.0  # lean islands of a fatty multifidus lie within ~2 cm of its lean part


@dataclass
class Anatomy:
    """Intermediate results kept for quality checks and debugging."""

    body: np.ndarray
    midline: np.ndarray  # column per slice
    lamina: np.ndarray  # row per slice and side (left, right)
    facet: np.ndarray  # lateral reach (mm) of lamina/facet per slice and side (left, right)
    maps: tissue.TissueMaps
    # per slice and side (left, right): the erector spinae's front was drawn from anatomy because
    # lean tissue was fused to it (set by segment_canonical; a place for the reviewer to check)
    front_from_anatomy: Optional[np.ndarray] = None


def segment_canonical(
    image: np.ndarray,
    spacing: Tuple[float, float, float],
    water: Optional[np.ndarray] = None,
    fat: Optional[np.ndarray] = None,
) -> Tuple[np.ndarray, Anatomy]:
    """Label map (project values) for an LPS-ordered (K, J, I) stack with spacing (I, J, K) in mm."""
    anatomy = find_anatomy(image, spacing, water, fat)
    maps, body = anatomy.maps, anatomy.body
    lean = compartment.lean_tissue(maps.fat_fraction, maps.dark, body, spacing)
    labels = np.zeros(image.shape, np.uint8)
    # the back muscles lie behind the laminae: morphology on that crop only (views, no copies)
    row0, col0, col1 = back_box(anatomy, image.shape, spacing)
    box = (slice(None), slice(row0, None), slice(col0, col1))
    back_maps = tissue.TissueMaps(maps.signal[box], maps.fat_fraction[box], maps.dark[box], maps.from_dixon)
    back_labels, back_lean, back_body = labels[box], lean[box], body[box]
    may_hold = np.zeros(back_labels.shape, bool)  # where each side's back muscles may lie, slice by slice
    fused_front = np.zeros(image.shape, bool)  # lean tissue cut off the erector spinae's front
    anatomy.front_from_anatomy = np.zeros((image.shape[0], len(SIDES)), bool)
    for k in range(image.shape[0]):
        if not np.isfinite(anatomy.midline[k]) or not body[k].any():
            continue
        for column, (side, name) in enumerate(SIDES):
            landmark = (anatomy.lamina[k, column] - row0, anatomy.facet[k, column])
            mid = anatomy.midline[k] - col0
            search = _label_side(
                back_labels[k], back_lean[k], back_body[k], back_maps, k, mid, landmark, side, name, spacing
            )
            may_hold[k] |= search.allowed
            fused_front[box][k] |= search.fused_front
            anatomy.front_from_anatomy[k, column] = search.fused_front.any()
    back_pairs = [(LABEL_OF[f"multifidus_{name}"], LABEL_OF[f"erector_spinae_{name}"]) for _, name in SIDES]
    # the vote adds only where the slice's own search could have put muscle (same limits)
    compartment.consistent_outline(back_labels, back_pairs, may_hold, spacing)  # in place, on the crop
    split.consistent_across_slices(back_labels, back_pairs, spacing)
    if maps.from_dixon:
        split.clear_fat_seam(back_labels, back_pairs, back_maps.fat_fraction)
    # the band cut off the erector spinae's front lies behind the transverse processes: never psoas
    saturated = maps.saturated_fat_fraction
    front_lean = lean
    if maps.plane_fat_fraction is not None:  # single image: the psoas and QL searches' own lean map
        front_lean = compartment.lean_tissue(saturated, maps.dark, body, spacing)
    psoas.label_psoas(labels, front_lean & ~fused_front, saturated, body, anatomy.midline, anatomy.lamina, spacing)
    quadratus.label_quadratus(labels, front_lean, saturated, body, anatomy.midline, anatomy.lamina, spacing)
    return labels, anatomy


def back_box(anatomy: Anatomy, shape, spacing) -> Tuple[int, int, int]:
    """First row and column range holding every back muscle: from well in front of the laminae to
    the skin, and the back's width about the midline."""
    front = np.nanmin(anatomy.lamina) if np.isfinite(anatomy.lamina).any() else 0.0
    row0 = int(max(0, front - CROP_FRONT_MM / spacing[1]))
    mid = anatomy.midline[np.isfinite(anatomy.midline)]
    if mid.size == 0:
        return row0, 0, shape[2]
    half = CROP_HALF_WIDTH_MM / spacing[0]
    return row0, int(max(0, mid.min() - half)), int(min(shape[2], mid.max() + half + 1))


def find_anatomy(image, spacing, water=None, fat=None) -> Anatomy:
    """Body, tissue maps, midline and laminae: what both the segmenter and the importers need."""
    signal = image if water is None or fat is None else water + fat
    body = body_module.body_mask(signal)
    maps = tissue.tissue_maps(image, spacing, body, water, fat)
    mid = midline.midline_columns(maps.saturated_fat_fraction, body, spacing)
    lamina = landmarks.lamina_rows(maps.dark, body, mid, spacing)
    facet = landmarks.facet_reaches(maps.dark, mid, lamina, spacing)
    return Anatomy(body, mid, lamina, facet, maps)


def split_compartments(labels: np.ndarray, compartments, anatomy: Anatomy, spacing) -> np.ndarray:
    """Label imported merged back-muscle masks ({'left': mask, 'right': mask}) as MF and ES."""
    for side, name in SIDES:
        merged = compartments.get(name)
        if merged is None:
            continue
        column = 0 if side == 1 else 1
        for k in np.nonzero(merged.any(axis=(1, 2)))[0]:
            mid = anatomy.midline[k]
            if not np.isfinite(mid):
                labels[k][merged[k]] = LABEL_OF[f"erector_spinae_{name}"]
                continue
            _, lateral_mm = compartment.side_region(merged[k].shape, mid, side, spacing[0])
            covered_back = _covered_back(merged[k], anatomy, k, column, lateral_mm, spacing)
            multifidus, erector = split.split_compartment(
                merged[k], anatomy.maps.fat_fraction[k], lateral_mm, anatomy.facet[k, column], spacing, covered_back
            )
            labels[k][erector] = LABEL_OF[f"erector_spinae_{name}"]
            labels[k][multifidus] = LABEL_OF[f"multifidus_{name}"]
    return labels


def _covered_back(merged, anatomy: Anatomy, k: int, column: int, lateral_mm, spacing) -> Optional[float]:
    """The imported compartment's multifidus back where the erector spinae covers it (as in _label_side)."""
    lamina_row = anatomy.lamina[k, column]
    if not np.isfinite(lamina_row):
        return None
    maps = anatomy.maps
    tip_row = fascia.spinous_tip_row(maps.fat_fraction[k], maps.dark[k], lateral_mm, lamina_row, spacing[1])
    border_mm = boundary.expected_border(anatomy.facet[k, column], covered=True)
    return fascia.covered_multifidus_back(merged, lateral_mm, border_mm, tip_row, spacing[1])


class SideSearch(NamedTuple):
    allowed: np.ndarray  # where this side's back muscles were allowed to lie
    fused_front: np.ndarray  # lean tissue cut off the erector spinae's front (quadratus, aponeurosis)


def _label_side(out, lean, body, maps, k, mid, landmark, side, name, spacing) -> SideSearch:
    """Label one side of one slice in `out`; returns where it searched and what it cut off the front."""
    lamina_row, facet_mm = landmark
    if not np.isfinite(lamina_row):
        return SideSearch(np.zeros(out.shape, bool), np.zeros(out.shape, bool))
    region, lateral_mm = compartment.side_region(lean.shape, mid, side, spacing[0], compartment.MIDLINE_GAP_MM)
    mask = compartment.compartment_slice(lean, body, mid, lamina_row, side, spacing)
    allowed = _allowed(maps, k, body, region, lateral_mm, lamina_row, spacing)
    fat_fraction = maps.fat_fraction[k]
    if maps.from_dixon:
        # a measured fat fraction: lean pieces that marbling fat cut off the muscle are muscle (from
        # intensity alone, partial volume at fat edges makes such pieces too often not muscle), and
        # narrow dents that border patches cut are filled; wider fat bays stay outside
        mask = mask | compartment.cut_off_lean(lean & allowed, mask, lateral_mm, lamina_row, spacing[0])
        mask = compartment.close_border_dents(mask, allowed, spacing[0])
        water = maps.signal[k] * (1.0 - fat_fraction)
        mask = compartment.drop_water_poor(mask, water, fat_fraction, lateral_mm, lamina_row, spacing)
        mask = compartment.drop_border_fat(mask, fat_fraction, lateral_mm, lamina_row, spacing)
    else:
        # fat fraction guessed from intensity: a fat patch at the border merges with the fat outside
        # and bias/partial volume make the lean edge ragged, so the fascia's near-convex outline
        # decides. A measured (Dixon) fat fraction is trusted more: only narrow dents are filled.
        mask = compartment.fatty_envelope(mask, allowed)
    # the narrower (upper-level) border: lateral of it lies erector spinae at every level
    border_mm = boundary.expected_border(facet_mm, covered=True)
    trimmed = compartment.trim_fused_front(mask, lateral_mm, lamina_row, border_mm, spacing)
    fused_front, mask = mask & ~trimmed, trimmed
    tip_row = fascia.spinous_tip_row(fat_fraction, maps.dark[k], lateral_mm, lamina_row, spacing[1])
    covered_back = fascia.covered_multifidus_back(mask, lateral_mm, border_mm, tip_row, spacing[1])
    multifidus, erector = split.split_compartment(
        mask, fat_fraction, lateral_mm, facet_mm, spacing, covered_back
    )
    multifidus, erector = _recover_fatty(
        multifidus, erector, fat_fraction, allowed, lateral_mm, lamina_row, spacing, tip_row
    )
    multifidus, erector = fascia.cap_behind_tip(multifidus, erector, tip_row, spacing[1])
    erector = _recover_fatty_erector(erector, multifidus, fat_fraction, allowed, lateral_mm, lamina_row, spacing)
    # the rim goes back over watery voxels only, never into the multifidus or the band cut off the front
    clear_of_cut = ~compartment.restore_rim(fused_front, np.ones_like(fused_front), spacing[0])
    watery = (fat_fraction < compartment.LEAN_FAT_FRACTION) & allowed & ~multifidus & clear_of_cut
    erector = compartment.restore_rim(erector, watery, spacing[0])
    out[erector] = LABEL_OF[f"erector_spinae_{name}"]
    out[multifidus] = LABEL_OF[f"multifidus_{name}"]
    return SideSearch(allowed, fused_front)


def _allowed(maps, k, body, region, lateral_mm, lamina_row, spacing) -> np.ndarray:
    """Where back muscle may lie on one side: inside the skin, not bone, behind the arch."""
    inside = ndimage.distance_transform_edt(body, sampling=(spacing[1], spacing[0])) > SKIN_MARGIN_MM
    return (
        region
        & inside
        & ~maps.dark[k]
        & compartment.behind_lamina(body.shape, lamina_row, spacing[1])
        & compartment.outside_vertebral_arch(lateral_mm, body.shape, lamina_row, spacing[1])
    )


def _recover_fatty(multifidus, erector, fat_fraction, allowed, lateral_mm, lamina_row, spacing, tip_row=None):
    """Bring back fat-infiltrated muscle: lean islands near the groove, then each muscle's envelope."""
    # a multifidus whose own outline is lean inside is a lean one: its compartment outline is the better
    lean_share = _lean_share(multifidus, fat_fraction, allowed)
    if lean_share >= FATTY_LEAN_OUTLINE_SHARE:
        return multifidus, erector
    behind = _behind_arch(allowed, lamina_row, spacing)
    region = allowed & behind & ~erector
    groove = split.groove_seed(allowed & behind, lateral_mm, lamina_row, spacing)
    recovered = multifidus | _linked_islands(multifidus | groove, fat_fraction, region, spacing)
    if lean_share < SEVERE_LEAN_OUTLINE_SHARE:
        # fat patches at the back border merge with the subcutaneous fat: the envelope reaches back to
        # the posterior layer of the thoracolumbar fascia instead
        layer = fascia.posterior_layer(erector, tip_row, lateral_mm)
        if layer is not None:
            recovered = recovered | (layer & allowed)  # not on the spinous process it starts from
    envelope = compartment.fatty_envelope(recovered, region)
    # a lean multifidus keeps its own outline; only one with much fat inside its envelope is replaced
    if multifidus.sum() < FATTY_LEAN_SHARE * envelope.sum():
        multifidus = envelope & _medial_of_reach(multifidus, lateral_mm)
    erector = erector & ~multifidus
    return multifidus, erector


def _recover_fatty_erector(erector, multifidus, fat_fraction, allowed, lateral_mm, lamina_row, spacing):
    """Bring back a fat-infiltrated erector spinae: lean islands linked to it, then its envelope.

    Marbling fat patches (a few mm) cut the erector spinae into lean pieces that the compartment
    search (grown through lean tissue only) leaves behind; as for the multifidus, the islands lie
    close together inside the fascia, and the envelope over them brings back the fat between.
    """
    if erector.sum() < 3 or _lean_share(erector, fat_fraction, allowed & ~multifidus) >= FATTY_LEAN_OUTLINE_SHARE:
        return erector
    region = allowed & _behind_arch(allowed, lamina_row, spacing) & ~multifidus
    if multifidus.any():  # never medial of the multifidus (spinous process, the other side)
        region &= (lateral_mm > lateral_mm[multifidus.any(axis=0)].min())[None, :]
    recovered = erector | _linked_islands(erector, fat_fraction, region, spacing)
    envelope = compartment.fatty_envelope(recovered, region)
    return envelope if erector.sum() < FATTY_LEAN_SHARE * envelope.sum() else erector


def _linked_islands(anchor, fat_fraction, region, spacing) -> np.ndarray:
    """Lean islands in `region` lying within FRAGMENT_REACH_MM of the anchor and linked to it by
    gaps narrower than a marbling patch: what is left of a fat-infiltrated muscle."""
    near = ndimage.distance_transform_edt(~anchor, sampling=(spacing[1], spacing[0])) < FRAGMENT_REACH_MM
    lean = fat_fraction < compartment.LEAN_FAT_FRACTION
    fragments = compartment.lean_fragments(lean, region, near, spacing[0] * spacing[1])
    return compartment.reachable_fragments(fragments, anchor, spacing[0])


def _behind_arch(allowed, lamina_row: float, spacing) -> np.ndarray:
    """Rows behind the vertebral arch (a small margin in front of the lamina row)."""
    rows = np.arange(allowed.shape[0])[:, None]
    return np.broadcast_to(rows >= lamina_row - compartment.ARCH_MARGIN_MM / spacing[1], allowed.shape)


def _medial_of_reach(multifidus, lateral_mm) -> np.ndarray:
    """Columns no further lateral than the split multifidus reaches (all where it is empty).

    The seam was drawn where the muscle is lean; lean islands and the convex envelope lateral of it
    are the erector spinae's (its own marbling cuts pieces off it too).
    """
    if not multifidus.any():
        return np.ones(multifidus.shape, bool)
    return np.broadcast_to((lateral_mm <= lateral_mm[multifidus.any(axis=0)].max())[None, :], multifidus.shape)


def _lean_share(muscle, fat_fraction, allowed) -> float:
    """Share of lean voxels inside the muscle's convex outline: ~1 lean, lower the fattier."""
    if muscle.sum() < 3:
        return 0.0
    outline = compartment.fatty_envelope(muscle, allowed)
    return float((fat_fraction[outline] < compartment.LEAN_FAT_FRACTION).mean())
