"""A vertebral body on the sagittal view as a box along the column: endplates and walls from edge profiles.

A region grown by signal similarity follows patches of fatty or red marrow and leaks into fat next to a
homogeneous body, and an ROI taken from it is biased toward the signal at its seed. The sagittal section
of a lumbar body is close to a rectangle tilted with the column (lordosis), bounded by endplates above
and below and by cortical walls in front and behind, so its four edges are found on band profiles through
the centre: along the column axis (through both endplates) and across it (through both walls). Each edge
is the half-way crossing between the body's core signal and the most unlike signal just outside it
(disc and endplate above/below; fat, vessels or ligament in front; cortex and CSF behind), which is
contrast-agnostic and adapts to each body's own contrast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np
from scipy import ndimage as ndi

WALL_BAND_HALF_MM = 5  # half height of the band sampled across the column (through the walls)
CORE_SHARE = 0.15  # of the spacing: |s| below this is the body's core
OUTSIDE_SHARE = (0.3, 0.75)  # of the spacing: where the disc lies along the axis
WALL_SEARCH_MM = (8, 32)  # where a wall can lie from the centre, across the column
MIN_HALF_HEIGHT_SHARE = 0.2  # of the spacing: no body is less tall than 40 % of the spacing
MIN_HALF_DEPTH_MM = 8  # nor less than 16 mm deep
COLUMN_OFFSET_SHARE = 2 / 3  # of the half depth: centres of the anterior and posterior thirds
ENDPLATE_SLACK_MM = 4  # a column's endplate may lie this much further out than the median column's
COLUMN_BAND_HALF_MM = 3  # half width of the band sampled along each column (through the endplates)
HEIGHT_START, HEIGHT_LEVEL = 0.25, 0.6  # heights: scan from a body 25 % short of ~0.7 spacing; endplate-like steps only
EDGE_LEVEL = 0.5  # the edge is where the signal has gone this share of the way to the outside signal
PROFILE_SIGMA_MM = 1.0


@dataclass
class BodyBox:
    """The body as three side-by-side columns (anterior, middle, posterior thirds of its depth), each with
    its own endplates: concave endplates, wedging and endplate notches (Schmorl nodes) are followed."""

    centre: Tuple[float, float]  # (row, col): mid-depth, at the detected centre's level
    axis: Tuple[float, float]  # unit (d_row, d_col) along the column, superior -> inferior
    half_depth: float  # across the axis, mm
    tops: Tuple[float, float, float]  # distance of the upper endplate above the centre, per column, mm
    bottoms: Tuple[float, float, float]  # ... of the lower endplate below it

    @property
    def height(self) -> float:
        """Median of the anterior, middle and posterior heights (Genant's three heights), mm."""
        return float(np.median(np.add(self.tops, self.bottoms)))

    @property
    def mid_height(self) -> float:
        """Offset of the middle column's mid-height from the centre along the axis, mm."""
        return 0.5 * (self.bottoms[1] - self.tops[1])

    def coordinates(self, shape) -> Tuple[np.ndarray, np.ndarray]:
        """(s, t) of every pixel: s along the axis, t across it (positive = posterior), from the centre."""
        rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
        dr, dc = rows - self.centre[0], cols - self.centre[1]
        ar, ac = self.axis
        return dr * ar + dc * ac, -dr * ac + dc * ar

    def mask(self, shape, margin: float = 0.0) -> np.ndarray:
        s, t = self.coordinates(shape)
        column = np.clip(np.floor((t / max(self.half_depth, 1e-6) + 1.0) * 1.5), 0, 2).astype(int)
        tops, bottoms = np.asarray(self.tops)[column], np.asarray(self.bottoms)[column]
        return (s >= -tops + margin) & (s <= bottoms - margin) & (np.abs(t) <= self.half_depth - margin)

    def with_depth(self, half_depth: float) -> BodyBox:
        """The same body made `half_depth` deep, keeping its posterior wall (the sharper edge: cortex and CSF)."""
        shift = self.half_depth - half_depth
        ar, ac = self.axis
        centre = (self.centre[0] - ac * shift, self.centre[1] + ar * shift)
        return BodyBox(centre, self.axis, half_depth, self.tops, self.bottoms)

    @property
    def posterior_wall(self) -> Tuple[float, float]:
        ar, ac = self.axis
        return self.centre[0] - ac * self.half_depth, self.centre[1] + ar * self.half_depth


def _band_profile(image: np.ndarray, centre, direction, across, reach: float, half_band: int) -> np.ndarray:
    """Mean over a band of half width `half_band` (along `across`) of samples along `direction`, for
    offsets -reach..reach mm from the centre."""
    offsets = np.arange(-reach, reach + 1.0)
    widths = np.arange(-half_band, half_band + 1.0)
    rows = centre[0] + offsets[:, None] * direction[0] + widths[None, :] * across[0]
    cols = centre[1] + offsets[:, None] * direction[1] + widths[None, :] * across[1]
    samples = ndi.map_coordinates(image, [rows.ravel(), cols.ravel()], order=1, mode="nearest")
    return ndi.gaussian_filter1d(samples.reshape(rows.shape).mean(axis=1), PROFILE_SIGMA_MM)


def _edge(
    profile: np.ndarray,
    centre_index: int,
    core: float,
    window: Tuple[int, int],
    sign: int,
    start: int,
    level_share: float = EDGE_LEVEL,
) -> float:
    """Offset (from the centre, on the side `sign`) of the half-way crossing toward the most core-unlike
    value in `window`, scanning outward from `start` (the least half size any body has, so that marrow
    patches near the centre do not cut the body short); the extreme itself when nothing crosses."""
    near, far = window
    outside = [centre_index + sign * d for d in range(near, far + 1) if 0 <= centre_index + sign * d < len(profile)]
    if not outside:
        return float(near)
    extreme = max(outside, key=lambda i: abs(profile[i] - core))
    level = level_share * abs(profile[extreme] - core)
    distance = abs(extreme - centre_index)
    for d in range(min(start, distance), distance + 1):
        if abs(profile[centre_index + sign * d] - core) >= level:
            return float(d)
    return float(distance)


def _extent_along(image, centre, axis, across, spacing, half_band, start_share=None, level=EDGE_LEVEL):
    """(top, bottom) distances of the endplates from `centre` along `axis`."""
    reach = int(np.ceil(OUTSIDE_SHARE[1] * spacing))
    along = _band_profile(image, centre, axis, across, reach, half_band)
    core_half = max(2, int(CORE_SHARE * spacing))
    core = float(np.median(along[reach - core_half : reach + core_half + 1]))
    window = (int(OUTSIDE_SHARE[0] * spacing), reach)
    start = int((MIN_HALF_HEIGHT_SHARE if start_share is None else start_share) * spacing)
    return (_edge(along, reach, core, window, -1, start, level), _edge(along, reach, core, window, +1, start, level))


def find_body_box(image: np.ndarray, centre: Tuple[int, int], axis: Tuple[float, float], spacing: float) -> BodyBox:
    """The body around `centre` as a box along `axis` (unit, superior -> inferior), `spacing` the distance
    to the neighbouring bodies (mm)."""
    smooth = image.astype(np.float32)  # unsmoothed: a 1-2 mm cortex must stay dark; the band averages noise
    ar, ac = np.asarray(axis, dtype=float) / max(float(np.hypot(*axis)), 1e-6)
    across = (-ac, ar)  # posterior when the axis points inferior (view columns run anterior -> posterior)
    core_half = max(2, int(CORE_SHARE * spacing))
    side = _band_profile(smooth, centre, across, (ar, ac), WALL_SEARCH_MM[1], WALL_BAND_HALF_MM)
    core = float(np.median(side[WALL_SEARCH_MM[1] - core_half : WALL_SEARCH_MM[1] + core_half + 1]))
    anterior = _edge(side, WALL_SEARCH_MM[1], core, WALL_SEARCH_MM, -1, MIN_HALF_DEPTH_MM)
    posterior = _edge(side, WALL_SEARCH_MM[1], core, WALL_SEARCH_MM, +1, MIN_HALF_DEPTH_MM)
    half_depth, shift_t = 0.5 * (anterior + posterior), 0.5 * (posterior - anterior)
    # endplates through the middle of the body, and the anterior, middle and posterior heights (Genant's
    # three heights) for the height, so that a marrow patch on one column does not shorten the body
    tops, bottoms = [], []
    for share in (-COLUMN_OFFSET_SHARE, 0.0, COLUMN_OFFSET_SHARE):
        offset = shift_t + share * half_depth
        point = (centre[0] + offset * across[0], centre[1] + offset * across[1])
        top, bottom = _extent_along(
            smooth, point, (ar, ac), across, spacing, COLUMN_BAND_HALF_MM, HEIGHT_START, HEIGHT_LEVEL
        )
        tops.append(top)
        bottoms.append(bottom)
    # endplates are smooth: no column reaches much past the others (that is a disc as dark as the marrow)
    tops = np.minimum(tops, np.median(tops) + ENDPLATE_SLACK_MM)
    bottoms = np.minimum(bottoms, np.median(bottoms) + ENDPLATE_SLACK_MM)
    mid = (centre[0] + shift_t * across[0], centre[1] + shift_t * across[1])
    return BodyBox(mid, (ar, ac), half_depth, tuple(float(v) for v in tops), tuple(float(v) for v in bottoms))
