"""Fat-infiltrated back muscles: what the lean-tissue search leaves behind is brought back by shape.

Severe fatty infiltration replaces muscle by fat inside the fascia, so a muscle falls apart into
lean islands in fat and its fatty border merges with the fat around it. Its outline is still
near-convex and its section changes little from slice to slice: the lean islands near the laminar
groove (for the multifidus, those of the nearby slices too) and their convex envelope bring it
back. Lean muscles (most voxels lean inside their outline) are left alone.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from . import compartment, split

FATTY_LEAN_SHARE = 0.85  # a muscle replaced by its envelope fills under 85 % of it
FATTY_LEAN_OUTLINE_SHARE = 0.9  # a muscle with under 10 % fat inside its outline needs no recovery
FRAGMENT_REACH_MM = 20.0  # lean islands of a fatty multifidus lie within ~2 cm of its lean part
# under 60 % lean inside its outline, lean tissue fused with the erector spinae goes back to it
# (phantom, seeds 0-3: 0-4 of 48 slice sides at 20 % marbling, 35-40 at 60 %; never on TUM01)
RETURN_LEAN_SHARE = 0.6
# a laminar groove over 60 % fat holds a fatty multifidus, however lean the piece the split gave it
# (TUM01's grooves read at most 53 % fat; phantom 70 % multifidus: Dixon MF L 0.75 -> 0.79 on seed 0)
GROOVE_FAT_SHARE = 0.6
# A fatty multifidus shows few lean islands on one slice, and its envelope misses the fat patches on
# its border. The muscle's section changes little over a centimetre, so the islands of the slices
# within NEARBY_MM are taken too (where those slices allow muscle), medial of the seam, no further
# lateral than the anatomical border plus BORDER_MARGIN_MM and not behind the compartment (phantom
# 60 % multifidus 0.928-0.946 -> 0.954-0.972 over seeds 0-3, in place of reaching back to the fascia
# and filling the groove; 8 mm: 0.944-0.966, 16 mm: 0.955-0.975; without the margin's cap, 70 %
# multifidus + 40 % erector spinae seed 1 MF L 0.940/0.941 -> 0.920/0.901). On TUM01 with marbling
# written into the expert's multifidi (Testing/benchmarks/eval_fatty_tum01.py) it is neutral:
# -0.034 to +0.014 per muscle, mean -0.003, against the fascia line and the groove fill.
NEARBY_MM = 12.0
BORDER_MARGIN_MM = 3.0


def recover_multifidus(
    multifidus,
    erector,
    fat_fraction,
    allowed,
    lateral_mm,
    lamina_row,
    spacing,
    nearby_lean=None,
    reach_mm=None,
    not_muscle=None,
):
    """Bring back fat-infiltrated muscle: lean islands near the groove, then the muscle's envelope.

    `nearby_lean`: lean voxels of the slices within NEARBY_MM (this one too); `reach_mm`: per row,
    how far lateral (mm) their islands may lie (see multifidus_reach); none lie behind the back of
    the compartment (multifidus and erector spinae as split). Both None: this slice only.
    `not_muscle`: tissue that reads lean but is not muscle (the posterior elements' bone and ligament,
    compartment.bone_and_ligament): neither an island nor inside the envelope.
    """
    # a multifidus whose own outline is lean inside is a lean one: its compartment outline is the better;
    # where the split left it only a lean piece of a fatty groove, the groove is judged with it
    behind = behind_arch(allowed.shape, lamina_row, spacing)
    groove = split.groove_seed(allowed & behind, lateral_mm, lamina_row, spacing)
    fat_groove = groove.any() and (fat_fraction[groove] >= compartment.LEAN_FAT_FRACTION).mean() > GROOVE_FAT_SHARE
    share = lean_share(multifidus | groove if fat_groove else multifidus, fat_fraction, allowed)
    if share >= FATTY_LEAN_OUTLINE_SHARE:
        return multifidus, erector
    region = allowed & behind & ~erector
    # islands are judged on all the lean tissue (bone and ligament cut out of a lean sheet would leave
    # short pieces of it that pass for islands), and only then kept clear of bone and ligament
    muscle = np.ones(allowed.shape, bool) if not_muscle is None else ~not_muscle
    lean = fat_fraction < compartment.LEAN_FAT_FRACTION
    recovered = multifidus | linked_islands(multifidus | groove, lean, region, spacing, muscle)
    if nearby_lean is not None and reach_mm is not None:
        # not behind the compartment: there the nearby slices' lean is fascia, skin or the sacrum
        back_row = np.nonzero((multifidus | erector).any(axis=1))[0].max(initial=-1)
        within = (lateral_mm[None, :] < reach_mm[:, None]) & (np.arange(allowed.shape[0]) <= back_row)[:, None]
        recovered |= linked_islands(recovered, nearby_lean, region, spacing, within & muscle)
    envelope = compartment.fatty_envelope(recovered, region & muscle)
    # a lean multifidus keeps its own outline; only one with much fat inside its envelope is replaced
    if multifidus.sum() < FATTY_LEAN_SHARE * envelope.sum():
        multifidus = envelope & medial_of_reach(multifidus, lateral_mm)
    erector = erector & ~multifidus
    return multifidus, erector


def multifidus_reach(seam_mm: np.ndarray, border_mm: float) -> np.ndarray:
    """Per row: how far lateral (mm) the multifidus's islands may lie: medial of the seam, and no
    further than BORDER_MARGIN_MM beyond its anatomical border (a seam drawn past a fatty multifidus,
    along the erector spinae's lean edge, leaves the erector spinae's fat patches medial of it)."""
    return np.minimum(seam_mm, border_mm + BORDER_MARGIN_MM)


def recover_erector(erector, multifidus, fat_fraction, allowed, lateral_mm, lamina_row, spacing):
    """Bring back a fat-infiltrated erector spinae: lean islands linked to it, then its envelope.

    Marbling fat patches (a few mm) cut the erector spinae into lean pieces that the compartment
    search (grown through lean tissue only) leaves behind; as for the multifidus, the islands lie
    close together inside the fascia, and the envelope over them brings back the fat between.
    """
    if erector.sum() < 3 or lean_share(erector, fat_fraction, allowed & ~multifidus) >= FATTY_LEAN_OUTLINE_SHARE:
        return erector
    region = allowed & behind_arch(allowed.shape, lamina_row, spacing) & ~multifidus
    if multifidus.any():  # never medial of the multifidus (spinous process, the other side)
        region &= (lateral_mm > lateral_mm[multifidus.any(axis=0)].min())[None, :]
    recovered = erector | linked_islands(erector, fat_fraction < compartment.LEAN_FAT_FRACTION, region, spacing)
    envelope = compartment.fatty_envelope(recovered, region)
    return envelope if erector.sum() < FATTY_LEAN_SHARE * envelope.sum() else erector


def linked_islands(anchor, lean, region, spacing, within=None) -> np.ndarray:
    """Lean islands in `region` lying within FRAGMENT_REACH_MM of the anchor and linked to it by
    gaps narrower than a marbling patch: what is left of a fat-infiltrated muscle. `within`: where
    they may lie (islands are found in the whole region first, so a lean sheet running on beyond
    the anchor's neighbourhood stays out even where `within` cuts it short)."""
    near = ndimage.distance_transform_edt(~anchor, sampling=(spacing[1], spacing[0])) < FRAGMENT_REACH_MM
    fragments = compartment.lean_fragments(lean, region, near, spacing[0] * spacing[1])
    if within is not None:
        fragments &= within
    return compartment.reachable_fragments(fragments, anchor, spacing[0])


def behind_arch(shape, lamina_row: float, spacing) -> np.ndarray:
    """Rows behind the vertebral arch (a small margin in front of the lamina row)."""
    return compartment.behind_lamina(shape, lamina_row, spacing[1], compartment.ARCH_MARGIN_MM)


def medial_of_reach(multifidus, lateral_mm) -> np.ndarray:
    """Columns no further lateral than the split multifidus reaches (all where it is empty).

    The seam was drawn where the muscle is lean; lean islands and the convex envelope lateral of it
    are the erector spinae's (its own marbling cuts pieces off it too).
    """
    if not multifidus.any():
        return np.ones(multifidus.shape, bool)
    return np.broadcast_to((lateral_mm <= lateral_mm[multifidus.any(axis=0)].max())[None, :], multifidus.shape)


def lean_share(muscle, fat_fraction, allowed) -> float:
    """Share of lean voxels inside the muscle's convex outline: ~1 lean, lower the fattier."""
    if muscle.sum() < 3:
        return 0.0
    outline = compartment.fatty_envelope(muscle, allowed)
    return float((fat_fraction[outline] < compartment.LEAN_FAT_FRACTION).mean())


def return_erector_lean(multifidus, erector, fat_fraction, allowed, lateral_mm, border_mm: float):
    """(multifidus, erector spinae) with the lean tissue of a severely fatty multifidus that is one
    piece with the erector spinae's lean body, lateral of the multifidus's anatomical border
    (`border_mm`), given back to the erector spinae.

    A mostly-fat multifidus shows no plane against the erector spinae, so the seam (drawn from
    anatomy there) can cut off a corner of the lean erector spinae. The multifidus's own lean islands
    may touch the erector spinae too where the plane between them is thin (TUM01 with marbling
    written into the expert's multifidi, eval_fatty_tum01.py: MF 0.709/0.723 -> 0.728/0.751 over
    seeds 0-1 when those medial of the border stay; the phantom, whose plane is 2 mm wide, unchanged).
    """
    if not multifidus.any() or not erector.any():
        return multifidus, erector
    if lean_share(multifidus, fat_fraction, allowed) >= RETURN_LEAN_SHARE:
        return multifidus, erector
    lean = (multifidus | erector) & (fat_fraction < compartment.LEAN_FAT_FRACTION)
    pieces, count = ndimage.label(lean)
    index = np.arange(1, count + 1)
    mostly_erector = ndimage.sum_labels(lean & erector, pieces, index) >= 0.5 * ndimage.sum_labels(lean, pieces, index)
    beyond_border = (lateral_mm > border_mm)[None, :]
    given = multifidus & np.isin(pieces, index[mostly_erector]) & beyond_border
    return multifidus & ~given, erector | given
