"""Where the one-image (W+F) segmentation of TUM01 loses against water/fat: the one-image steps run
on three fat-fraction maps in turn, and how well one summed image can tell tissue apart at all.

1. the pseudo fat fraction the segmenter builds from the W+F image (what a user gets);
2. a pseudo fat fraction whose lean and fat reference levels are taken from the Dixon images: the
   best any two-level intensity model of one image could place them;
3. the Dixon fat fraction itself, on the one-image steps (the water/fat run adds its own steps).

Then, per band of W+F signal over the (Dixon-derived) local lean level, the Dixon fat fraction there.
Run: python eval_one_image_gap.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from unittest import mock

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_segment_tum01 import load_tum01_with_image  # noqa: E402  (puts SpineQuantCore on the path)

from spinequant.review import dice  # noqa: E402
from spinequant.segmentation import segment, tissue  # noqa: E402
from spinequant.segmentation.orientation import to_canonical  # noqa: E402

LEVEL_SIGMA_MM = tissue.REFERENCE_SIGMA_MM
LEAN_BELOW, FAT_ABOVE = 0.15, 0.85  # Dixon fat fractions that count as lean muscle and as fat
SHOWN = {1: "MF L", 2: "MF R", 3: "ES L", 4: "ES R"}
BACK_MARGIN_VOXELS = 15  # the back muscles and what lies around them


def reference_levels(signal, fat_fraction, body, spacing):
    """Smooth local lean and fat levels of the W+F signal, fitted where Dixon says lean or fat."""
    lean = tissue.local_level(signal, body & (fat_fraction < LEAN_BELOW), spacing, LEVEL_SIGMA_MM)
    fat = tissue.local_level(signal, body & (fat_fraction > FAT_ABOVE), spacing, LEVEL_SIGMA_MM)
    return lean, fat


def levels_from_dixon(fat_fraction):
    """An envelope_maps stand-in: the W+F signal placed between Dixon-derived reference levels
    (only the levels differ from what the segmenter does)."""

    def maps(image, spacing, body):
        signal = np.clip(image.astype(np.float32), 0, None)
        return tissue.maps_from_levels(signal, *reference_levels(signal, fat_fraction, body, spacing), body)

    return maps


def dixon_map(fat_fraction):
    """An envelope_maps stand-in handing the one-image steps the Dixon fat fraction."""

    def maps(image, spacing, body):
        signal = np.clip(image.astype(np.float32), 0, None)
        return tissue.TissueMaps(signal, fat_fraction, np.zeros(signal.shape, bool), False, fat_fraction)

    return maps


def main() -> None:
    loaded = load_tum01_with_image()
    if loaded is None:
        return
    image, water, fat, reference = loaded
    canonical_water, canonical_fat = to_canonical(water)[0].array, to_canonical(fat)[0].array
    fat_fraction = tissue.dixon_maps(canonical_water, canonical_fat).fat_fraction
    runs = {
        "pseudo fat fraction (as shipped)": None,
        "reference levels from Dixon": levels_from_dixon(fat_fraction),
        "Dixon fat fraction, one-image steps": dixon_map(fat_fraction),
    }
    for name, stand_in in runs.items():
        if stand_in is None:
            labels = segment(image).labels.array
        else:
            with mock.patch.object(tissue, "envelope_maps", stand_in):
                labels = segment(image).labels.array
        scores = "  ".join(f"{label} {dice(labels == v, reference == v):.3f}" for v, label in SHOWN.items())
        print(f"{name:38s} {scores}")
    signal = canonical_water + canonical_fat
    body = signal > tissue.NOISE_FLOOR_SHARE * np.percentile(signal, 99)
    lean, _ = reference_levels(signal, fat_fraction, body, image.spacing)
    ratio = signal / np.maximum(lean, 1e-6)
    expert = to_canonical(water.with_array(reference.astype(np.uint8)))[0].array > 0
    near = body & ndimage.binary_dilation(expert, np.ones((1, 3, 3), bool), iterations=BACK_MARGIN_VOXELS)
    erector_right = to_canonical(water.with_array((reference == 4).astype(np.uint8)))[0].array > 0
    print(f"W+F / local lean level -> Dixon fat fraction, within {BACK_MARGIN_VOXELS} voxels of the expert's muscles")
    for low in np.arange(0.75, 2.0, 0.25):
        band = near & (ratio >= low) & (ratio < low + 0.25)
        if band.sum() > 100:
            values = fat_fraction[band]
            print(f"  {low:.2f}-{low + 0.25:.2f} x: {values.mean():.2f} +- {values.std():.2f} ({band.sum()} voxels)")
    labels = segment(image).labels.array
    oriented = to_canonical(water.with_array(labels))[0].array
    tail = (oriented == 4) & ~erector_right & ~expert  # what the one-image right erector spinae adds
    print(
        f"background the one-image right erector spinae takes: {tail.sum()} voxels, "
        f"W+F {np.median(ratio[tail]):.2f} x the lean level, Dixon fat fraction {np.median(fat_fraction[tail]):.2f}"
    )


if __name__ == "__main__":
    main()
