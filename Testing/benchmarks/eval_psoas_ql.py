"""Psoas and quadratus lumborum of the built-in segmenter: phantom Dice per side (seeds, normal and
severely fatty multifidus, fat-bright image alone and with water/fat), TUM01 plausibility (no psoas
labels there), TotalSegmentator iliopsoas agreement (model output, not manual) and timing.
Run: python eval_psoas_ql.py [seeds, default 0,1,2]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "SpineQuantCore"))

from spinequant.imageio import read_volume  # noqa: E402
from spinequant.phantoms.axial import make_axial_phantom  # noqa: E402
from spinequant.review import dice  # noqa: E402
from spinequant.segmentation import builtin, segment  # noqa: E402
from spinequant.segmentation.orientation import to_canonical  # noqa: E402

SHARED = Path(os.environ.get("SPINEQUANT_SHARED", ROOT.parent / "shared")) / "data"
VALUES = {5: "PS L", 6: "PS R", 7: "QL L", 8: "QL R"}


def phantoms(seeds) -> None:
    print("phantom Dice (fat-bright image alone | with water/fat)")
    for seed in seeds:
        for name, fat in (("normal", None), ("fatty MF 60%", {"multifidus": 0.6})):
            phantom = make_axial_phantom(seed=seed, fat_infiltration=fat)
            cells = []
            for extra in ((), (phantom.water, phantom.fat)):
                start = time.perf_counter()
                labels = segment(phantom.image, *extra).labels.array
                seconds = time.perf_counter() - start
                scores = " ".join(f"{VALUES[v]} {dice(labels == v, phantom.labels.array == v):.3f}" for v in VALUES)
                cells.append(f"{scores} ({seconds:.1f} s)")
            print(f"  seed {seed} {name:12s}: " + " | ".join(cells))


def tum01() -> None:
    case = SHARED / "axial_dixon" / "TUM01"
    if not case.exists():
        print(f"TUM01 skipped: {case} is absent")
        return
    water, fat = read_volume(str(case / "image_water.nii.gz")), read_volume(str(case / "image_fat.nii.gz"))
    image = water.with_array(water.array + fat.array)
    signal = to_canonical(image)[0]
    spacing = signal.spacing
    anatomy = builtin.find_anatomy(signal.array.astype(np.float32), spacing)
    for mode, extra in (("W+F", ()), ("water/fat", (water, fat))):
        labels = to_canonical(segment(image, *extra).labels)[0].array
        print(f"TUM01 {mode} ({labels.shape[0]} slices, L2-L5):")
        for value, side in ((5, 1), (6, -1), (7, 1), (8, -1)):
            rows = []
            for k in range(labels.shape[0]):
                mask = labels[k] == value
                if mask.any() and np.isfinite(anatomy.midline[k]):
                    lateral = (np.nonzero(mask)[1] - anatomy.midline[k]) * spacing[0] * side
                    rows.append((mask.sum() * spacing[0] * spacing[1] / 100.0, lateral.min(), lateral.max()))
            if not rows:
                print(f"  {VALUES[value]}: on 0 slices")
                continue
            area, medial, outer = np.array(rows).T
            jump = np.max(np.maximum(area[1:] / area[:-1], area[:-1] / area[1:])) if len(area) > 1 else 1.0
            print(
                f"  {VALUES[value]}: on {len(rows)} slices, area {area.min():.1f}-{np.median(area):.1f}-"
                f"{area.max():.1f} cm^2 (min-median-max), medial edge {medial.min():.0f}-{medial.max():.0f} mm "
                f"from the midline, lateral edge <= {outer.max():.0f} mm, largest slice-to-slice area ratio {jump:.2f}"
            )


def totalsegmentator() -> None:
    case = SHARED / "model_output" / "totalsegmentator_example_mr"
    if not case.exists():
        print(f"TotalSegmentator example skipped: {case} is absent")
        return
    image = read_volume(str(case / "image.nii.gz"))
    model = read_volume(str(case / "labels.nii.gz")).array
    start = time.perf_counter()
    labels = segment(image).labels.array
    seconds = time.perf_counter() - start
    print(f"TotalSegmentator example (model output, T12-L1, 3 mm; {seconds:.1f} s):")
    for ours, theirs, name in ((5, 48, "left"), (6, 49, "right")):
        mine = labels == ours
        under = dict(zip(*np.unique(model[mine], return_counts=True)))
        print(
            f"  psoas {name}: Dice vs iliopsoas {dice(mine, model == theirs):.3f} "
            f"(ours {mine.sum()} voxels, model {(model == theirs).sum()}); model labels under ours {under}"
        )
    for value in (7, 8):
        under = dict(zip(*np.unique(model[labels == value], return_counts=True)))
        print(f"  {VALUES[value]}: {(labels == value).sum()} voxels; model labels under it {under}")


if __name__ == "__main__":
    seeds = [int(s) for s in sys.argv[1].split(",")] if len(sys.argv) > 1 else [0, 1, 2]
    phantoms(seeds)
    tum01()
    totalsegmentator()
