"""The built-in segmenter, on canonical (LPS) arrays: landmarks, compartments, split, psoas, QL."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, NamedTuple, Optional, Tuple

import numpy as np
from scipy import ndimage

from ..labels import LABEL_OF
from . import body as body_module
from . import boundary, compartment, fascia, fatty, landmarks, midline, psoas, quadratus, split, strands, tissue
from .quality import FRONT_FROM_ANATOMY

SIDES = ((1, "left"), (-1, "right"))  # +x is the patient's left in LPS
SKIN_MARGIN_MM = 5.0  # skin and partial-volume voxels at the body edge are never muscle
CROP_FRONT_MM = 40.0  # the compartment reaches only a few mm in front of the laminae
CROP_HALF_WIDTH_MM = 160.0  # wider than any back (and than compartment.BACK_DEPTH_MM)


@dataclass
class Anatomy:
    """Intermediate results kept for quality checks and debugging."""

    body: np.ndarray
    midline: np.ndarray  # column per slice
    lamina: np.ndarray  # row per slice and side (left, right)
    facet: np.ndarray  # lateral reach (mm) of lamina/facet per slice and side (left, right)
    maps: tissue.TissueMaps
    # where the reviewer should check first (set by segment_canonical): {quality hint template:
    # (slices, sides)}, here the erector spinae's front drawn from anatomy because lean tissue was
    # fused to it
    hints: Dict[str, np.ndarray] = field(default_factory=dict)


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
    anatomy.hints = {FRONT_FROM_ANATOMY: np.zeros((image.shape[0], len(SIDES)), bool)}
    found = _compartments(back_lean, back_body, anatomy, row0, col0, spacing)
    prepared = {}  # (slice, side column): the side's compartment, ready for its split
    for k in range(image.shape[0]):
        if not np.isfinite(anatomy.midline[k]) or not body[k].any():
            continue
        for column, (side, _) in enumerate(SIDES):
            landmark = (anatomy.lamina[k, column] - row0, anatomy.facet[k, column])
            mid = anatomy.midline[k] - col0
            prepared[k, column] = _prepare_side(
                found[k, column], back_lean[k], back_body[k], back_maps, k, mid, landmark, side, spacing
            )
    fused = _fused_fronts(prepared, image.shape[0], spacing)
    framed = {key: _frame_side(side, fused[key], back_maps, key[0], spacing) for key, side in prepared.items()}
    seen = _seen_seams(prepared, framed, back_maps, image.shape[0], spacing)
    nearby = _nearby_lean(prepared, back_maps.fat_fraction, spacing[2])
    for (k, column), side_mask in prepared.items():
        side = SIDES[column][0]
        frame = framed[k, column]
        clues = (seen[k, column], nearby.get((k, column)))
        search = _label_side(back_labels[k], side_mask, frame, clues, back_maps, k, side, spacing)
        may_hold[k] |= search.allowed
        fused_front[box][k] |= search.fused_front
        anatomy.hints[FRONT_FROM_ANATOMY][k, column] = search.fused_front.any()
    back_pairs = [(LABEL_OF[f"multifidus_{name}"], LABEL_OF[f"erector_spinae_{name}"]) for _, name in SIDES]
    # the vote adds only where the slice's own search could have put muscle (same limits)
    compartment.consistent_outline(back_labels, back_pairs, may_hold, spacing)  # in place, on the crop
    split.consistent_across_slices(back_labels, back_pairs, spacing)
    strands.remove_thin_strands(back_labels, [value for pair in back_pairs for value in pair], spacing)
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


def _compartments(lean, body, anatomy: Anatomy, row0: int, col0: int, spacing) -> np.ndarray:
    """Each slice's and side's posterior compartment (K, side, rows, columns) on the back crop: the
    slice's own search, then lean pieces that marbling fat cut off it where its neighbours have it."""
    found = np.zeros((lean.shape[0], len(SIDES)) + lean.shape[1:], bool)
    searched = []  # (slice, side column, the lean voxels searched there)
    for k in np.nonzero(np.isfinite(anatomy.midline) & body.any(axis=(1, 2)))[0]:
        for column, (side, _) in enumerate(SIDES):
            lamina_row = anatomy.lamina[k, column] - row0
            if np.isfinite(lamina_row):
                mid = anatomy.midline[k] - col0
                candidate, region, lateral_mm = compartment.search_candidate(
                    lean[k], body[k], mid, lamina_row, side, spacing
                )
                found[k, column] = compartment.compartment_slice(candidate, region, lateral_mm, body[k], spacing)
                searched.append((k, column, candidate))
    completed = _with_supported_pieces(found, searched, spacing, shrunk_only=False)
    # a fatty muscle lost on several slices in a row: a slice still well under its neighbours' area
    # takes pieces again, now vouched for by its completed neighbours
    return _with_supported_pieces(completed, searched, spacing, shrunk_only=True)


