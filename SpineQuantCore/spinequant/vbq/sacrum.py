"""The first sacral body (S1) below the lowest lumbar body of a chain, so that levels can be counted up.

The chain of bodies (detect.py) allows only small front-to-back shifts between consecutive bodies, which
the lumbosacral junction breaks: S1 lies posterior-inferior of L5 (the sacrum is tilted ~30-50 degrees
to the column axis) behind a wedge-shaped L5-S1 disc, so its centre is 15-35 mm below and ~0.5-1.2 times
as far behind the L5 centre, closer than the lumbar spacing. S1 is therefore searched on its own in that
window: a homogeneous marrow core with a signal like L5's and a disc band crossing the path between them.

The lowest chain body is sometimes not L5 but a look-alike block of the pelvis (bowel, uterus, bladder
wall) reached by a long step or a step turning forward, where the column turns backward into the sacrum.
Such a tail is dropped when the body above it has S1 below it (tried before the tail itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
from scipy import ndimage as ndi

S1_CORE_MM = 11  # square core that fits inside the tilted S1 body
MAX_CORE_CV = 0.3
MIN_S1_HOMOGENEITY = 0.5
MIN_S1_STEP_MM = 15
MAX_S1_STEP_SHARE = 1.0  # of the median lumbar spacing
S1_TILT_RANGE = (0.5, 1.2)  # A-P shift / S-I step from the L5 centre to a point in S1
MAX_S1_SIGNAL_STEP = 0.4  # S1 marrow against L5 marrow
MIN_S1_DISC_CONTRAST = 0.2
TAIL_LONG_STEP = 1.25  # a last step this much longer than the median spacing ...
TAIL_FORWARD_TILT = -0.25  # ... or turning forward this much is suspicious
MAX_TAIL_BODIES = 2


@dataclass
class Sacrum:
    """S1 centre (row, col) in view pixels, the chain index of L5 and the S1 evidence score."""

    s1: Tuple[int, int]
    l5_index: int
    score: float
    dropped_tail: int  # chain bodies below L5 that were left out


def _line_profile(image: np.ndarray, start, end) -> np.ndarray:
    count = int(np.hypot(end[0] - start[0], end[1] - start[1])) + 1
    rows = np.linspace(start[0], end[0], count)
    cols = np.linspace(start[1], end[1], count)
    return ndi.map_coordinates(image, [rows, cols], order=1)


def _disc_contrast(local: np.ndarray, start, end, reference: float) -> float:
    """Largest deviation from `reference` over the middle 60 % of the straight path start->end."""
    profile = _line_profile(local, start, end)
    middle = profile[int(0.2 * len(profile)) : int(0.8 * len(profile)) + 1]
    if middle.size == 0 or reference <= 0:
        return 0.0
    return float(np.max(np.abs(middle - reference)) / reference)


class _S1Finder:
    def __init__(self, image: np.ndarray):
        smooth = ndi.gaussian_filter(image.astype(np.float32), 1.0)
        self.smooth = smooth
        self.local = ndi.uniform_filter(smooth, 5)
        mean = ndi.uniform_filter(smooth, S1_CORE_MM)
        mean_sq = ndi.uniform_filter(smooth * smooth, S1_CORE_MM)
        std = np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))
        self.mean = mean
        self.homogeneity = np.clip(1.0 - std / np.maximum(mean, 1e-6) / MAX_CORE_CV, 0.0, None)

    def below(self, centre: Tuple[int, int], spacing: float) -> Tuple[Tuple[int, int], float] | None:
        """Best S1 point in the lumbosacral window below a body centre, with its score, or None."""
        r0, c0 = int(centre[0]), int(centre[1])
        rows, cols = self.smooth.shape
        margin = S1_CORE_MM // 2 + 1
        marrow = float(np.median(self.smooth[max(r0 - 5, 0) : r0 + 6, max(c0 - 6, 0) : c0 + 7]))
        best = None
        for d_row in range(MIN_S1_STEP_MM, int(MAX_S1_STEP_SHARE * spacing) + 1):
            r = r0 + d_row
            if r >= rows - margin:
                break
            c_first = c0 + int(np.ceil(S1_TILT_RANGE[0] * d_row))
            c_last = min(c0 + int(S1_TILT_RANGE[1] * d_row), cols - margin - 1)
            for c in range(c_first, c_last + 1):
                homogeneity = float(self.homogeneity[r, c])
                if homogeneity < MIN_S1_HOMOGENEITY:
                    continue
                if best is not None and homogeneity + 1.0 <= best[1]:
                    continue  # cannot win even with the strongest disc
                signal = float(self.mean[r, c])
                if abs(signal - marrow) > MAX_S1_SIGNAL_STEP * max(signal, marrow):
                    continue
                contrast = _disc_contrast(self.local, (r0, c0), (r, c), 0.5 * (signal + marrow))
                if contrast < MIN_S1_DISC_CONTRAST:
                    continue
                score = homogeneity + min(contrast, 1.0)
                if best is None or score > best[1]:
                    best = ((r, c), score)
        return best


def _is_suspicious_tail(centres: List[Tuple[int, int]], index: int, spacing: float) -> bool:
    """Whether the step into body `index` does not look like a lumbar step (too long or turning forward)."""
    d_row = centres[index][0] - centres[index - 1][0]
    d_col = centres[index][1] - centres[index - 1][1]
    return d_row > TAIL_LONG_STEP * spacing or d_col < TAIL_FORWARD_TILT * d_row


def find_sacrum(image: np.ndarray, centres: List[Tuple[int, int]]) -> Sacrum | None:
    """S1 below the lowest plausible lumbar body of a superior-first chain, or None when not seen."""
    if len(centres) < 3:
        return None
    rows = np.asarray([c[0] for c in centres], dtype=float)
    spacing = float(np.median(np.diff(rows)))
    finder = _S1Finder(image)
    last = len(centres) - 1
    suspicious = 0
    while (
        suspicious < MAX_TAIL_BODIES
        and last - suspicious - 1 >= 2
        and _is_suspicious_tail(centres, last - suspicious, spacing)
    ):
        suspicious += 1
    for dropped in range(suspicious, -1, -1):  # L5 above the suspicious tail first
        found = finder.below(centres[last - dropped], spacing)
        if found is not None:
            return Sacrum(found[0], last - dropped, found[1], dropped)
    return None
