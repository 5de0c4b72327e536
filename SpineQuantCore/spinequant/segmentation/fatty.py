"""Fat-infiltrated back muscles: what the lean-tissue search leaves behind is brought back by shape.

Severe fatty infiltration replaces muscle by fat inside the fascia, so a muscle falls apart into
lean islands in fat and its fatty border merges with the fat around it. Its outline is still
near-convex and it still fills its place between bone and the neighbouring muscle: the islands
near the laminar groove, their convex envelope and (for the multifidus) the groove up to the
erector spinae bring it back. Lean muscles (most voxels lean inside their outline) are left alone.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from . import compartment, fascia, split

FATTY_LEAN_SHARE = 0.85  # a muscle replaced by its envelope fills under 85 % of it
FATTY_LEAN_OUTLINE_SHARE = 0.9  # a muscle with under 10 % fat inside its outline needs no recovery
# under ~2/3 lean inside its outline the border itself is often fat: the back is taken to the fascia
# (phantom: 20 % marbling stays above it on most slices, 60-70 % falls below; provisional)
SEVERE_LEAN_OUTLINE_SHARE = 0.65
FRAGMENT_REACH_MM = 20.0  # lean islands of a fatty multifidus lie within ~2 cm of its lean part
# under 60 % lean inside its outline, the multifidus is widened to the erector spinae (phantom, seeds
# 0-3: on 0-4 of 48 slice sides at 20 % marbling, 35-40 at 60 %; never on TUM01)
GROOVE_FILL_LEAN_SHARE = 0.6
# a laminar groove over 60 % fat holds a fatty multifidus, however lean the piece the split gave it
# (TUM01's grooves read at most 53 % fat; phantom 70 % multifidus: Dixon MF L 0.75 -> 0.79 on seed 0)
GROOVE_FAT_SHARE = 0.6
GROOVE_PLANE_MM = 2.0  # the fat plane kept between the multifidus and bone or the erector spinae


def recover_multifidus(multifidus, erector, fat_fraction, allowed, lateral_mm, lamina_row, spacing, tip_row=None):
    """Bring back fat-infiltrated muscle: lean islands near the groove, then each muscle's envelope."""
    # a multifidus whose own outline is lean inside is a lean one: its compartment outline is the better;
    # where the split left it only a lean piece of a fatty groove, the groove is judged with it
    behind = behind_arch(allowed.shape, lamina_row, spacing)
    groove = split.groove_seed(allowed & behind, lateral_mm, lamina_row, spacing)
    fat_groove = groove.any() and (fat_fraction[groove] >= compartment.LEAN_FAT_FRACTION).mean() > GROOVE_FAT_SHARE
    share = lean_share(multifidus | groove if fat_groove else multifidus, fat_fraction, allowed)
    if share >= FATTY_LEAN_OUTLINE_SHARE:
        return multifidus, erector
    region = allowed & behind & ~erector
    recovered = multifidus | linked_islands(multifidus | groove, fat_fraction, region, spacing)
    if share < SEVERE_LEAN_OUTLINE_SHARE:
        # fat patches at the back border merge with the subcutaneous fat: the envelope reaches back to
        # the posterior layer of the thoracolumbar fascia instead
        layer = fascia.posterior_layer(erector, tip_row, lateral_mm)
        if layer is not None:
            recovered = recovered | (layer & allowed)  # not on the spinous process it starts from
    envelope = compartment.fatty_envelope(recovered, region)
    # a lean multifidus keeps its own outline; only one with much fat inside its envelope is replaced
    if multifidus.sum() < FATTY_LEAN_SHARE * envelope.sum():
        multifidus = envelope & medial_of_reach(multifidus, lateral_mm)
    erector = erector & ~multifidus
    return multifidus, erector


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
    recovered = erector | linked_islands(erector, fat_fraction, region, spacing)
    envelope = compartment.fatty_envelope(recovered, region)
    return envelope if erector.sum() < FATTY_LEAN_SHARE * envelope.sum() else erector


