"""Medullary ROIs inside vertebral bodies and the CSF ROI in the thecal sac, on the 2D sagittal view.

Both are built from a centre point and the image only, so detected and hand-placed landmarks give the
same ROI. Margins follow Ehresman et al. 2020: ROIs in medullary bone, away from the cortex, endplates
and the basivertebral venous plexus (which enters at the posterior centre of the body).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np
from scipy import ndimage as ndi
from skimage import measure

from .bodybox import BodyBox, find_body_box

CORTEX_MARGIN_MM = 3  # erosion from cortex and endplates
PLEXUS_POSTERIOR_SHARE = 0.35  # posterior share of the body depth excluded at mid-height
PLEXUS_HEIGHT_SHARE = 0.4  # share of the body height (centred) where the plexus runs
MIN_ROI_PIXELS = 20
CSF_ROI_HALF_HEIGHT_MM, CSF_ROI_HALF_DEPTH_MM = 5, 2
CANAL_SEARCH_MM = (2, 24)  # posterior of the body's posterior wall
CANAL_PLATEAU_MM = 5
MIN_CANAL_DEPTH_MM = 4
NEAR_BEST_SHARE = 0.6  # a plateau this close to the most marrow-unlike one counts as the sac
PLATEAU_FLATNESS = 0.8
ROBUST_SPREADS = 2.5
MIN_DEPTH_SHARE = 0.85  # of the median depth of the bodies


@dataclass
class BodyRegion:
    mask: np.ndarray  # the whole body (its box)
    roi: np.ndarray  # medullary ROI
    height_mm: float
    posterior_wall_col: int
    box: BodyBox


def local_median(image: np.ndarray, row: int, col: int, half: int = 3) -> float:
    return float(np.median(image[max(row - half, 0) : row + half + 1, max(col - half, 0) : col + half + 1]))


def medullary_roi(box: BodyBox, shape: Tuple[int, int]) -> np.ndarray:
    """The box inset from cortex and endplates, less the basivertebral plexus at the posterior mid-height."""
    roi = box.mask(shape, margin=CORTEX_MARGIN_MM)
    s, t = box.coordinates(shape)
    plexus = (np.abs(s - box.mid_height) <= PLEXUS_HEIGHT_SHARE * 0.5 * box.height) & (
        t >= box.half_depth - 2 * PLEXUS_POSTERIOR_SHARE * box.half_depth
    )
    roi &= ~plexus
    if roi.sum() < MIN_ROI_PIXELS:  # a body too small to inset: a small disc at its centre
        roi = (s**2 + t**2) <= 9
    return roi


def region_of(box: BodyBox, shape: Tuple[int, int]) -> BodyRegion:
    _, wall_col = box.posterior_wall
    return BodyRegion(box.mask(shape), medullary_roi(box, shape), box.height, int(round(wall_col)), box)


def body_region(
    image: np.ndarray, centre: Tuple[int, int], neighbour_distance_mm: float, axis: Tuple[float, float] = (1.0, 0.0)
) -> BodyRegion:
    """The body around `centre` (its box, medullary ROI, height and posterior wall), `axis` the column's
    direction there (superior -> inferior)."""
    return region_of(find_body_box(image, centre, axis, neighbour_distance_mm), image.shape)


def with_common_depth(regions: Dict[str, BodyRegion], shape: Tuple[int, int]) -> Dict[str, BodyRegion]:
    """Bodies found much shallower than the median of their neighbours take the median depth behind the
    same posterior wall: a dark marrow patch near the anterior cortex stops the edge search early, while
    lumbar bodies differ little in A-P depth (a few mm from L1 to L5)."""
    if len(regions) < 3:
        return regions
    median = float(np.median([r.box.half_depth for r in regions.values()]))
    return {
        name: region_of(r.box.with_depth(median), shape) if r.box.half_depth < MIN_DEPTH_SHARE * median else r
        for name, r in regions.items()
    }


def robust_mean(values: np.ndarray) -> float:
    """Mean of the values within 2.5 robust standard deviations of the median: nerve roots and partial
    volume (a minority) are left out, while noise is averaged as well as by the plain mean."""
    values = np.asarray(values, dtype=float)
    if values.size < 5:
        return float(np.mean(values)) if values.size else float("nan")
    median = float(np.median(values))
    spread = 1.4826 * float(np.median(np.abs(values - median)))
    if spread == 0:
        return median
    near = values[np.abs(values - median) <= ROBUST_SPREADS * spread]
    return float(near.mean())


def csf_roi(shape: Tuple[int, int], centre: Tuple[int, int]) -> np.ndarray:
    """A small rectangle in the thecal sac (taller than deep: the sac runs vertically)."""
    roi = np.zeros(shape, dtype=bool)
    row, col = centre
    roi[
        max(row - CSF_ROI_HALF_HEIGHT_MM, 0) : row + CSF_ROI_HALF_HEIGHT_MM + 1,
        max(col - CSF_ROI_HALF_DEPTH_MM, 0) : col + CSF_ROI_HALF_DEPTH_MM + 1,
    ] = True
    return roi


def _is_plateau(deviation: np.ndarray, i: int) -> bool:
    """A local maximum with a flat top at least CANAL_PLATEAU_MM wide (a sac, not the cortex line)."""
    if not 0 < i < len(deviation) - 1 or deviation[i] < max(deviation[i - 1], deviation[i + 1]):
        return False  # not a local maximum (the search window's edge is not a plateau's top)
    top = deviation >= PLATEAU_FLATNESS * deviation[i]
    run = measure.label(top)
    return int((run == run[i]).sum()) >= CANAL_PLATEAU_MM


@dataclass
class CanalFinding:
    centre: Tuple[int, int] | None
    depth_mm: float
    problem: str = ""


def find_canal(image: np.ndarray, body: BodyRegion, body_centre: Tuple[int, int]) -> CanalFinding:
    """The thecal sac behind a body: the first plateau behind the wall that differs (nearly) most from marrow.

    CSF is the most marrow-unlike homogeneous signal in the canal in every contrast (dark on T1, bright on
    T2/STIR/gradient echo), so the same search serves the VBQ and the non-T1 warning.
    """
    smooth = ndi.gaussian_filter(image, 1.0)
    row = body_centre[0]
    marrow = float(np.median(smooth[body.roi])) if body.roi.any() else local_median(smooth, *body_centre)
    first, last = body.posterior_wall_col + CANAL_SEARCH_MM[0], body.posterior_wall_col + CANAL_SEARCH_MM[1]
    last = min(last, image.shape[1] - 1)
    if last - first < CANAL_PLATEAU_MM:
        return CanalFinding(None, 0.0, "canal outside the image")
    profile = smooth[max(row - 4, 0) : row + 5, first : last + 1].mean(axis=0)
    plateau = ndi.uniform_filter1d(profile, CANAL_PLATEAU_MM, mode="nearest")
    deviation = np.abs(plateau - marrow)
    # the sac is the first marrow-unlike plateau behind the wall: behind it lie ligament, fat and lamina,
    # which can differ from marrow about as much (dark ligament on fat-suppressed images)
    best = int(np.argmax(deviation))
    for i in range(best):
        if deviation[i] >= NEAR_BEST_SHARE * deviation[best] and _is_plateau(deviation, i):
            best = i
            break
    inside = deviation >= 0.5 * deviation[best]
    run = measure.label(inside)[best]
    depth = float((measure.label(inside) == run).sum())
    centre = (row, first + best)
    if depth < MIN_CANAL_DEPTH_MM:
        return CanalFinding(centre, depth, f"canal only {depth:.0f} mm deep (stenosis or nerve roots)")
    return CanalFinding(centre, depth)
