"""The posterior (paraspinal) muscle compartment of each side: multifidus + erector spinae together.

Found per slice as the lean-muscle region beside the midline in the back, cut from neighbouring
muscles (quadratus lumborum, psoas, abdominal wall) at narrow necks, then closed and hole-filled
so fat streaks inside the muscle stay inside. The convex envelope brings back strongly
fat-infiltrated parts that no longer look like muscle (shape, not intensity).
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

import numpy as np
from scipy import ndimage
from skimage.morphology import convex_hull_image, disk

from .body import _largest_component
from .midline import posterior_band

LEAN_FAT_FRACTION = 0.5  # muscle voxels have less fat than water
NECK_RADIUS_MM = 3.5  # bridges thinner than ~7 mm to other muscles are cut
CLOSING_RADIUS_MM = 2.5
SEED_STRIP_MM = (8.0, 45.0)  # paraspinal muscles begin next to the spinous process
BACK_DEPTH_MM = 120.0
MIN_AREA_MM2 = 150.0
KEEP_OVERLAP_SHARE = 0.02  # small pieces count too: marbling fat can cut a lean muscle into several
PLANE_RADIUS_MM = 2.5  # fat planes are a few millimetres thin
PLANE_CONTRAST = 0.08
LEAN_SMOOTHING_MM = 1.0
ARCH_MARGIN_MM = 3.0
ARCH_HALF_WIDTH_MM = 22.0  # canal (~10 mm) + pedicle and facet joint
PROTRUSION_RADIUS_MM = 6.0
MEDIAL_KEEP_MM = 30.0
TAIL_THICKNESS_SHARE = 0.3
MIDLINE_GAP_MM = 3.0  # half a spinous process
ANTERIOR_REACH_MM = (
    5.0  # the erector spinae lies behind the transverse processes, a few mm in front of the laminar surface
)
MIN_FRAGMENT_MM2 = 4.0
FRAGMENT_INSIDE_SHARE = 0.5  # a fragment lies mostly within reach of the muscle; a longer lean sheet is other tissue
FRAGMENT_GAP_MM = 10.0  # marbling fat patches are up to ~1 cm across
MIN_PIECE_MM2 = 25.0  # a muscle piece cut off by a fat patch is several mm across; smaller lean specks are vessels


def fat_planes(fat_fraction: np.ndarray, spacing: Tuple[float, float, float]) -> np.ndarray:
    """Thin lines fattier than their surroundings: the fasciae and fat planes between muscles.

    With partial volume these planes read as only slightly fatty, so a global threshold misses
    them; a white top-hat (the map minus its opening) finds them at any fat level.
    """
    footprint = _disk_px(PLANE_RADIUS_MM, spacing[0])[None]
    opened = ndimage.grey_opening(fat_fraction, footprint=footprint)
    return (fat_fraction - opened) > PLANE_CONTRAST


def lean_tissue(fat_fraction: np.ndarray, dark: np.ndarray, body: np.ndarray, spacing) -> np.ndarray:
    """Muscle-like voxels with the fat planes between muscles removed, so neighbours separate."""
    # smoothed first: scattered fat voxels inside a muscle (marbling) must not punch it full of holes
    smooth = ndimage.gaussian_filter(fat_fraction, (0, LEAN_SMOOTHING_MM / spacing[1], LEAN_SMOOTHING_MM / spacing[0]))
    return (smooth < LEAN_FAT_FRACTION) & ~dark & body & ~fat_planes(smooth, spacing)


def _disk_px(radius_mm: float, pixel_mm: float):
    return disk(max(1, int(round(radius_mm / pixel_mm))))


def side_region(shape: Tuple[int, int], midline: float, side: int, spacing_x: float, gap_mm: float = 1.0):
    """Columns on one side (+1 = patient left = +x, -1 = right) beyond gap_mm from the midline."""
    columns = (np.arange(shape[1]) - midline) * spacing_x * side
    return np.broadcast_to(columns[None, :] > gap_mm, shape), columns


def behind_lamina(
    shape: Tuple[int, int], lamina_row: float, spacing_y: float, reach_mm: float = ANTERIOR_REACH_MM
) -> np.ndarray:
    """Rows no more than `reach_mm` in front of the lamina row. By default those behind the transverse
    processes: the erector spinae reaches a little in front of the lamina; with ARCH_MARGIN_MM, those
    behind the vertebral arch."""
    rows = np.arange(shape[0])[:, None]
    return np.broadcast_to(rows >= lamina_row - reach_mm / spacing_y, shape)


def outside_vertebral_arch(lateral_mm: np.ndarray, shape, lamina_row: float, spacing_y: float) -> np.ndarray:
    """In front of the lamina and near the midline lie canal, pedicles and facets: never these muscles."""
    in_front = ~behind_lamina(shape, lamina_row, spacing_y, ARCH_MARGIN_MM)
    return ~(in_front & (np.abs(lateral_mm)[None, :] < ARCH_HALF_WIDTH_MM))


def trim_protrusions(mask: np.ndarray, lateral_mm: np.ndarray, pixel: float) -> np.ndarray:
    """Remove thin lateral sheets (abdominal wall, quadratus bridges); the medial multifidus stays."""
    opened = ndimage.binary_opening(mask, _disk_px(PROTRUSION_RADIUS_MM, pixel))
    medial = np.broadcast_to((lateral_mm < MEDIAL_KEEP_MM)[None, :], mask.shape)
    return _largest_component(opened | (mask & medial))


def trim_lateral_tail(mask: np.ndarray, lateral_mm: np.ndarray) -> np.ndarray:
    """Cut where the compartment thins out laterally into the abdominal wall aponeurosis.

    The erector spinae is thick (several cm front to back) up to its lateral border; columns
    beyond the thickest one that are much thinner belong to the lateral wall muscles.
    """
    thickness = mask.sum(axis=0).astype(float)
    if thickness.max() == 0:
        return mask
    thickest = lateral_mm[int(np.argmax(thickness))]
    thin = (thickness < TAIL_THICKNESS_SHARE * thickness.max()) & (lateral_mm > thickest)
    if not thin.any():
        return mask
    cut = lateral_mm[thin].min()
    return mask & (lateral_mm < cut)[None, :]


def search_candidate(lean, body, midline: float, lamina_row: float, side: int, spacing):
    """(lean voxels where one side's compartment is searched: beside the midline, in the back, behind
    the arch; that side's region beside the midline; the columns' lateral distances in mm)."""
    region, lateral_mm = side_region(lean.shape, midline, side, spacing[0], MIDLINE_GAP_MM)
    band = posterior_band(body, spacing[1], BACK_DEPTH_MM) & behind_lamina(lean.shape, lamina_row, spacing[1])
    band = band & outside_vertebral_arch(lateral_mm, lean.shape, lamina_row, spacing[1])
    return lean & region & band, region, lateral_mm


# the compartment on slices this close (two 4 mm slices) vouches for lean pieces on a slice
SUPPORT_REACH_MM = 8.0
SUPPORT_SHARE = 0.5  # ... lying mostly where a neighbour has it


SHRUNK_SHARE = 0.7  # a compartment under 70 % of its neighbours' mean area lost part of itself


def _neighbours(k: int, count: int, spacing_z: float):
    reach = int(SUPPORT_REACH_MM / spacing_z)
    return [j for j in range(k - reach, k + reach + 1) if j != k and 0 <= j < count]


def neighbour_support(found: np.ndarray, k: int, spacing_z: float) -> np.ndarray:
    """Where the slices within SUPPORT_REACH_MM of slice k (not k itself) have the compartment."""
    near = _neighbours(k, found.shape[0], spacing_z)
    if not near:
        return np.zeros(found.shape[1:], bool)
    return found[near].any(axis=0)


def shrunk(areas: np.ndarray, k: int, spacing_z: float) -> bool:
    """Whether slice k's compartment area is under SHRUNK_SHARE of its neighbours' mean."""
    near = _neighbours(k, areas.shape[0], spacing_z)
    return bool(near) and areas[k] < SHRUNK_SHARE * areas[near].mean()


def supported_pieces(mask: np.ndarray, candidate: np.ndarray, support: np.ndarray, pixel: float) -> np.ndarray:
    """The compartment with the lean pieces apart from it that lie mostly where the neighbouring
    slices have the compartment (`support`).

    Marbling fat patches can cut a muscle into pieces narrower than the neck erosion, or cut off all
    of the erector spinae's medial part so that no piece reaches the seed strip: the slice's own
    search then keeps only part of the compartment, or none. The outline changes little along the
    spine, so the neighbours vouch for such pieces; a piece that touches the compartment was cut off
    on purpose (a neck or a lateral sheet) and stays out, as does one running on beyond the support
    (quadratus lumborum, abdominal wall, the body's interior).
    """
    rest = candidate & ~mask
    pieces, count = ndimage.label(rest)
    if count == 0 or not support.any():
        return mask
    index = np.arange(1, count + 1)
    sizes = ndimage.sum_labels(rest, pieces, index)
    inside = ndimage.sum_labels(rest & support, pieces, index)
    touching = ndimage.maximum(ndimage.binary_dilation(mask, np.ones((3, 3), bool)), pieces, index) > 0
    keep = (sizes * pixel * pixel >= MIN_PIECE_MM2) & (inside >= SUPPORT_SHARE * sizes) & ~touching
    return mask | np.isin(pieces, index[keep])


def compartment_slice(
    candidate: np.ndarray,
    region: np.ndarray,
    lateral_mm: np.ndarray,
    body: np.ndarray,
    spacing: Tuple[float, float, float],
) -> np.ndarray:
    """Boolean mask of one side's posterior compartment on one slice (empty when not found), from
    what `search_candidate` gives for it."""
    pixel = spacing[0]
    core = ndimage.binary_erosion(candidate, _disk_px(NECK_RADIUS_MM, pixel))
    labelled, count = ndimage.label(core)
    if count == 0:
        return np.zeros_like(candidate)
    strip = (lateral_mm >= SEED_STRIP_MM[0]) & (lateral_mm <= SEED_STRIP_MM[1])
    overlap = ndimage.sum_labels(np.broadcast_to(strip[None, :], candidate.shape), labelled, np.arange(1, count + 1))
    if overlap.max() <= 0:
        return np.zeros_like(candidate)
    # every sizeable piece beside the spinous process: multifidus and erector spinae may be
    # separated by a fat plane and are both wanted
    chosen = np.isin(labelled, 1 + np.nonzero(overlap >= KEEP_OVERLAP_SHARE * overlap.max())[0])
    # grown back through muscle only (geodesic): a plain dilation would jump the thin fat planes
    steps = int(np.ceil(NECK_RADIUS_MM / pixel)) + 1
    grown = ndimage.binary_dilation(chosen, iterations=steps, mask=candidate)
    closed = ndimage.binary_closing(grown, _disk_px(CLOSING_RADIUS_MM, pixel), border_value=0)
    mask = ndimage.binary_fill_holes(closed | grown) & region & body
    mask = trim_lateral_tail(trim_protrusions(mask, lateral_mm, pixel), lateral_mm)
    if mask.sum() * spacing[0] * spacing[1] < MIN_AREA_MM2:
        return np.zeros_like(candidate)
    return mask


FRONT_AT_LIMIT_MM = 1.5  # a front this close to the arch limit was stopped by it, not by a fascia
MIN_FUSED_WIDTH_MM = 10.0
TIP_WIDTH_MM = 5.0  # the lateral raphe: the compartment's outermost few millimetres
TIP_MARGIN_MM = 2.0  # a fused front is cut this far beyond the tip (its outline's own ragged edge stays)
# single image: a front overhanging the tip is fused when within 8 mm of the arch limit (TUM01 W+F ES
# 0.870/0.829 -> 0.876/0.865; with Dixon this would cost ES R 0.007, and its fascia shows)
OVERHANG_FRONT_MM = 8.0


def front_fused(
    mask: np.ndarray,
    lateral_mm: np.ndarray,
    lamina_row: float,
    border_mm: float,
    spacing,
    overhang_reach_mm: Optional[float] = None,
) -> bool:
    """Whether lean tissue is fused to the erector spinae's front (one side of one slice).

    Where quadratus lumborum or the abdominal-wall aponeurosis touch the muscle's front without a fat
    plane, the lean region runs on forward until the arch limit (`behind_lamina`) stops it: a front
    stopped by that limit over >= 10 mm lateral of the multifidus border `border_mm` is fused.

    `overhang_reach_mm` (single image, where the fascia in front of the erector spinae seldom shows):
    a front that reaches over TIP_MARGIN_MM beyond the lateral tip is fused tissue when it stops within
    this distance of the limit (behind it, a fat plane the image does show may have stopped it).
    """
    frame = _front_frame(mask, lateral_mm, lamina_row, border_mm, spacing)
    if frame is None:
        return False
    lateral = frame.lateral
    reach_mm = FRONT_AT_LIMIT_MM
    overhanging = lateral.any() and lateral_mm[lateral].max() > frame.outermost + TIP_MARGIN_MM
    if overhang_reach_mm is not None and overhanging:
        reach_mm = overhang_reach_mm
    tolerance = max(1, int(round(reach_mm / spacing[1])))
    at_limit = lateral & (np.argmax(mask, axis=0) <= np.ceil(frame.limit_row) + tolerance)
    return bool(at_limit.sum() * spacing[0] >= MIN_FUSED_WIDTH_MM)


# quadratus lumborum and the aponeurosis lie in front of the erector spinae over whole levels; where
# the slice's own test misses them over up to 16 mm between slices that found them, they are fused
# there too (TUM01: W+F ES L 0.876 -> 0.881 at 12 or 16 mm; water/fat ES R 0.923 -> 0.928 at 16 mm)
FUSED_GAP_MM = 16.0


def bridge_fused_gaps(fused: np.ndarray, spacing_z: float) -> np.ndarray:
    """Per slice (one side): fused where the slice's own test said so, or where a run of up to
    FUSED_GAP_MM of slices without it lies between two slices with it."""
    return fused | bridged_gaps(fused, gap_slices(FUSED_GAP_MM, spacing_z))


def gap_slices(gap_mm: float, spacing_z: float) -> int:
    """The number of slices (at least one) that a gap of `gap_mm` along the spine spans."""
    return max(1, int(round(gap_mm / spacing_z)))


def bridged_gaps(present: np.ndarray, max_gap: int) -> np.ndarray:
    """Along axis 0 (slices): where a run of up to `max_gap` slices lies between two slices that both
    have it (per element, so a mask's voxels bridge on their own)."""
    shared = np.zeros_like(present)
    for gap in range(1, max_gap + 1):
        for k in range(1, present.shape[0] - gap):
            shared[k : k + gap] |= present[k - 1] & present[k + gap]
    return shared


def cut_front(mask: np.ndarray, lateral_mm: np.ndarray, lamina_row: float, border_mm: float, spacing) -> np.ndarray:
    """The compartment with everything in front of the erector spinae's anatomical front surface removed.

    The front surface is the middle layer of the thoracolumbar fascia: from the transverse processes
    it runs back and out to the lateral raphe, where it meets the posterior layer at the muscle's
    lateral tip (Willard et al., J Anat 2012; Bogduk, Clinical Anatomy of the Lumbar Spine). It is
    taken as the line from the multifidus border `border_mm` at the arch limit row to the mid-depth of
    the lateral tip; what lies beyond the tip is cut too.
    """
    frame = _front_frame(mask, lateral_mm, lamina_row, border_mm, spacing)
    if frame is None:
        return mask
    limit_row, outermost = frame.limit_row, frame.outermost
    front = limit_row + (frame.tip_row - limit_row) * (lateral_mm - border_mm) / (outermost - border_mm)
    rows = np.arange(mask.shape[0])[:, None]
    beyond_tip = lateral_mm > outermost + TIP_MARGIN_MM
    return mask & ~(frame.lateral[None, :] & (rows < np.ceil(front)[None, :])) & ~beyond_tip[None, :]


class FrontFrame(NamedTuple):
    outermost: float  # lateral reach (mm) of the compartment's back half: the muscle's lateral tip
    tip_row: float  # mid-depth row of the tip (the lateral raphe)
    limit_row: float  # the arch limit's row (`behind_lamina`)
    lateral: np.ndarray  # columns holding compartment lateral of the multifidus border


def _front_frame(mask, lateral_mm, lamina_row: float, border_mm: float, spacing) -> Optional[FrontFrame]:
    """What the erector spinae's front is judged and cut by, on one side of one slice. The tip is read
    on the compartment's back half: fused tissue in front can reach further out than the muscle. None
    where the compartment reaches no more than TIP_WIDTH_MM beyond the multifidus border (nothing
    lateral to cut)."""
    rows_held = np.nonzero(mask.any(axis=1))[0]
    if rows_held.size == 0:
        return None
    back_half = mask & (np.arange(mask.shape[0]) >= 0.5 * (rows_held.min() + rows_held.max()))[:, None]
    columns = np.nonzero(back_half.any(axis=0))[0]
    outermost = lateral_mm[columns].max()
    if outermost <= border_mm + TIP_WIDTH_MM:
        return None
    tip_rows = np.nonzero(mask[:, columns[lateral_mm[columns] >= outermost - TIP_WIDTH_MM]].any(axis=1))[0]
    return FrontFrame(
        float(outermost),
        0.5 * (tip_rows.min() + tip_rows.max()),
        lamina_row - ANTERIOR_REACH_MM / spacing[1],
        mask.any(axis=0) & (lateral_mm > border_mm),
    )


def cut_off_lean(
    lean: np.ndarray, mask: np.ndarray, lateral_mm: np.ndarray, lamina_row: float, pixel: float
) -> np.ndarray:
    """Lean pieces that marbling fat patches cut off the compartment: within a patch's width of it,
    no further lateral than it (beyond lies the abdominal wall), behind the lamina (in front lie
    facets and intertransversarii) and clear of the spinous process (interspinous ligament)."""
    if not mask.any():
        return mask
    near = reachable_fragments(lean & ~mask, mask, pixel)  # a subset of lean & ~mask
    pieces, count = ndimage.label(near)
    if count == 0:
        return near
    index = np.arange(1, count + 1)
    columns = np.broadcast_to(lateral_mm[None, :], mask.shape)
    rows = np.broadcast_to(np.arange(mask.shape[0])[:, None], mask.shape)
    keep = (
        (ndimage.sum_labels(near, pieces, index) * pixel * pixel >= MIN_PIECE_MM2)
        & (ndimage.maximum(columns, pieces, index) <= columns[mask].max())
        & (ndimage.minimum(columns, pieces, index) >= max(columns[mask].min(), SEED_STRIP_MM[0]))
        & (ndimage.minimum(rows, pieces, index) >= max(rows[mask].min(), lamina_row))
    )
    return np.isin(pieces, index[keep])


def lean_fragments(lean_raw: np.ndarray, allowed: np.ndarray, near: np.ndarray, pixel_area: float) -> np.ndarray:
    """Lean islands (any size above noise) lying (almost) wholly near the muscle: what is left of a
    fatty muscle. A lean sheet that runs on beyond the neighbourhood is another tissue."""
    candidate = lean_raw & allowed
    labelled, count = ndimage.label(candidate)
    if count == 0:
        return candidate
    index = np.arange(1, count + 1)
    sizes = ndimage.sum_labels(candidate, labelled, index)
    inside = ndimage.sum_labels(candidate & near, labelled, index)
    keep = (sizes * pixel_area >= MIN_FRAGMENT_MM2) & (inside >= FRAGMENT_INSIDE_SHARE * sizes)
    return np.isin(labelled, index[keep])


def reachable_fragments(fragments: np.ndarray, anchor: np.ndarray, pixel: float) -> np.ndarray:
    """Fragments linked to the anchor by chains of gaps narrower than FRAGMENT_GAP_MM.

    Severe fatty infiltration breaks a muscle into lean islands in a fat background; the islands
    still lie close together inside the fascia, while the subcutaneous fat holds none.
    """
    if not fragments.any() or not anchor.any():
        return np.zeros_like(fragments)
    linked = ndimage.binary_dilation(fragments, _disk_px(0.5 * FRAGMENT_GAP_MM, pixel)) | anchor
    labelled, _ = ndimage.label(linked)
    keep = np.unique(labelled[anchor & linked])
    return fragments & np.isin(labelled, keep[keep > 0])


DENT_CLOSING_MM = 9.0  # marbling fat patches at the border leave dents up to ~2 cm wide


def close_border_dents(mask: np.ndarray, allowed: np.ndarray, pixel: float) -> np.ndarray:
    """Fill dents narrower than ~2 cm in the outline (within the allowed region).

    With a measured fat fraction, fat outside the fascia is trusted as not muscle, so the convex
    envelope is not used; but a fat patch of marbling that touches the border cuts a dent that the
    fascia does not have. A closing fills such dents and leaves wider concavities alone.
    """
    if not mask.any():
        return mask
    # a closing by a disk of `radius` pixels, as two distance thresholds (fast at any radius), on
    # the mask's bounding box padded so that the disk never meets the array's edge
    radius = max(1, int(round(DENT_CLOSING_MM / pixel)))
    rows, columns = np.nonzero(mask)
    box = (slice(rows.min(), rows.max() + 1), slice(columns.min(), columns.max() + 1))
    pad = 2 * radius + 2
    padded = np.pad(mask[box], pad)
    dilated = ndimage.distance_transform_edt(~padded) <= radius
    closed_box = (ndimage.distance_transform_edt(dilated) > radius)[pad:-pad, pad:-pad]
    closed = np.zeros_like(mask)
    closed[box] = closed_box
    return mask | (closed & allowed)


WATER_POOR_SHARE = 0.75  # bone, ligament and joint capsule hold well under muscle's water
# ... and on one fat-bright image read darker than muscle, where fat-poor: fatty TUM01 (60 %, W+F,
# seeds 0-1) MF 0.718/0.742, 0.664/0.673 -> 0.742/0.755, 0.686/0.688; 0.85/0.9 took lean
# multifidus voxels off the phantom (60 % seed 3 MF L 0.964 -> 0.954 at 0.9). Cut out of the one-image
# compartment too: TUM01 W+F MF 0.781/0.822 -> 0.803/0.829 (0.75/0.85/0.9: 0.797/0.827, 0.806/0.820,
# 0.799/0.795), fatty TUM01 W+F MF up on all 16 runs (seeds 0-3, 40/60 %), phantom unchanged
DARK_ELEMENTS_SHARE = 0.8
POSTERIOR_ELEMENTS_MM = 12.0  # the spinous process and interspinous ligament lie this close to the midline
LAMINA_BAND_MM = 8.0  # ... the laminae, facet capsules and ligamentum flavum just behind the lamina row
NEAR_LAMINA_LATERAL_MM = 35.0  # ... out to the facet joints
MULTIFIDUS_REFERENCE_MM = 30.0  # lean voxels this close to the midline give the muscle's level
REFERENCE_FAT_FRACTION = 0.3  # ... clearly lean ones only, so that marbling does not lower it


def bone_and_ligament(
    mask, signal, fat_fraction, lateral_mm, lamina_row: float, spacing, share: float = WATER_POOR_SHARE
) -> np.ndarray:
    """Voxels by the posterior elements whose `signal` is under `share` of the multifidus's (lean
    voxels of `mask` near the midline) and that are not fat: spinous process, interspinous ligament,
    facet capsule. `signal`: the water image (WATER_POOR_SHARE), or the one fat-bright image
    (DARK_ELEMENTS_SHARE). Empty where the mask holds too little lean muscle to compare with.

    These tissues read as lean on a fat-fraction map (neither fat- nor water-rich, so the fraction is
    intermediate) and are too bright to count as dark bone; the water image tells them from muscle,
    and on a single fat-bright image the darkest of them read below the muscle.
    """
    reference = mask & (lateral_mm < MULTIFIDUS_REFERENCE_MM)[None, :] & (fat_fraction < REFERENCE_FAT_FRACTION)
    if reference.sum() < 20:
        return np.zeros(mask.shape, bool)
    level = float(np.median(signal[reference]))
    poor = (signal < share * level) & (fat_fraction < LEAN_FAT_FRACTION)
    return posterior_elements_zone(mask.shape, lateral_mm, lamina_row, spacing) & poor


def posterior_elements_zone(shape, lateral_mm, lamina_row: float, spacing) -> np.ndarray:
    """Beside the spinous process, and just behind the lamina out to the facet joints."""
    rows = np.arange(shape[0])[:, None]
    near_lamina = (rows < lamina_row + LAMINA_BAND_MM / spacing[1]) & (lateral_mm < NEAR_LAMINA_LATERAL_MM)[None, :]
    return (lateral_mm < POSTERIOR_ELEMENTS_MM)[None, :] | near_lamina


def drop_border_fat(mask, fat_fraction, lateral_mm, lamina_row: float, spacing) -> np.ndarray:
    """Fat by the posterior elements on the compartment's border is interspinous and periarticular
    fat, not muscle (with water and fat images); fat that muscle encloses there is marbling and stays."""
    zone = posterior_elements_zone(mask.shape, lateral_mm, lamina_row, spacing)
    kept = mask & ~(zone & (fat_fraction >= LEAN_FAT_FRACTION))
    return kept | (ndimage.binary_fill_holes(kept) & mask)


RIM_MM = 2.0  # the fat-plane filter (top-hat of a 1 mm-smoothed map) eats up to ~2 mm of a muscle's edge


def restore_rim(muscle: np.ndarray, may_grow: np.ndarray, pixel: float) -> np.ndarray:
    """The muscle grown back by up to RIM_MM through `may_grow` (voxels with more water than fat).

    `lean_tissue` removes thin fat lines with their smoothed flanks so that neighbouring muscles
    part; where a muscle meets a thin fascia with other lean tissue beyond (the erector spinae's
    front and lateral border), the muscle's own outermost voxels go with the line.
    """
    if not muscle.any():
        return muscle
    steps = max(1, int(round(RIM_MM / pixel)))
    return ndimage.binary_dilation(muscle, iterations=steps, mask=may_grow | muscle)


def fatty_envelope(mask: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Convex envelope of a muscle within the allowed region: fat patches and fatty borders come back.

    Muscles in axial section are near-convex (Gray's Anatomy, lumbar cross-sections); infiltrating
    fat replaces muscle inside the fascia without changing that outline, so shape, not intensity,
    decides.
    """
    if mask.sum() < 3:
        return mask
    return mask | (convex_hull_image(mask) & allowed)


OUTLINE_SMOOTH_MM = 9.0  # a muscle's outline changes little over a centimetre along the spine
# hysteresis: a voxel joins where nearly half of its neighbourhood has it (a muscle lost to fat on a
# few neighbouring slices comes back), and leaves only where a clear minority does (a fatty
# muscle's lean islands shift from slice to slice and must not be voted away)
OUTLINE_JOIN_SHARE = 0.45
OUTLINE_DROP_SHARE = 0.35


def consistent_outline(labels: np.ndarray, pairs, may_add: np.ndarray, spacing) -> np.ndarray:
    """Each side's compartment outline voted over neighbouring slices (Gaussian-weighted shares).

    Marbling fat at a muscle's border merges with the fascia on one slice but not on the next, so
    single slices lose or gain a border patch; the neighbours put the outline back. Voxels may only
    join where `may_add` allows (where that slice's own search could have put back muscle), and take
    the label most of their neighbours have there (the nearest label of their own slice may lie
    across the seam).
    """
    sigma = OUTLINE_SMOOTH_MM / spacing[2]
    for first, second in pairs:
        member = np.isin(labels, (first, second))
        share = ndimage.gaussian_filter1d(member.astype(np.float32), sigma, axis=0, mode="nearest")
        first_share = ndimage.gaussian_filter1d((labels == first).astype(np.float32), sigma, axis=0, mode="nearest")
        vote = share >= OUTLINE_JOIN_SHARE
        vote &= member.any(axis=(1, 2))[:, None, None]  # a slice without the compartment stays without
        labels[member & (share < OUTLINE_DROP_SHARE)] = 0
        added = vote & ~member & may_add & (labels == 0)
        mostly_first = first_share >= 0.5 * share
        labels[added & mostly_first] = first
        labels[added & ~mostly_first] = second
    return labels
