"""Accuracy of the built-in segmenter: TUM01 Dice / MSD per muscle (W+F alone and with --water/--fat)
and phantom Dice (default and with a severely fatty multifidus, seeds 0-3 unless --seeds=0,1), the
multifidus fat share, and how far the true lean voxels alone bound a fatty multifidus.
Run: python eval_segment_tum01.py [tum01] [phantom] [--seeds=0,1,2,3]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage.morphology import convex_hull_image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "SpineQuantCore"))
sys.path.insert(0, str(ROOT / "Testing"))

from shared_data import SHARED_DATA, TUM01, read_tum01  # noqa: E402
from spinequant.errors import InputError  # noqa: E402
from spinequant.fat.methods import dixon_fat_fraction  # noqa: E402
from spinequant.labels import DEFAULT_LABELS  # noqa: E402
from spinequant.phantoms.axial import make_axial_phantom  # noqa: E402
from spinequant.review import dice  # noqa: E402
from spinequant.segmentation import segment  # noqa: E402

NAMES = {value: structure.key for value, structure in DEFAULT_LABELS.items()}


def mean_surface_distance(a: np.ndarray, b: np.ndarray, spacing_kji) -> float:
    """Symmetric mean surface distance (mm), surfaces taken in-plane slice by slice."""
    if not a.any() or not b.any():
        return float("nan")

    def surface(mask):
        eroded = ndimage.binary_erosion(mask, structure=np.array([[[0, 1, 0], [1, 1, 1], [0, 1, 0]]], bool))
        return mask & ~eroded

    sa, sb = surface(a), surface(b)
    to_b = ndimage.distance_transform_edt(~sb, sampling=spacing_kji)
    to_a = ndimage.distance_transform_edt(~sa, sampling=spacing_kji)
    return float(0.5 * (to_b[sa].mean() + to_a[sb].mean()))


def report(name: str, predicted: np.ndarray, reference: np.ndarray, spacing_kji, values) -> None:
    cells = []
    for value in values:
        p, r = predicted == value, reference == value
        cells.append(f"{NAMES[value]} {dice(p, r):.3f}/{mean_surface_distance(p, r, spacing_kji):.1f}mm")
    print(f"{name}: " + "  ".join(cells))


def measures(name: str, predicted: np.ndarray, reference: np.ndarray, fat_fraction, spacing_kji, values) -> None:
    """What the study reads off the masks: volume (ml) and mean Dixon fat fraction (%) per muscle,
    automatic against expert (the Dixon fraction is measured on both, whatever the segmenter saw)."""
    voxel_ml = float(np.prod(spacing_kji)) / 1000.0
    cells = []
    for value in values:
        p, r = predicted == value, reference == value
        if not p.any() or not r.any():
            cells.append(f"{NAMES[value]} missing")
            continue
        cells.append(
            f"{NAMES[value]} {p.sum() * voxel_ml:.0f}/{r.sum() * voxel_ml:.0f} ml "
            f"FF {100 * fat_fraction[p].mean():.1f}/{100 * fat_fraction[r].mean():.1f} %"
        )
    print(f"   {name} (automatic/expert): " + "  ".join(cells))


def load_tum01():
    """(water, fat, expert labels in the project's values) of TUM01, or None where ../shared is absent."""
    case = SHARED_DATA.joinpath(*TUM01)
    if not case.exists():
        print(f"TUM01 skipped: {case} is absent")
        return None
    return read_tum01(case)


def load_tum01_with_image():
    """(the fat-bright W+F image, water, fat, expert labels) of TUM01, or None where it is absent."""
    loaded = load_tum01()
    if loaded is None:
        return None
    water, fat, reference = loaded
    return water.with_array(water.array + fat.array), water, fat, reference


def tum01() -> None:
    loaded = load_tum01_with_image()
    if loaded is None:
        return
    image, water, fat, reference = loaded
    spacing_kji = tuple(image.spacing[::-1])
    fat_fraction = dixon_fat_fraction(water.array, fat.array)
    for mode, kwargs in (("W+F alone", {}), ("water/fat", {"water": water, "fat": fat})):
        start = time.perf_counter()
        try:
            result = segment(image, **kwargs)
        except InputError as exc:
            print(f"TUM01 {mode}: FAILED ({exc})")
            continue
        seconds = time.perf_counter() - start
        report(f"TUM01 {mode} ({seconds:.1f} s)", result.labels.array, reference, spacing_kji, (1, 2, 3, 4))
        back = np.isin(result.labels.array, [1, 3]), np.isin(reference, [1, 3])
        back_r = np.isin(result.labels.array, [2, 4]), np.isin(reference, [2, 4])
        print(f"   compartment (MF+ES) Dice left {dice(*back):.3f} right {dice(*back_r):.3f}")
        measures("volume, fat fraction", result.labels.array, reference, fat_fraction, spacing_kji, (1, 2, 3, 4))


def lean_envelope_dice(phantom, value: int) -> float:
    """Dice of the slice-wise convex envelope of the muscle's *true* lean voxels: how far the lean
    voxels alone bound a fatty muscle (its fat border patches have nothing in the image around them)."""
    truth = phantom.labels.array == value
    envelope = np.zeros_like(truth)
    for k in range(truth.shape[0]):
        lean = truth[k] & (phantom.fat_fraction[k] < 0.5)
        if lean.sum() > 2:
            envelope[k] = convex_hull_image(lean)
    return dice(envelope, truth)


def phantoms(seeds) -> None:
    for name, kwargs in (
        ("default", {}),
        ("fatty MF 0.6", {"fat_infiltration": {"multifidus": 0.6}}),
        ("fatty MF 0.7 + ES 0.4", {"fat_infiltration": {"multifidus": 0.7, "erector_spinae": 0.4}}),
    ):
        for seed in seeds:
            phantom = make_axial_phantom(seed=seed, **kwargs)
            spacing_kji = tuple(phantom.image.spacing[::-1])
            bound = [lean_envelope_dice(phantom, value) for value in (1, 2)]
            print(f"phantom {name} seed {seed}: envelope of the true lean MF voxels {bound[0]:.3f}/{bound[1]:.3f}")
            for mode, extra in (("alone", {}), ("dixon", {"water": phantom.water, "fat": phantom.fat})):
                try:
                    result = segment(phantom.image, **extra)
                except InputError as exc:
                    print(f"phantom {name} seed {seed} {mode}: FAILED ({exc})")
                    continue
                labels = result.labels.array
                report(f"phantom {name} seed {seed} {mode}", labels, phantom.labels.array, spacing_kji, range(1, 9))
                shares = [100.0 * (phantom.fat_fraction[labels == value] > 0.5).mean() for value in (1, 2)]
                truth = [phantom.true_fat_infiltration[f"multifidus_{side}"] for side in ("left", "right")]
                print(f"   MF fat share {shares[0]:.0f}/{shares[1]:.0f} % (true {truth[0]:.0f}/{truth[1]:.0f} %)")


if __name__ == "__main__":
    which = [a for a in sys.argv[1:] if not a.startswith("--seeds=")] or ["tum01", "phantom"]
    seeds = [int(s) for a in sys.argv[1:] if a.startswith("--seeds=") for s in a.split("=", 1)[1].split(",")]
    if "tum01" in which:
        tum01()
    if "phantom" in which:
        phantoms(seeds or [0, 1, 2, 3])
