"""Sagittal T1-like lumbar phantom with a known VBQ (deterministic from a seed).

Geometry follows the shared real data: I runs superior->inferior, J anterior->posterior, K left->right,
1 mm voxels. T12, L1..L5 bodies (cortex rim, homogeneous marrow), discs darker than marrow (T1), S1
tilted by the lumbosacral angle, thecal sac of known CSF signal behind the bodies, epidural fat,
pedicles and spinous processes (so the mid-sagittal plane is the mirror plane), a smooth bias field and
Gaussian noise. The midline is deliberately not the middle slice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np

from ..imageio import Volume

LEVELS = ("T12", "L1", "L2", "L3", "L4", "L5", "S1")
DIRECTION = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])  # columns: I->inferior, J->P, K->L
SIGNAL = {
    "background": 0.0,
    "soft_tissue": 150.0,
    "fat": 380.0,
    "disc": 170.0,
    "cortex": 25.0,
    "csf": 100.0,
    "posterior_bone": 260.0,
}


@dataclass
class SagittalPhantom:
    volume: Volume
    labels: Volume  # VerSe-style codes like the shared data: 19 T12, 20..24 L1..L5, 26 S1; 30 = CSF
    marrow: Dict[str, float]
    csf_signal: float
    vbq: float
    midline_slice: int
    fractured_level: Optional[str]


VERSE_CODES = {"T12": 19, "L1": 20, "L2": 21, "L3": 22, "L4": 23, "L5": 24, "S1": 26}


def _rotated_box(rows, cols, centre, half_height, half_depth, angle_deg):
    """Pixels inside a rectangle of the given half sizes rotated by angle (S-I x A-P plane)."""
    angle = np.deg2rad(angle_deg)
    dr, dc = rows - centre[0], cols - centre[1]
    u = dr * np.cos(angle) - dc * np.sin(angle)
    v = dr * np.sin(angle) + dc * np.cos(angle)
    return (np.abs(u) <= half_height) & (np.abs(v) <= half_depth)


def make_sagittal_phantom(
    seed: int = 0,
    fractured_level: Optional[str] = None,
    noise_sigma: float = 6.0,
    bias_amplitude: float = 0.02,
    slices: int = 31,
    midline_offset: int = 3,
) -> SagittalPhantom:
    rng = np.random.default_rng(seed)
    n_si, n_ap = 300, 180
    marrow = {name: float(rng.uniform(260, 340)) for name in LEVELS}
    rows, cols = np.mgrid[0:n_si, 0:n_ap].astype(float)
    spacing_mm, body_height, body_depth, cortex = 38.0, 28.0, 36.0, 1.5
    centres = {}
    for index, name in enumerate(LEVELS[:-1]):
        centres[name] = (30.0 + index * spacing_mm, 60.0 - 3.0 * np.sin(index / 5 * np.pi))
    l5 = centres["L5"]
    centres["S1"] = (l5[0] + 30.0, l5[1] + 16.0)  # short, posterior step: lumbosacral angle
    midline = slices // 2 + midline_offset
    image = np.zeros((slices, n_ap, n_si), dtype=np.float32)
    labels = np.zeros(image.shape, dtype=np.uint8)
    for k in range(slices):
        x = abs(k - midline)  # mm from the midline
        plane = np.full((n_si, n_ap), SIGNAL["soft_tissue"], dtype=np.float32)
        plane[:, :20] = SIGNAL["fat"]  # anterior abdominal wall fat
        plane_labels = np.zeros((n_si, n_ap), dtype=np.uint8)
        width = np.sqrt(max(0.0, 1.0 - (x / 22.0) ** 2))  # bodies are ~44 mm wide cylinders
        if width > 0:
            plane[5 : n_si - 5, 30:120][(cols[5 : n_si - 5, 30:120] < 40)] = SIGNAL["fat"]
            for name in LEVELS:
                row, col = centres[name]
                height = body_height * (0.68 if name == fractured_level else 1.0)
                angle = 25.0 if name == "S1" else 0.0
                half_depth = 0.5 * body_depth * width
                outer = _rotated_box(rows, cols, (row, col), height / 2, half_depth, angle)
                inner = _rotated_box(rows, cols, (row, col), height / 2 - cortex, half_depth - cortex, angle)
                plane[outer] = SIGNAL["cortex"]
                plane[inner] = marrow[name]
                plane_labels[outer] = VERSE_CODES[name]
            for upper, lower in zip(LEVELS[:-1], LEVELS[1:]):
                (r0, c0), (r1, c1) = centres[upper], centres[lower]
                disc = _rotated_box(
                    rows,
                    cols,
                    ((r0 + r1) / 2, (c0 + c1) / 2),
                    9.0,
                    0.5 * body_depth * width,
                    12.0 if lower == "S1" else 0.0,
                )
                plane[disc & (plane_labels == 0)] = SIGNAL["disc"]
        posterior_wall = np.interp(
            rows[:, 0], [centres[n][0] for n in LEVELS], [centres[n][1] + body_depth / 2 for n in LEVELS]
        )
        wall = posterior_wall[:, None]
        if x <= 9:  # thecal sac between epidural fat layers
            sac = (cols > wall + 2) & (cols <= wall + 14) & (rows > 5) & (rows < centres["S1"][0])
            plane[(cols > wall) & (cols <= wall + 2) & (plane_labels == 0)] = SIGNAL["fat"]
            plane[sac & (plane_labels == 0)] = SIGNAL["csf"]
            plane_labels[sac & (plane_labels == 0)] = 30
            plane[(cols > wall + 14) & (cols <= wall + 17)] = SIGNAL["fat"]
        for name in LEVELS[:-1]:
            row, _ = centres[name]
            if 9 < x <= 14:  # pedicles join body and posterior arch at mid-height
                pedicle = (np.abs(rows - row) < 7) & (cols > wall) & (cols <= wall + 20)
                plane[pedicle] = SIGNAL["posterior_bone"]
            if x <= 4:  # spinous process on the midline only
                spinous = (np.abs(rows - row - 6) < 9) & (cols > wall + 19) & (cols <= wall + 45)
                plane[spinous] = SIGNAL["posterior_bone"]
        image[k] = plane.T
        labels[k] = plane_labels.T
    ii, jj = np.meshgrid(np.linspace(-1, 1, n_si), np.linspace(-1, 1, n_ap))
    bias = 1.0 + bias_amplitude * (0.6 * ii + 0.4 * jj * ii)
    image = image * bias[None].astype(np.float32)
    image += rng.normal(0.0, noise_sigma, image.shape).astype(np.float32)
    image = np.clip(image, 0, None)
    lumbar = [marrow[n] for n in ("L1", "L2", "L3", "L4") if n != fractured_level]
    vbq = float(np.median(lumbar)) / SIGNAL["csf"]
    volume = Volume(image, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), DIRECTION, "sagittal phantom")
    label_volume = Volume(labels, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), DIRECTION, "sagittal phantom labels")
    return SagittalPhantom(volume, label_volume, marrow, SIGNAL["csf"], vbq, midline, fractured_level)
