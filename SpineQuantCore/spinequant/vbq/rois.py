"""Medullary ROIs inside vertebral bodies and the CSF ROI in the thecal sac, on the 2D sagittal view.

Both are built from a centre point and the image only, so detected and hand-placed landmarks give the
same ROI. Margins follow Ehresman et al. 2020: ROIs in medullary bone, away from the cortex, endplates
and the basivertebral venous plexus (which enters at the posterior centre of the body).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np
from scipy import ndimage as ndi
from skimage import measure, morphology

MARROW_TOLERANCE = 0.3  # fraction of the local marrow signal that still counts as the same body
CORTEX_MARGIN_MM = 3  # erosion from cortex and endplates
BODY_HALF_WIDTH_MM = 20
BODY_MAX_HALF_HEIGHT_MM = 22
PLEXUS_POSTERIOR_SHARE = 0.35  # posterior share of the body depth excluded at mid-height
PLEXUS_HEIGHT_SHARE = 0.4  # share of the body height (centred) where the plexus runs
MIN_ROI_PIXELS = 20
CSF_ROI_HALF_HEIGHT_MM, CSF_ROI_HALF_DEPTH_MM = 5, 2
CANAL_SEARCH_MM = (2, 24)  # posterior of the body's posterior wall
CANAL_PLATEAU_MM = 5
MIN_CANAL_DEPTH_MM = 4


@dataclass
class BodyRegion:
    mask: np.ndarray  # the whole body as segmented around the centre
    roi: np.ndarray  # medullary ROI
    height_mm: float
    posterior_wall_col: int


def _local_median(image: np.ndarray, row: int, col: int, half: int = 3) -> float:
    return float(np.median(image[max(row - half, 0):row + half + 1, max(col - half, 0):col + half + 1]))


def segment_body(image: np.ndarray, centre: Tuple[int, int], neighbour_distance_mm: float) -> np.ndarray:
    """The body around `centre`: connected pixels whose signal is close to the marrow at the centre."""
    smooth = ndi.gaussian_filter(image, 1.0)
    row, col = centre
    marrow = _local_median(smooth, row, col)
    half_height = int(min(0.4 * neighbour_distance_mm, BODY_MAX_HALF_HEIGHT_MM))
    window = np.zeros(image.shape, dtype=bool)
    window[max(row - half_height, 0):row + half_height + 1,
           max(col - BODY_HALF_WIDTH_MM, 0):col + BODY_HALF_WIDTH_MM + 1] = True
    similar = (np.abs(smooth - marrow) <= MARROW_TOLERANCE * max(marrow, 1e-6)) & window
    similar = ndi.binary_opening(similar, morphology.disk(3))  # cuts thin bridges to fat
    labels = measure.label(similar)
    label = labels[row, col]
    if label == 0:  # the centre sits on a small inhomogeneity: take the nearest component
        if labels.max() == 0:
            return np.zeros(image.shape, dtype=bool)
        distance, (rows, cols) = ndi.distance_transform_edt(labels == 0, return_indices=True)
        label = labels[rows[row, col], cols[row, col]]
    return ndi.binary_fill_holes(labels == label)


def medullary_roi(body: np.ndarray, centre: Tuple[int, int]) -> np.ndarray:
    """Erode from cortex/endplates and cut out the basivertebral plexus at the posterior mid-height."""
    roi = ndi.binary_erosion(body, morphology.disk(CORTEX_MARGIN_MM))
    rows, cols = np.nonzero(body)
    if rows.size:
        top, bottom = rows.min(), rows.max()
        anterior, posterior = cols.min(), cols.max()
        height, depth = bottom - top, posterior - anterior
        mid = 0.5 * (top + bottom)
        plexus = np.zeros_like(roi)
        plexus_half = 0.5 * PLEXUS_HEIGHT_SHARE * height
        plexus[int(mid - plexus_half):int(mid + plexus_half) + 1,
               int(posterior - PLEXUS_POSTERIOR_SHARE * depth):] = True
        roi &= ~plexus
    if roi.sum() < MIN_ROI_PIXELS:  # tiny or unsegmentable body: a small disc at the centre
        roi = np.zeros_like(body)
        rr, cc = np.ogrid[: body.shape[0], : body.shape[1]]
        roi[(rr - centre[0]) ** 2 + (cc - centre[1]) ** 2 <= 9] = True
    return roi


def body_region(image: np.ndarray, centre: Tuple[int, int], neighbour_distance_mm: float) -> BodyRegion:
    body = segment_body(image, centre, neighbour_distance_mm)
    roi = medullary_roi(body, centre)
    row, col = centre
    column = body[:, max(col - 5, 0):col + 6].any(axis=1)
    height = float(column.sum())
    band = body[max(row - 3, 0):row + 4]
    wall = int(np.nonzero(band.any(axis=0))[0].max()) if band.any() else col + 15
    return BodyRegion(body, roi, height, wall)


def peak_centred_mean(values: np.ndarray) -> float:
    """Mean of the values around the histogram peak: nerve roots and partial volume fall outside it."""
    values = np.asarray(values, dtype=float)
    if values.size < 5:
        return float(np.mean(values)) if values.size else float("nan")
    median = float(np.median(values))
    spread = 1.4826 * float(np.median(np.abs(values - median))) or 1e-6
    counts, edges = np.histogram(values, bins=16, range=(median - 3 * spread, median + 3 * spread))
    counts = np.convolve(counts, [1, 2, 1], mode="same")
    peak = 0.5 * (edges[np.argmax(counts)] + edges[np.argmax(counts) + 1])
    near = values[np.abs(values - peak) <= spread]
    return float(near.mean()) if near.size else median


def csf_roi(shape: Tuple[int, int], centre: Tuple[int, int]) -> np.ndarray:
    """A small rectangle in the thecal sac (taller than deep: the sac runs vertically)."""
    roi = np.zeros(shape, dtype=bool)
    row, col = centre
    roi[max(row - CSF_ROI_HALF_HEIGHT_MM, 0):row + CSF_ROI_HALF_HEIGHT_MM + 1,
        max(col - CSF_ROI_HALF_DEPTH_MM, 0):col + CSF_ROI_HALF_DEPTH_MM + 1] = True
    return roi


@dataclass
class CanalFinding:
    centre: Tuple[int, int] | None
    depth_mm: float
    problem: str = ""


def find_canal(image: np.ndarray, body: BodyRegion, body_centre: Tuple[int, int]) -> CanalFinding:
    """The thecal sac behind a body: the plateau posterior of the wall that differs most from marrow.

    CSF is the most marrow-unlike homogeneous signal in the canal in every contrast (dark on T1, bright on
    T2/STIR/gradient echo), so the same search serves the VBQ and the non-T1 warning.
    """
    smooth = ndi.gaussian_filter(image, 1.0)
    row = body_centre[0]
    marrow = _local_median(smooth, *body_centre)
    first, last = body.posterior_wall_col + CANAL_SEARCH_MM[0], body.posterior_wall_col + CANAL_SEARCH_MM[1]
    last = min(last, image.shape[1] - 1)
    if last - first < CANAL_PLATEAU_MM:
        return CanalFinding(None, 0.0, "canal outside the image")
    profile = smooth[max(row - 4, 0):row + 5, first:last + 1].mean(axis=0)
    plateau = ndi.uniform_filter1d(profile, CANAL_PLATEAU_MM, mode="nearest")
    deviation = np.abs(plateau - marrow)
    best = int(np.argmax(deviation))
    inside = deviation >= 0.5 * deviation[best]
    run = measure.label(inside)[best]
    depth = float((measure.label(inside) == run).sum())
    centre = (row, first + best)
    if depth < MIN_CANAL_DEPTH_MM:
        return CanalFinding(centre, depth, f"canal only {depth:.0f} mm deep (stenosis or nerve roots)")
    return CanalFinding(centre, depth)
