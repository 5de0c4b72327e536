"""How the built-in segmenter holds when the acquisition or the anatomy changes (phantom, known labels).

One phantom (seed 1 unless --seed=N) varied one property at a time: in-plane resolution, slice
thickness, coil shading, noise and a smaller right side (asymmetric anatomy).
Prints Dice per muscle and seconds, for the fat-bright image alone and with water/fat.
Run: python eval_segment_robustness.py [--seed=N]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "SpineQuantCore"))

from spinequant.errors import InputError  # noqa: E402
from spinequant.labels import DEFAULT_LABELS  # noqa: E402
from spinequant.phantoms.axial import make_axial_phantom  # noqa: E402
from spinequant.review import dice  # noqa: E402
from spinequant.segmentation import segment  # noqa: E402

VARIANTS = {
    "reference (1.25 mm, 4 mm slices)": {},
    "0.6 mm in-plane": {"spacing": (0.6, 0.6, 4.0)},
    "2 mm in-plane": {"spacing": (2.0, 2.0, 4.0)},
    "3 mm slices": {"spacing": (1.25, 1.25, 3.0), "n_slices": 32},
    "6 mm slices": {"spacing": (1.25, 1.25, 6.0), "n_slices": 16},
    "coil shading x2 (0.7)": {"bias_strength": 0.7},
    "noise x2.5 (sigma 30)": {"noise_sigma": 30.0},
    "right side 0.75 x (area 56 %)": {"left_right_scale": 0.75},
    "right side 0.6 x (area 36 %)": {"left_right_scale": 0.6},
}
ABBREVIATION = {"multifidus": "MF", "erector_spinae": "ES", "psoas": "PS", "quadratus_lumborum": "QL"}
SHORT = {
    v: f"{ABBREVIATION[s.key.rsplit('_', 1)[0]]}{s.key.rsplit('_', 1)[1][0].upper()}" for v, s in DEFAULT_LABELS.items()
}


def main(seed: int) -> None:
    print("Dice per muscle (" + " ".join(SHORT[v] for v in sorted(SHORT)) + ")")
    for name, kwargs in VARIANTS.items():
        phantom = make_axial_phantom(seed=seed, **kwargs)
        for mode, extra in (("alone", {}), ("dixon", {"water": phantom.water, "fat": phantom.fat})):
            start = time.perf_counter()
            try:
                labels = segment(phantom.image, **extra).labels.array
            except InputError as exc:
                print(f"{name:32s} {mode:5s} FAILED ({exc})")
                continue
            seconds = time.perf_counter() - start
            scores = [dice(labels == value, phantom.labels.array == value) for value in sorted(SHORT)]
            print(f"{name:32s} {mode:5s} " + " ".join(f"{s:.3f}" for s in scores) + f"  {seconds:.1f} s")


if __name__ == "__main__":
    seeds = [int(a.split("=", 1)[1]) for a in sys.argv[1:] if a.startswith("--seed=")]
    main(seeds[0] if seeds else 1)
