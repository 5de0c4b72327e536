"""VBQ on the shared real sagittal cases against the expert body masks: one table row per case.

Usage: python Testing/benchmarks/eval_vbq_shared.py [-v] [FOLDER/CASE ...]   (default: all 8 cases)

Columns: labels correct (each detected L1..L5 centre lies in the expert mask of that level on the chosen
slice), the share of each L1..L4 ROI inside the right expert mask, the error of the VBQ numerator against
the median of the means of the expert masks eroded by 2 mm on the same slice, VBQ, category, seconds.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi
from skimage import morphology

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "SpineQuantCore"))
sys.path.insert(0, str(REPO / "Testing"))

from shared_data import SAGITTAL_CASES  # noqa: E402
from shared_data import SHARED_DATA as SHARED  # noqa: E402
from spinequant.imageio import read_volume  # noqa: E402
from spinequant.vbq import measure_vbq  # noqa: E402
from spinequant.vbq.view import SagittalView  # noqa: E402

CASES = SAGITTAL_CASES
CODES = {"T10": 17, "T11": 18, "T12": 19, "L1": 20, "L2": 21, "L3": 22, "L4": 23, "L5": 24, "S1": 26}


def evaluate(case: str, verbose: bool = False) -> dict:
    folder = SHARED / case
    volume = read_volume(str(folder / "image.nii.gz"), plane="sagittal")
    labels = read_volume(str(folder / "labels.nii.gz")).array
    start = time.perf_counter()
    result = measure_vbq(volume)
    seconds = time.perf_counter() - start
    label_view = SagittalView.of(volume.with_array(labels)).slice_image(result.slice_index).round().astype(int)
    present = set(np.unique(labels).tolist())
    wrong = []
    for name in ("L1", "L2", "L3", "L4", "L5"):
        if name not in result.view_centres:
            wrong.append(f"{name}:missing")
            continue
        row, col = result.view_centres[name]
        if label_view[row, col] != CODES[name]:
            wrong.append(f"{name}:{int(label_view[row, col])}")
    s1 = result.view_centres.get("S1")
    if CODES["S1"] in present and s1 is not None and label_view[s1] != CODES["S1"]:
        wrong.append(f"S1:{int(label_view[s1])}")
    inside = {}
    for name in ("L1", "L2", "L3", "L4"):
        roi = result.view_rois.get(name)
        inside[name] = float((label_view[roi] == CODES[name]).mean()) if roi is not None and roi.any() else 0.0
    means = []
    for name in ("L1", "L2", "L3", "L4"):
        mask = ndi.binary_erosion(label_view == CODES[name], morphology.disk(2))
        if mask.any():
            means.append(float(result.view_image[mask].mean()))
    reference = float(np.median(means)) if means else float("nan")
    row = {
        "case": case.split("/")[-1],
        "slice": result.slice_index,
        "label_slice": float(np.nonzero(labels)[0].mean()),
        "labels_ok": not wrong,
        "wrong": wrong,
        "inside": inside,
        "numerator_error": 100 * (result.numerator / reference - 1),
        "vbq": result.vbq,
        "category": result.category,
        "seconds": seconds,
        "sacrum": result.sacrum_found,
        "confidence": result.labelling_confidence,
        "csf_level": result.csf_level,
    }
    if verbose:
        print(f"  {row['case']}: centres {result.view_centres}")
        print(f"    notes {result.notes}\n    warnings {result.warnings}\n    excluded {result.excluded}")
    return row


def main(arguments) -> int:
    verbose = "-v" in arguments
    cases = [a for a in arguments if a != "-v"] or CASES
    print(
        f"{'case':14s} {'k':>3s} {'k_lab':>5s} {'labels':7s} {'S1':3s} {'conf':4s} "
        f"{'inside L1-L4':23s} {'num err':>7s} {'VBQ':>6s} {'CSF':3s} {'s':>5s}  category"
    )
    for case in cases:
        r = evaluate(case, verbose)
        inside = " ".join(f"{v:.2f}" for v in r["inside"].values())
        labels = "yes" if r["labels_ok"] else "NO " + ",".join(r["wrong"])
        print(
            f"{r['case']:14s} {r['slice']:3d} {r['label_slice']:5.1f} {labels:7s} {'y' if r['sacrum'] else 'n':3s} "
            f"{r['confidence']:4.2f} {inside:23s} {r['numerator_error']:+6.1f}% {r['vbq']:6.3f} "
            f"{r['csf_level']:3s} {r['seconds']:5.2f}  {r['category']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
