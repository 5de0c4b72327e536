"""The mid-sagittal slice from anatomy: the left-right centre of the vertebral bodies or of the thecal sac.

Both are bilaterally symmetric about the mid-sagittal plane, so the plane is the centre of their
left-right extent across the slab:
- the bodies are ~40-50 mm wide and their marrow looks the same on every slice through them, so when the
  slab covers their width the centre of their extent is the estimate (it does not depend on which slice
  the reference signal came from);
- otherwise the thecal sac (CSF column directly behind the bodies), ~15-25 mm wide and bounded by the
  pedicles (interpedicular distance of the lumbar canal ~20-30 mm; Eisenstein 1977, JBJS Br 59:173), is
  almost always inside the slab; off the midline the column behind a body turns into pedicle or
  foraminal fat. Its reference slice is the plane of mirror symmetry of the spine band (the canal column
  seen far off the midline would be foraminal, not the sac).
Presence is measured per slice at the body centres and canal columns found on the reference slice, with
signal tolerances relative to that slice's marrow and CSF, so the method is contrast-agnostic. An extent
is the run above half-way between the profile's floor and peak (tissue beside the spine is not zero).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
from scipy import ndimage as ndi

from .detect import MIN_CHAIN_BODIES, Chain
from .rois import body_region, find_canal, local_median
from .view import SagittalView

BODY_CORE_HALF_MM = (9, 13)  # (S-I, A-P) half sizes of the core sampled in each slice
BODY_TOLERANCE = 0.25  # of the marrow signal
CANAL_HALF_MM = (5, 3)
CANAL_TOLERANCE = 0.2  # of the marrow-CSF contrast: tight, so muscle and fat lateral to the sac do not count
CANAL_WIDTH_MM = (6, 40)  # plausible left-right extent of the sac's CSF column
SPACING_FOR_ROI_MM = 35.0
MIRROR_OFFSETS_MM = (2, 3, 4, 5, 6, 7, 8)
BAND_ANTERIOR_MM, BAND_POSTERIOR_MM = 25, 60  # bodies' anterior margin to spinous processes


@dataclass
class Midline:
    slice_index: int
    method: str  # how it was found, for the notes


def _extent(profile: np.ndarray, near: int) -> Tuple[int, int] | None:
    """Run above half-way between the profile's floor and peak nearest to slice `near`, or None when it is
    not closed in the slab."""
    top, floor = float(np.max(profile)), float(np.min(profile))
    if top <= floor:
        return None
    above = profile >= 0.5 * (top + floor)  # half-way above the floor: tissue beside the spine is not zero
    labels, count = ndi.label(above)
    runs = [np.nonzero(labels == index)[0] for index in range(1, count + 1)]
    run = min(runs, key=lambda r: 0 if r[0] <= near <= r[-1] else min(abs(r[0] - near), abs(r[-1] - near)))
    if run[0] == 0 or run[-1] == len(profile) - 1:
        return None  # the structure runs out of the slab: its centre is unknown
    return int(run[0]), int(run[-1])


def _smoothed_slices(view: SagittalView) -> List[np.ndarray]:
    return [ndi.gaussian_filter(view.slice_image(k), 1.0) for k in range(view.volume.array.shape[0])]


def body_presence(slices: List[np.ndarray], chain: Chain, k_ref: int) -> np.ndarray:
    """Per slice: mean share of each body core that has the marrow signal of the reference slice."""
    hr, hc = BODY_CORE_HALF_MM
    reference = slices[k_ref]
    profile = np.zeros(len(slices))
    for row, col in chain.centres:
        marrow = local_median(reference, row, col, half=4)
        for k, image in enumerate(slices):
            core = image[max(row - hr, 0) : row + hr + 1, max(col - hc, 0) : col + hc + 1]
            profile[k] += np.mean(np.abs(core - marrow) <= BODY_TOLERANCE * marrow)
    return profile / max(len(chain.centres), 1)


def canal_presence(slices: List[np.ndarray], chain: Chain, k_ref: int) -> np.ndarray:
    """Per slice: mean share of the canal column behind each body that has the CSF signal of the reference."""
    reference = slices[k_ref]
    hr, hc = CANAL_HALF_MM
    profile = np.zeros(len(slices))
    used = 0
    for row, col in chain.centres:
        canal = find_canal(reference, body_region(reference, (row, col), SPACING_FOR_ROI_MM), (row, col))
        if canal.centre is None or canal.problem:
            continue
        c = canal.centre[1]
        marrow = local_median(reference, row, col)
        csf = float(np.median(reference[max(row - hr, 0) : row + hr + 1, max(c - 2, 0) : c + 3]))
        tolerance = CANAL_TOLERANCE * abs(marrow - csf)
        for k, image in enumerate(slices):
            column = image[max(row - hr, 0) : row + hr + 1, max(c - hc, 0) : c + hc + 1]
            profile[k] += np.mean(np.abs(column - csf) <= tolerance)
        used += 1
    return profile / max(used, 1)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    denominator = np.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / denominator if denominator > 0 else 0.0


def symmetry_slice(slices: List[np.ndarray], chain: Chain, slice_spacing: float) -> int | None:
    """The highest interior peak of left-right mirror similarity of the spine band (slices k-d and k+d
    alike for d = 2..8 mm), or None when the slab is too thin to tell. A peak at the edge of the range
    where all offsets fit is a slab-edge artefact, not a mirror plane."""
    centres = np.array(chain.centres)
    r0, r1 = centres[:, 0].min(), centres[:, 0].max() + 1
    c0 = max(int(centres[:, 1].min()) - BAND_ANTERIOR_MM, 0)
    c1 = int(centres[:, 1].max()) + BAND_POSTERIOR_MM
    band = np.stack([image[r0:r1, c0:c1] for image in slices])
    offsets = sorted({max(1, int(round(d / slice_spacing))) for d in MIRROR_OFFSETS_MM})
    first, last = offsets[-1], len(slices) - 1 - offsets[-1]
    if last - first < 2:
        return None
    profile = np.array(
        [
            np.mean([_correlation(band[k - d].ravel(), band[k + d].ravel()) for d in offsets])
            for k in range(first, last + 1)
        ]
    )
    peaks = [i for i in range(1, len(profile) - 1) if profile[i] >= max(profile[i - 1], profile[i + 1])]
    return first + max(peaks, key=lambda i: profile[i]) if peaks else None


def find_midsagittal_slice(view: SagittalView, chain: Chain, k_chain: int, redetect) -> Midline:
    """Midline from the bodies' left-right extent, or from the sac's when the slab is narrower than the
    bodies. `redetect(k)` returns the body chain on slice k: the sac is searched behind the bodies of a
    slice near the midline, because far off it the column behind a body is pedicle, not sac.
    """
    slices = _smoothed_slices(view)
    n = len(slices)
    body = _extent(body_presence(slices, chain, k_chain), k_chain)
    if body:  # the bodies are wide and their marrow is the same on every slice: the surer estimate
        k = int(round(0.5 * (body[0] + body[1])))
        return Midline(k, "left-right centre of the vertebral bodies")
    # the slab is narrower than the bodies: the sac, searched near the mirror plane of the spine band
    k_sym = symmetry_slice(slices, chain, view.slice_spacing)
    k_ref = k_chain if k_sym is None else k_sym
    ref_chain = redetect(k_ref) if k_ref != k_chain else chain
    if len(ref_chain.centres) < MIN_CHAIN_BODIES:
        k_ref, ref_chain = k_chain, chain
    canal = _extent(canal_presence(slices, ref_chain, k_ref), k_ref)
    if canal and not CANAL_WIDTH_MM[0] <= (canal[1] - canal[0] + 1) * view.slice_spacing <= CANAL_WIDTH_MM[1]:
        canal = None
    if canal is None:
        how = "plane of left-right mirror symmetry" if k_sym is not None else "reference slice"
        return Midline(k_ref, f"{how} (the slab is narrower than the bodies and the sac is unclear)")
    k = int(np.clip(round(0.5 * (canal[0] + canal[1])), 0, n - 1))
    return Midline(k, "left-right centre of the thecal sac (the slab is narrower than the bodies)")
