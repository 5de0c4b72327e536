"""Throughput of `spinequant batch`: cases per minute on phantom cases (and ../shared cases when present).

Usage: python Testing/benchmarks/bench_batch.py [--cases 6] [--slices 24]
Phantom cases: an axial fat-bright stack (the axial phantom) and, for every other case, a sagittal T1
phantom, so both the muscle and the VBQ pipelines are timed. Shared cases: each sagittal case of
../shared/data as its own case folder (VBQ + levels only; no axial series there).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from spinequant.batch import run_batch
from spinequant.imageio import write_volume
from spinequant.phantoms.axial import make_axial_phantom
from spinequant.phantoms.sagittal import make_sagittal_phantom

SHARED = Path(os.environ.get("SPINEQUANT_SHARED", Path(__file__).resolve().parents[3] / "shared")) / "data"


def phantom_cases(root: Path, count: int, slices: int) -> Path:
    sagittal = make_sagittal_phantom()
    for index in range(count):
        axial = make_axial_phantom(seed=index, n_slices=slices)
        case = root / f"phantom{index:03d}"
        write_volume(axial.image, str(case / "axial_t2.nii.gz"))
        if index % 2 == 0:
            write_volume(sagittal.volume, str(case / "sagittal_t1.nii.gz"))
    return root


def shared_cases(root: Path) -> Path:
    for image in sorted(SHARED.glob("sagittal_*/*/image.nii.gz")):
        case = root / image.parent.name
        case.mkdir(parents=True)
        os.symlink(image, case / "sagittal.nii.gz")  # a link, never a copy of the real data
    return root


def timed(name: str, folder: Path, out: Path) -> None:
    start = time.perf_counter()
    result = run_batch(str(folder), str(out))
    seconds = time.perf_counter() - start
    n = len(result.status)
    failed = int((result.status["status"] == "failed").sum())
    print(f"{name}: {n} cases ({failed} failed) in {seconds:.1f} s = {60.0 * n / seconds:.1f} cases/min "
          f"(per case: {result.status['seconds'].astype(float).mean():.2f} s)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=6)
    parser.add_argument("--slices", type=int, default=24)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        timed("phantom", phantom_cases(root / "phantom_in", args.cases, args.slices), root / "phantom_out")
        if SHARED.exists():
            timed("shared sagittal", shared_cases(root / "shared_in"), root / "shared_out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
