"""Benchmark `spinequant fat` on TUM01 (4 muscles, every method, Dixon on): prints seconds and the
ratio to the 2 s target. Run: python Testing/benchmarks/bench_fat.py [--repeat 5]"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from spinequant.cli import main as spinequant
from spinequant.imageio import read_volume, write_volume

TARGET_SECONDS = 2.0
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "axial_dixon" / "TUM01"


def run(repeat: int) -> int:
    if not SHARED.exists():
        print(f"skipped: {SHARED} is absent")
        return 0
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        water = read_volume(str(SHARED / "image_water.nii.gz"))
        fat = read_volume(str(SHARED / "image_fat.nii.gz"))
        write_volume(water.with_array(water.array + fat.array), str(work / "wf.nii.gz"))
        (work / "map.json").write_text(json.dumps(
            {"1": "erector_spinae_right", "2": "multifidus_right", "3": "multifidus_left",
             "4": "erector_spinae_left"}))
        args = [str(work / "wf.nii.gz"), "--segmentation", str(SHARED / "labels.nii.gz"), "--label-map",
                str(work / "map.json"), "--water", str(SHARED / "image_water.nii.gz"), "--fat",
                str(SHARED / "image_fat.nii.gz"), "--method", "all", "--out", str(work / "out")]
        seconds = []
        for _ in range(repeat):
            start = time.perf_counter()
            spinequant(["fat", *args])
            seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    print(f"spinequant fat TUM01 (5 intensity methods + Dixon, 4 muscles, 400x400x29): "
          f"median {median:.2f} s over {repeat} runs (min {min(seconds):.2f}, max {max(seconds):.2f}); "
          f"target {TARGET_SECONDS:.1f} s -> ratio {median / TARGET_SECONDS:.2f}")
    print("per-run seconds:", np.round(seconds, 2).tolist())
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    sys.exit(run(parser.parse_args().repeat))