def _with_supported_pieces(found, searched, spacing, shrunk_only: bool) -> np.ndarray:
    completed = found.copy()
    areas = found.sum(axis=(2, 3))
    for k, column, candidate in searched:
        if shrunk_only and not compartment.shrunk(areas[:, column], k, spacing[2]):
            continue
        support = compartment.neighbour_support(found[:, column], k, spacing[2])
        completed[k, column] = compartment.supported_pieces(found[k, column], candidate, support, spacing[0])
    return completed


class PreparedSide(NamedTuple):
    mask: np.ndarray  # the side's compartment on one slice, its fused front not yet cut
    allowed: np.ndarray  # where the side's back muscles may lie
    lateral_mm: np.ndarray  # the columns' lateral distances from the midline
    border_mm: float  # the multifidus border expected at the lamina (covered levels)
    fused: bool  # the slice's own test found lean tissue fused to the erector spinae's front
    lamina_row: float  # the lamina's row on the back crop
    facet_mm: float  # the facet's lateral reach
    # bone and ligament by the posterior elements (compartment.bone_and_ligament): lean on a fat-fraction
    # map, but never muscle
    posterior_elements: np.ndarray


def _prepare_side(mask, lean, body, maps, k, mid, landmark, side, spacing) -> Optional[PreparedSide]:
    """One side's compartment on one slice made ready for its split (None where no lamina is seen)."""
    lamina_row, facet_mm = landmark
    if not np.isfinite(lamina_row):
        return None
    region, lateral_mm = compartment.side_region(lean.shape, mid, side, spacing[0], compartment.MIDLINE_GAP_MM)
    allowed = _allowed(maps, k, body, region, lateral_mm, lamina_row, spacing)
    fat_fraction = maps.fat_fraction[k]
    if maps.from_dixon:
        # a measured fat fraction: lean pieces that marbling fat cut off the muscle are muscle (from
        # intensity alone, partial volume at fat edges makes such pieces too often not muscle), and
        # narrow dents that border patches cut are filled; wider fat bays stay outside
        mask = mask | compartment.cut_off_lean(lean & allowed, mask, lateral_mm, lamina_row, spacing[0])
        mask = compartment.close_border_dents(mask, allowed, spacing[0])
        water = maps.signal[k] * (1.0 - fat_fraction)
        posterior_elements = compartment.bone_and_ligament(mask, water, fat_fraction, lateral_mm, lamina_row, spacing)
        mask = mask & ~posterior_elements
        mask = compartment.drop_border_fat(mask, fat_fraction, lateral_mm, lamina_row, spacing)
    else:
        # fat fraction guessed from intensity: a fat patch at the border merges with the fat outside
        # and bias/partial volume make the lean edge ragged, so the fascia's near-convex outline
        # decides. A measured (Dixon) fat fraction is trusted more: only narrow dents are filled.
        mask = compartment.fatty_envelope(mask, allowed)
        posterior_elements = compartment.bone_and_ligament(
            mask, maps.signal[k], fat_fraction, lateral_mm, lamina_row, spacing, compartment.DARK_ELEMENTS_SHARE
        )
        # the envelope closes over the spinous process and facet capsules: they are not muscle
        mask = mask & ~posterior_elements
    # the narrower (upper-level) border: lateral of it lies erector spinae at every level
    border_mm = boundary.expected_border(facet_mm, covered=True)
    overhang_reach = None if maps.from_dixon else compartment.OVERHANG_FRONT_MM
    fused = compartment.front_fused(mask, lateral_mm, lamina_row, border_mm, spacing, overhang_reach)
    return PreparedSide(mask, allowed, lateral_mm, border_mm, fused, lamina_row, facet_mm, posterior_elements)


def _fused_fronts(prepared, n_slices: int, spacing) -> np.ndarray:
    """Per slice and side: the erector spinae's front is fused, by the slice's own test or bridged
    between slices that found it (compartment.bridge_fused_gaps)."""
    fused = np.zeros((n_slices, len(SIDES)), bool)
    for (k, column), side_mask in prepared.items():
        fused[k, column] = side_mask is not None and side_mask.fused
    for column in range(len(SIDES)):
        fused[:, column] = compartment.bridge_fused_gaps(fused[:, column], spacing[2])
    return fused


class SideFrame(NamedTuple):
    mask: np.ndarray  # the side's compartment, its fused front cut
    fused_front: np.ndarray  # what was cut off the front (quadratus, aponeurosis)
    tip_row: Optional[int]  # the spinous process tip's row
    covered_back: Optional[float]  # the multifidus's back where the erector spinae covers it
    relief: np.ndarray  # the fat planes the seam follows (split.plane_relief)


