"""Synthetic axial lumbar MRI stack with known muscle masks, fat fractions, levels and geometry.

Anatomy is laid out in millimetres around the spinal canal in an LPS frame (x to patient left, y to
posterior), so the phantom is correct at any spacing. Voxel fat fractions are bimodal (lean voxels
near 5 %, fat voxels near 90 %) in smooth "marbling" patches, so the true fat infiltration of each
muscle is exactly the share of voxels with fraction > 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import numpy as np
from scipy import ndimage
from skimage.morphology import convex_hull_image

from ..imageio import Volume
from ..labels import LABEL_OF

LEAN_FAT_FRACTION = 0.05
FAT_VOXEL_FAT_FRACTION = 0.90
WATER_SIGNAL = 320.0  # lean muscle water signal (arbitrary units)
FAT_SIGNAL = 1000.0  # pure-fat signal, bright as on T1/T2 fast spin echo
VISCERA_FAT_FRACTION = 0.10
VISCERA_PROTON_DENSITY = 0.75  # viscera are darker than muscle on the fat-bright image
FASCIA_FAT_MM = 2.0  # intermuscular fat plane around every muscle
SPINOUS_HALF_WIDTH_MM = 3.5
VERSE_CODES = {"L1": 20, "L2": 21, "L3": 22, "L4": 23, "L5": 24, "S1": 26}

# (centre x, centre y, semi-axis x, semi-axis y) in mm relative to the canal centre, for the LEFT
# side (x > 0); the right side mirrors x. y > 0 is posterior.
MUSCLE_ELLIPSES = {
    "multifidus": (17.0, 30.0, 12.0, 20.0),
    "erector_spinae": (50.0, 32.0, 19.0, 23.0),
    "psoas": (38.0, -35.0, 15.0, 17.0),
    "quadratus_lumborum": (68.0, -5.0, 14.0, 8.0),
}
DEFAULT_FAT_INFILTRATION = {"multifidus": 0.20, "erector_spinae": 0.15, "psoas": 0.05, "quadratus_lumborum": 0.10}


@dataclass
class AxialPhantom:
    image: Volume  # fat-bright T1/T2-like (W + F) with bias field and noise
    water: Volume
    fat: Volume
    labels: Volume  # project label values 1..8
    vertebrae: Volume  # VerSe codes of vertebral bodies (20 = L1 ... 24 = L5)
    fat_fraction: np.ndarray  # true voxel fat fraction, 0..1, (K, J, I)
    level_slices: Dict[str, List[int]] = field(default_factory=dict)
    true_fat_infiltration: Dict[str, float] = field(default_factory=dict)  # by structure key, %
    bias_field: np.ndarray = None


def _ellipse(x: np.ndarray, y: np.ndarray, cx: float, cy: float, ax: float, ay: float) -> np.ndarray:
    return ((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2 <= 1.0


def _multifidus(x: np.ndarray, y: np.ndarray, cx: float, cy: float, ax: float, ay: float) -> np.ndarray:
    """The multifidus fills the laminar groove: its ellipse widened medially to a flat border along
    the spinous process (a fat plane away from it), the D shape of its axial section at L4-L5."""
    medial_x = np.sign(cx) * (SPINOUS_HALF_WIDTH_MM + FASCIA_FAT_MM)
    half_column = 0.5 * abs(x[0, 1] - x[0, 0])
    against_process = (np.abs(x - medial_x) <= half_column) & (np.abs(y - cy) <= 0.7 * ay)  # one column
    return convex_hull_image(_ellipse(x, y, cx, cy, ax, ay) | against_process)


def _posterior_compartment(regions, side, xx, yy, proton_density, tissue_ff, spacing) -> None:
    """Make one side's back muscles anatomical: erector spinae abutting the multifidus, both in fat.

    In lumbar MRI the multifidus and erector spinae touch along a thin fat plane (no wedge of other
    tissue between them), and the thoracolumbar fascia wraps them with fat around and behind: there
    is no band of generic lean tissue in the back. So the erector spinae fills the convex hull of
    the two muscles' ellipses lateral of the multifidus and its plane, and the compartment's
    surroundings (the fascia and the fat behind it) are fat. Edits `regions` and the maps in place.
    """
    multifidus, erector = regions[f"multifidus_{side}"], regions[f"erector_spinae_{side}"]
    hull = convex_hull_image(multifidus | erector)
    plane = ndimage.distance_transform_edt(~multifidus, sampling=spacing[1::-1]) <= FASCIA_FAT_MM
    regions[f"erector_spinae_{side}"] = hull & ~plane
    fascia = ndimage.distance_transform_edt(~hull, sampling=spacing[1::-1]) <= FASCIA_FAT_MM
    # subcutaneous fat lies behind every column of the compartment, and beside the spinous
    # process (interspinous ligament and fat) between the two multifidi
    back_edge = np.where(hull.any(axis=0), np.max(np.where(hull, yy, -np.inf), axis=0), np.inf)
    behind = yy > back_edge[None, :]
    medial = np.abs(xx[0]) < np.abs(xx[hull]).min()
    behind |= medial[None, :] & (yy > yy[multifidus].min())
    # the laminar groove holds no other soft tissue: what the curved outline leaves between it and
    # the spinous process or lamina, row by row, is fat too (bone is drawn over it afterwards)
    hull_medial_edge = np.where(hull.any(axis=1), np.min(np.where(hull, np.abs(xx), np.inf), axis=1), 0.0)
    behind |= np.abs(xx) < hull_medial_edge[:, None]
    surroundings = (fascia | behind) & (proton_density > 0)
    proton_density[surroundings] = 1.0
    tissue_ff[surroundings] = 0.95


def _level_layout(n_slices: int, spacing_z: float, levels: Tuple[str, ...]) -> List[str]:
    """Name each slice: vertebral bodies ~28 mm with ~10 mm discs between them ('' = disc)."""
    body_mm, disc_mm = 28.0, 10.0
    names = []
    for k in range(n_slices):
        z = k * spacing_z
        period = body_mm + disc_mm
        index = int(z // period)
        inside_body = (z % period) < body_mm
        names.append(levels[index] if inside_body and index < len(levels) else "")
    return names


MARBLING_BLOB_MM = 4.0  # fat infiltration comes as clustered patches a few millimetres across


def marbling_field(rng: np.random.Generator, shape, spacing_kji) -> np.ndarray:
    """A smooth random field with ~MARBLING_BLOB_MM blobs, (K, J, I): its highest voxels cluster."""
    return ndimage.gaussian_filter(rng.standard_normal(shape), [max(0.5, MARBLING_BLOB_MM / s) for s in spacing_kji])


def highest_share(field: np.ndarray, mask: np.ndarray, share: float) -> np.ndarray:
    """The `share` of the mask's voxels where `field` is highest (exactly that many, by rank)."""
    chosen = np.zeros(mask.shape, dtype=bool)
    count = int(round(share * mask.sum()))
    if count > 0:
        chosen.flat[np.flatnonzero(mask)[np.argsort(field[mask])[::-1][:count]]] = True
    return chosen


