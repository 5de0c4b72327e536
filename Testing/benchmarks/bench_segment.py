"""Seconds for the built-in segmenter on TUM01 (target <= 10 s on 2 cores). Run: python bench_segment.py"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "SpineQuantCore"))

from spinequant.errors import InputError  # noqa: E402
from spinequant.imageio import read_volume  # noqa: E402
from spinequant.segmentation import segment  # noqa: E402


def main() -> int:
    shared = Path(os.environ.get("SPINEQUANT_SHARED", ROOT.parent / "shared")) / "data" / "axial_dixon" / "TUM01"
    if not shared.exists():
        print(f"skipped: {shared} is absent")
        return 0
    water = read_volume(str(shared / "image_water.nii.gz"))
    fat = read_volume(str(shared / "image_fat.nii.gz"))
    image = water.with_array(water.array + fat.array)
    for name, kwargs in (("W+F only", {}), ("W+F with water/fat", {"water": water, "fat": fat})):
        start = time.perf_counter()
        try:
            segment(image, **kwargs)
        except InputError as exc:  # reported, not hidden: the single-image path is not reliable yet
            print(f"TUM01 {name}: failed after {time.perf_counter() - start:.2f} s ({exc})")
            continue
        print(f"TUM01 {name}: {time.perf_counter() - start:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