def _frame_side(prepared: Optional[PreparedSide], fused: bool, maps, k, spacing) -> Optional[SideFrame]:
    """The compartment ready for its split: the fused front cut (`fused`, see _fused_fronts), the
    spinous tip, and whether the erector spinae covers the multifidus."""
    if prepared is None:
        return None
    mask, lateral_mm, lamina_row = prepared.mask, prepared.lateral_mm, prepared.lamina_row
    trimmed = compartment.cut_front(mask, lateral_mm, lamina_row, prepared.border_mm, spacing) if fused else mask
    tip_row = fascia.spinous_tip_row(maps.fat_fraction[k], maps.dark[k], lateral_mm, lamina_row, spacing[1])
    covered_back = fascia.covered_multifidus_back(trimmed, lateral_mm, prepared.border_mm, tip_row, spacing[1])
    relief = split.plane_relief(trimmed, maps.fat_fraction[k], spacing)
    return SideFrame(trimmed, mask & ~trimmed, tip_row, covered_back, relief)


def _seen_seams(prepared, framed, maps, n_slices: int, spacing) -> np.ndarray:
    """(slices, sides, rows): per row, where the slices around each one saw the multifidus /
    erector spinae seam on a fat plane (split.seen_lines), NaN where they did not.

    With a measured fat fraction only: on one image it brought no steady gain (phantom MF -0.009 to
    +0.042, TUM01 -0.003/+0.001) and a fatty multifidus took more of the plane's fat (60 % phantom:
    fat share 62 -> 65 %).
    """
    on_planes = np.full((n_slices, len(SIDES), maps.fat_fraction.shape[1]), np.nan)
    if not maps.from_dixon:
        return on_planes
    for (k, column), frame in framed.items():
        if frame is not None:
            side = prepared[k, column]
            on_planes[k, column] = boundary.seam_on_planes(
                frame.mask, frame.relief, side.lateral_mm, side.facet_mm, spacing, frame.covered_back
            )
    return np.stack([split.seen_lines(on_planes[:, column], spacing[2]) for column in range(len(SIDES))], axis=1)


def _label_side(out, prepared: Optional[PreparedSide], frame: Optional[SideFrame], clues, maps, k, side, spacing):
    """Label one side of one slice in `out` from its prepared and framed compartment; `clues` from the
    slices around it: (per row, where they saw the seam (_seen_seams); their lean voxels (_nearby_lean)).
    Returns where it searched and what was cut off the front (a SideSearch)."""
    if prepared is None:
        return SideSearch(np.zeros(out.shape, bool), np.zeros(out.shape, bool))
    seen_line, nearby_lean = clues
    name = dict(SIDES)[side]
    lamina_row, facet_mm = prepared.lamina_row, prepared.facet_mm
    allowed, lateral_mm = prepared.allowed, prepared.lateral_mm
    mask, fused_front, tip_row, covered_back, relief = frame
    fat_fraction = maps.fat_fraction[k]
    seam_mm = boundary.seam_line(mask, relief, lateral_mm, facet_mm, spacing, covered_back, seen_line)
    multifidus, erector = split.cut_at(mask, seam_mm, lateral_mm)
    border_mm = boundary.expected_border(facet_mm, covered_back is not None)
    reach_mm = fatty.multifidus_reach(seam_mm, border_mm)
    slice_context = (fat_fraction, allowed, lateral_mm, lamina_row, spacing)  # what both recoveries read
    multifidus, erector = fatty.recover_multifidus(
        multifidus, erector, *slice_context, nearby_lean, reach_mm, not_muscle=prepared.posterior_elements
    )
    multifidus, erector = fascia.cap_behind_tip(multifidus, erector, tip_row, spacing[1])
    erector = fatty.recover_erector(erector, multifidus, *slice_context)
    # the rim goes back over watery voxels only, never into the multifidus or the band cut off the front
    clear_of_cut = ~compartment.restore_rim(fused_front, np.ones_like(fused_front), spacing[0])
    watery = (fat_fraction < compartment.LEAN_FAT_FRACTION) & allowed & ~multifidus & clear_of_cut
    erector = compartment.restore_rim(erector, watery, spacing[0])
    multifidus, erector = fatty.return_erector_lean(multifidus, erector, fat_fraction, allowed, lateral_mm, border_mm)
    out[erector] = LABEL_OF[f"erector_spinae_{name}"]
    out[multifidus] = LABEL_OF[f"multifidus_{name}"]
    return SideSearch(allowed, fused_front)


def _nearby_lean(prepared, fat_fraction: np.ndarray, spacing_z: float) -> dict:
    """Per slice and side: the voxels lean on any slice within fatty.NEARBY_MM (this one too) where
    that slice's back muscles may lie (not bone, behind its arch, inside its skin)."""
    reach = compartment.gap_slices(fatty.NEARBY_MM, spacing_z)
    lean = {
        (k, column): side.allowed & (fat_fraction[k] < compartment.LEAN_FAT_FRACTION)
        for (k, column), side in prepared.items()
        if side is not None
    }
    nearby = {}
    for k, column in lean:
        around = [lean.get((j, column)) for j in range(k - reach, k + reach + 1)]
        nearby[k, column] = np.logical_or.reduce([piece for piece in around if piece is not None])
    return nearby


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
