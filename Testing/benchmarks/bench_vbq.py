"""Seconds per case for the VBQ pipeline (reading excluded); target < 5 s per case on 2 CPU cores.

Usage: python Testing/benchmarks/bench_vbq.py [IMAGE ...]   (default: the phantom and ../shared cases)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "SpineQuantCore"))

from spinequant.imageio import read_volume  # noqa: E402
from spinequant.phantoms.sagittal import make_sagittal_phantom  # noqa: E402
from spinequant.vbq import measure_vbq  # noqa: E402

SHARED = REPO.parent / "shared" / "data"


def cases(arguments):
    if arguments:
        return [(a, lambda a=a: read_volume(a, plane="sagittal")) for a in arguments]
    found = [("phantom seed 0", lambda: make_sagittal_phantom(0).volume)]
    for image in sorted(SHARED.glob("sagittal_*/*/image.nii.gz")):
        found.append((image.parent.name, lambda image=image: read_volume(str(image), plane="sagittal")))
    return found


def main(arguments) -> int:
    for name, load in cases(arguments):
        volume = load()
        start = time.perf_counter()
        result = measure_vbq(volume)
        seconds = time.perf_counter() - start
        print(f"{name:20s} {seconds:6.2f} s  VBQ {result.vbq:.3f}  ({result.category})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
