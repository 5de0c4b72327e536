"""Seconds for the built-in segmenter on TUM01 (target <= 10 s on 2 cores): the median and the range of
REPEATS runs (one run varies by ~20 % on a shared machine). Run: python bench_segment.py"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_segment_tum01 import load_tum01_with_image  # noqa: E402

from spinequant.errors import InputError  # noqa: E402
from spinequant.segmentation import segment  # noqa: E402

REPEATS = 3


def main() -> int:
    loaded = load_tum01_with_image()  # says where TUM01 is missing
    if loaded is None:
        return 0
    image, water, fat, _ = loaded
    for name, kwargs in (("W+F only", {}), ("W+F with water/fat", {"water": water, "fat": fat})):
        seconds = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            try:
                segment(image, **kwargs)
            except InputError as exc:  # reported, not hidden
                print(f"TUM01 {name}: failed after {time.perf_counter() - start:.2f} s ({exc})")
                break
            seconds.append(time.perf_counter() - start)
        if seconds:
            spread = f"{min(seconds):.2f}-{max(seconds):.2f} s"
            print(f"TUM01 {name}: {median(seconds):.2f} s (median of {len(seconds)}; {spread})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
