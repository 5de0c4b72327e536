"""A fatty multifidus on real anatomy: TUM01 with marbling fat written into the expert's multifidi
(semi-synthetic), segmented from W+F alone and with water/fat, Dice against the expert and the
multifidus fat share.

The phantom's muscles have the same section on every slice; here the outlines are the expert's, so
rules that borrow from nearby slices meet a muscle that changes along the spine. Marbling of each
multifidus (and optionally of each erector spinae): see Testing/semi_synthetic.py.
Run: python eval_fatty_tum01.py [--shares=0.4,0.6] [--seeds=0,1] [--erector=0.4]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from eval_segment_tum01 import ROOT, load_tum01  # noqa: E402
from semi_synthetic import marbled  # noqa: E402

sys.path.insert(0, str(ROOT / "SpineQuantCore"))
from spinequant.review import dice  # noqa: E402
from spinequant.segmentation import segment  # noqa: E402

MULTIFIDI, ERECTORS = (1, 2), (3, 4)


def run(shares, seeds, erector_share) -> None:
    loaded = load_tum01()
    if loaded is None:
        return
    water_volume, fat_volume, reference = loaded
    for share in shares:
        muscles = {value: share for value in MULTIFIDI}
        muscles.update({value: erector_share for value in ERECTORS if erector_share > 0})
        for seed in seeds:
            water, fat = marbled(water_volume.array, fat_volume.array, reference, muscles, seed)
            image = water_volume.with_array(water + fat)
            dixon = {"water": water_volume.with_array(water), "fat": fat_volume.with_array(fat)}
            fat_fraction = fat / np.maximum(water + fat, 1e-6)
            true_share = [100.0 * (fat_fraction[reference == value] > 0.5).mean() for value in MULTIFIDI]
            for mode, kwargs in (("W+F alone", {}), ("water/fat", dixon)):
                labels = segment(image, **kwargs).labels.array
                overlap = [dice(labels == value, reference == value) for value in MULTIFIDI + ERECTORS]
                fat_share = [100.0 * (fat_fraction[labels == value] > 0.5).mean() for value in MULTIFIDI]
                print(
                    f"MF {100 * share:.0f} % ES {100 * erector_share:.0f} % seed {seed} {mode}: "
                    f"MF L/R {overlap[0]:.3f}/{overlap[1]:.3f}  ES L/R {overlap[2]:.3f}/{overlap[3]:.3f}  "
                    f"MF fat share {fat_share[0]:.0f}/{fat_share[1]:.0f} % "
                    f"(expert's {true_share[0]:.0f}/{true_share[1]:.0f} %)",
                    flush=True,
                )


def _option(name: str, default: str) -> str:
    return next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith(f"--{name}=")), default)


if __name__ == "__main__":
    run(
        [float(s) for s in _option("shares", "0.4,0.6").split(",")],
        [int(s) for s in _option("seeds", "0,1").split(",")],
        float(_option("erector", "0")),
    )