def linked_islands(anchor, fat_fraction, region, spacing) -> np.ndarray:
    """Lean islands in `region` lying within FRAGMENT_REACH_MM of the anchor and linked to it by
    gaps narrower than a marbling patch: what is left of a fat-infiltrated muscle."""
    near = ndimage.distance_transform_edt(~anchor, sampling=(spacing[1], spacing[0])) < FRAGMENT_REACH_MM
    lean = fat_fraction < compartment.LEAN_FAT_FRACTION
    fragments = compartment.lean_fragments(lean, region, near, spacing[0] * spacing[1])
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


def return_erector_lean(multifidus, erector, fat_fraction, allowed):
    """(multifidus, erector spinae) with the lean tissue of a severely fatty multifidus that is one
    piece with the erector spinae's lean body given back to the erector spinae.

    A mostly-fat multifidus shows no plane against the erector spinae, so the seam (drawn from
    anatomy there) can cut off a corner of the lean erector spinae; the multifidus's own lean islands
    lie apart from it, behind the fat plane between the muscles.
    """
    if not multifidus.any() or not erector.any():
        return multifidus, erector
    if lean_share(multifidus, fat_fraction, allowed) >= GROOVE_FILL_LEAN_SHARE:
        return multifidus, erector
    lean = (multifidus | erector) & (fat_fraction < compartment.LEAN_FAT_FRACTION)
    pieces, count = ndimage.label(lean)
    index = np.arange(1, count + 1)
    mostly_erector = ndimage.sum_labels(lean & erector, pieces, index) >= 0.5 * ndimage.sum_labels(lean, pieces, index)
    given = multifidus & np.isin(pieces, index[mostly_erector])
    return multifidus & ~given, erector | given


def fill_groove(multifidus, erector, fat_fraction, dark, allowed, lateral_mm, lamina_row: float, spacing):
    """The multifidus, widened to the erector spinae where it is severely fatty.

    The multifidus fills the groove between spinous process and erector spinae. Where it is mostly
    fat, the envelope of its lean islands misses the fat patches on its border, which merge with the
    fat plane beside it. The fat in the groove beside it (within its own rows and lateral reach, and
    a plane away from bone and the erector spinae) is given back to it, with the holes it closes.
    Lean tissue is not taken: a lean piece there is erector spinae the seam did not give back.
    """
    if not multifidus.any() or not erector.any():
        return multifidus
    if lean_share(multifidus, fat_fraction, allowed) >= GROOVE_FILL_LEAN_SHARE:
        return multifidus
    rows = np.arange(multifidus.shape[0])[:, None]
    lateral = np.broadcast_to(lateral_mm[None, :], multifidus.shape)
    # per row: up to a plane short of the erector spinae (rows without it: nothing), never beyond
    # the multifidus's own reach
    erector_edge = np.where(erector, lateral, np.inf).min(axis=1)
    erector_edge[~erector.any(axis=1)] = -np.inf
    reach = lateral_mm[multifidus.any(axis=0)].max()
    limit = np.minimum(erector_edge - GROOVE_PLANE_MM, reach)
    held_rows = np.nonzero(multifidus.any(axis=1))[0]
    clear = ndimage.distance_transform_edt(~(dark | erector), sampling=(spacing[1], spacing[0])) > GROOVE_PLANE_MM
    groove = allowed & behind_arch(allowed.shape, lamina_row, spacing) & ~erector & clear
    groove &= (rows >= held_rows.min()) & (rows <= held_rows.max()) & (lateral <= limit[:, None])
    groove &= fat_fraction >= compartment.LEAN_FAT_FRACTION
    pieces, _ = ndimage.label(groove | multifidus)
    touching = np.unique(pieces[multifidus])
    widened = multifidus | (groove & np.isin(pieces, touching[touching > 0]))
    return widened | (ndimage.binary_fill_holes(widened) & allowed & ~erector)