def _marbling(rng: np.random.Generator, shape, spacing_kji, mask: np.ndarray, share: float) -> np.ndarray:
    """Clustered fat voxels covering exactly `share` of the mask."""
    if int(round(share * mask.sum())) == 0:
        return np.zeros(shape, dtype=bool)  # no draw: the muscle's random stream goes on unchanged
    return highest_share(marbling_field(rng, shape, spacing_kji), mask, share)


def make_axial_phantom(
    seed: int = 0,
    size_xy_mm: Tuple[float, float] = (340.0, 260.0),
    spacing: Tuple[float, float, float] = (1.25, 1.25, 4.0),
    n_slices: int = 24,
    fat_infiltration: Dict[str, float] = None,
    left_right_scale: float = 1.0,
    bias_strength: float = 0.35,
    noise_sigma: float = 12.0,
    first_level: str = "L3",
) -> AxialPhantom:
    """Build the phantom. `fat_infiltration` maps a muscle (or 'multifidus_left') to a 0..1 share.

    `left_right_scale` shrinks the right-side muscles (asymmetric anatomy); `bias_strength` is the
    relative amplitude of the smooth coil shading.
    """
    rng = np.random.default_rng(seed)
    shares = dict(DEFAULT_FAT_INFILTRATION)
    shares.update(fat_infiltration or {})
    nx = int(round(size_xy_mm[0] / spacing[0]))
    ny = int(round(size_xy_mm[1] / spacing[1]))
    shape = (n_slices, ny, nx)
    origin = (-size_xy_mm[0] / 2, -size_xy_mm[1] / 2 - 30.0, 0.0)  # canal sits 30 mm behind centre
    # (in-plane layout uses the LPS x/y of each voxel; the slice axis points inferior, see volume())
    x = origin[0] + np.arange(nx) * spacing[0]
    y = origin[1] + np.arange(ny) * spacing[1]
    yy, xx = np.meshgrid(y, x, indexing="ij")
    all_levels = ("L1", "L2", "L3", "L4", "L5", "S1")
    levels = all_levels[all_levels.index(first_level) :]
    slice_levels = _level_layout(n_slices, spacing[2], levels)

    labels = np.zeros(shape, np.uint8)
    vertebrae = np.zeros(shape, np.uint8)
    tissue_ff = np.zeros(shape, np.float32)  # fat fraction of non-muscle tissue
    proton_density = np.zeros(shape, np.float32)
    for k in range(n_slices):
        growth = 1.0 + 0.25 * k / max(n_slices - 1, 1)  # psoas grows caudally
        body = _ellipse(xx, yy, 0, -20, 160, 112)
        inner = _ellipse(xx, yy, 0, -20, 142, 96)
        proton_density[k][body] = VISCERA_PROTON_DENSITY
        tissue_ff[k][body] = VISCERA_FAT_FRACTION
        fat_tissue = (body & ~inner) | _ellipse(xx, yy, 0, 66, 60, 10)  # subcutaneous + posterior pad
        proton_density[k][fat_tissue] = 1.0
        tissue_ff[k][fat_tissue] = 0.95
        muscles = []
        for name, (cx, cy, ax, ay) in MUSCLE_ELLIPSES.items():
            scale = growth if name == "psoas" else 1.0
            for side, sign, side_scale in (("left", 1, 1.0), ("right", -1, left_right_scale)):
                s = scale * side_scale
                muscles.append((f"{name}_{side}", (sign * cx, cy, ax * s, ay * s)))
        regions = {key: _ellipse(xx, yy, *geometry) for key, geometry in muscles}
        for key, geometry in muscles:
            if key.startswith("multifidus"):
                regions[key] = _multifidus(xx, yy, *geometry)
        for side in ("left", "right"):
            _posterior_compartment(regions, side, xx, yy, proton_density[k], tissue_ff[k], spacing)
        for _, (cx, cy, ax, ay) in muscles:  # fat planes first, so neighbours never touch
            plane = _ellipse(xx, yy, cx, cy, ax + FASCIA_FAT_MM, ay + FASCIA_FAT_MM)
            proton_density[k][plane] = 1.0
            tissue_ff[k][plane] = 0.95
        for key, region in regions.items():
            labels[k][region] = LABEL_OF[key]
            proton_density[k][region] = 1.0
        # bone (dark on fat-bright images: low proton density, marrow partly fatty)
        body_bone = _ellipse(xx, yy, 0, -22, 24, 17) if slice_levels[k] else _ellipse(xx, yy, 0, -22, 25, 17)
        canal = _ellipse(xx, yy, 0, 0, 9, 7)
        spinous = (np.abs(xx) < SPINOUS_HALF_WIDTH_MM) & (yy > 7) & (yy < 48)
        lamina = _ellipse(xx, yy, 0, 9, 16, 4)
        for bone in (spinous, lamina):
            labels[k][bone] = 0
            proton_density[k][bone] = 0.15
            tissue_ff[k][bone] = 0.5
        labels[k][body_bone] = 0
        if slice_levels[k]:
            proton_density[k][body_bone] = 0.7
            tissue_ff[k][body_bone] = 0.45
            vertebrae[k][body_bone] = VERSE_CODES[slice_levels[k]]
        else:  # disc: water-rich, no fat
            proton_density[k][body_bone] = 0.8
            tissue_ff[k][body_bone] = 0.0
        labels[k][canal] = 0
        proton_density[k][canal] = 1.2  # CSF
        tissue_ff[k][canal] = 0.0

    spacing_kji = spacing[::-1]
    fat_fraction = tissue_ff.copy()
    true_fi = {}
    for value in range(1, 9):
        mask = labels == value
        key = [k for k, v in LABEL_OF.items() if v == value][0]
        muscle = key.rsplit("_", 1)[0]
        share = shares.get(key, shares.get(muscle, 0.0))
        # one random stream per muscle: reshaping one muscle leaves every other muscle's marbling as it was
        muscle_rng = np.random.default_rng((seed, value))
        fat_voxels = _marbling(muscle_rng, shape, spacing_kji, mask, share)
        lean_ff = np.clip(LEAN_FAT_FRACTION + 0.02 * muscle_rng.standard_normal(mask.sum()), 0.0, 0.2)
        fat_fraction[mask] = lean_ff
        fat_fraction[fat_voxels] = FAT_VOXEL_FAT_FRACTION
        true_fi[key] = 100.0 * fat_voxels.sum() / mask.sum()

    water = proton_density * (1 - fat_fraction) * WATER_SIGNAL
    fat = proton_density * fat_fraction * FAT_SIGNAL
    kz = np.linspace(-1, 1, n_slices)[:, None, None]
    # posterior surface coil: brighter towards the back, a milder left-right and cranio-caudal slope
    y_norm = (yy - y.mean()) / (np.ptp(y) / 2)
    x_norm = xx / (np.ptp(x) / 2)
    bias = 1.0 + bias_strength * (0.7 * y_norm + 0.2 * x_norm)[None] + bias_strength * 0.2 * kz
    bias = np.clip(bias, 0.4, 2.0).astype(np.float32)
    image = (water + fat) * bias + rng.normal(0, noise_sigma, shape)
    image = np.abs(image).astype(np.float32)  # magnitude images are non-negative (Rician-like)

    def volume(array, name):
        # slices run head to foot (k points inferior), so L3 lies above L4 physically, as in a scan
        return Volume(array, spacing, origin, np.diag([1.0, 1.0, -1.0]), source=f"phantom:{name}")

    level_slices: Dict[str, List[int]] = {}
    for k, name in enumerate(slice_levels):
        if name:
            level_slices.setdefault(name, []).append(k)
    return AxialPhantom(
        image=volume(image, "image"),
        water=volume((water * bias).astype(np.float32), "water"),
        fat=volume((fat * bias).astype(np.float32), "fat"),
        labels=volume(labels, "labels"),
        vertebrae=volume(vertebrae, "vertebrae"),
        fat_fraction=fat_fraction,
        level_slices=level_slices,
        true_fat_infiltration=true_fi,
        bias_field=bias,
    )
