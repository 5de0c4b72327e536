"""Axial-only vertebral levels on real anatomy: each shared sagittal volume is resliced into a clinical
axial stack (4 mm slices, 1 mm in-plane), the level of every slice is assigned from the image alone
and compared with the expert vertebra label on the slice (mid-vertebral and disc slices).

Usage: python Testing/benchmarks/eval_axial_levels_shared.py [-v] [--grid] [FOLDER/CASE ...]   (default: all)
(--grid: every sagittal case at 3-6 mm slices and four slice offsets; verified-but-wrong must stay 0)

Columns: slices (labelled slices scored), correct, near (the neighbouring body/disc of the truth: a
slice cutting a tilted endplate), wrong (any other name, i.e. a miscount), unnamed (no level given:
beyond the counted chain), unverified (slices whose
levels were flagged unverified: not scored as right or wrong), S1 seen, confidence.
TUM01 (real axial, L2-L5, no sacrum) has no level labels: it must come out unverified.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, Optional, Set, Tuple

import numpy as np
import SimpleITK as sitk

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "SpineQuantCore"))
sys.path.insert(0, str(REPO / "Testing"))

from shared_data import SAGITTAL_CASES, axial_reference  # noqa: E402
from shared_data import SHARED_DATA as SHARED  # noqa: E402
from spinequant.axial_levels import AxialLevels, levels_from_axial  # noqa: E402
from spinequant.imageio import Volume, read_volume  # noqa: E402
from spinequant.levels import (  # noqa: E402
    LEVEL_ORDER,
    MIN_SLICE_VOXELS,
    VERTEBRA_CODES,
    LevelSlices,
    levels_from_vertebra_map,
)

S1_IN_VIEW = ("VB1_06_AKs6", "VB1_10_DzZ_T1", "VB1_07_AKs7", "VB1_11_DzZ_T2", "VB2_02", "VB2_05")  # by eye
AXIAL_CASES = ("axial_dixon/TUM01",)
Present = Dict[int, Set[str]]  # per slice: every vertebral body it cuts
BOUNDARY_MM = 6.0  # a body/disc boundary this far off is a boundary error, not a wrong level


def reslice_axial(
    image: Volume, labels: Volume, slice_mm: float = 4.0, offset_mm: float = 0.0
) -> Tuple[Volume, LevelSlices, Present]:
    """Axial stack (k running inferior, as many scanners store it) over the sagittal volume's extent,
    linear for the image; the expert level of each slice from the label map at the slice centre (the
    body with most voxels, or the disc between two bodies) and every body the slice cuts.
    `offset_mm` moves the slice grid down (where the slices fall relative to the anatomy)."""
    source = image.to_sitk()
    reference = axial_reference(image, slice_mm, offset_mm)
    axial = sitk.Resample(source, reference, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    stack = Volume.from_sitk(axial, f"{image.source} (axial reslice)")
    on_grid = sitk.Resample(labels.to_sitk(), reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    codes = sitk.GetArrayViewFromImage(on_grid)
    present = {
        k: {
            VERTEBRA_CODES[int(c)]
            for c, count in zip(*np.unique(plane, return_counts=True))
            if int(c) in VERTEBRA_CODES and count >= MIN_SLICE_VOXELS
        }
        for k, plane in enumerate(codes)
    }
    return stack, levels_from_vertebra_map(labels, stack), present


def _neighbours(name: str) -> set:
    """The discs next to a body, or the bodies next to a disc."""
    if "-" in name:
        return set(name.split("-"))
    rank = LEVEL_ORDER.index(name) if name in LEVEL_ORDER else -9
    return {
        f"{LEVEL_ORDER[r]}-{name}" if r < rank else f"{name}-{LEVEL_ORDER[r]}"
        for r in (rank - 1, rank + 1)
        if 0 <= r < len(LEVEL_ORDER)
    } | {f"{name}-S1" if name == "L5" else "", "L5-S1" if name == "S1" else ""} - {""}


def score(
    found: AxialLevels, truth: LevelSlices, present: Present, slice_mm: float = 4.0, trust_all: bool = False
) -> Dict[str, int]:
    """Per labelled slice: correct, near (a neighbouring body/disc of the truth, or a level the label
    map has within BOUNDARY_MM: a tilted endplate, a boundary a slice off), wrong (any other name),
    or unverified (`trust_all`: score the names even where they were flagged unverified)."""
    name_of = {k: n for n, ks in found.slices.items() for k in ks}
    true_of = {k: n for n, ks in truth.items() for k in ks}
    reach = max(1, int(BOUNDARY_MM // slice_mm))

    def nearby(k: int) -> range:
        return range(k - reach, k + reach + 1)

    counts = dict(slices=0, correct=0, near=0, wrong=0, unnamed=0, unverified=0)
    for name, ks in truth.items():
        for k in ks:
            counts["slices"] += 1
            predicted: Optional[str] = name_of.get(k)
            if not (found.verified or trust_all):
                counts["unverified"] += 1
            elif predicted == name:
                counts["correct"] += 1
            elif predicted is None:
                counts["unnamed"] += 1
            elif predicted in _neighbours(name) or predicted in {true_of.get(j) for j in nearby(k)}:
                counts["near"] += 1
            elif set(predicted.split("-")) & set().union(*(present.get(j, set()) for j in nearby(k))):
                counts["near"] += 1
            else:
                counts["wrong"] += 1
    return counts


def load_case(folder: Path) -> Tuple[Volume, LevelSlices, Present]:
    """The axial stack of a case and the expert level of each slice (none for the real axial case)."""
    if (folder / "image.nii.gz").exists():
        return reslice_axial(read_volume(str(folder / "image.nii.gz")), read_volume(str(folder / "labels.nii.gz")))
    water = read_volume(str(folder / "image_water.nii.gz"))  # real axial stack without level labels
    fat = read_volume(str(folder / "image_fat.nii.gz"))
    return water.with_array(water.array.astype(np.float32) + fat.array.astype(np.float32)), {}, {}


COLUMNS = (
    "case",
    "stack",
    "slices",
    "correct",
    "near",
    "wrong",
    "unnamed",
    "unverified",
    "named_ok",
    "named_wrong",
    "S1",
    "conf",
    "verdict",
)


def evaluate(case: str, verbose: bool = False) -> dict:
    """One table row; named_ok / named_wrong score the names even where they were flagged unverified."""
    stack, truth, present = load_case(SHARED / case)
    found = levels_from_axial(stack)
    named = score(found, truth, present, stack.spacing[2], trust_all=True)
    row = dict(
        case=case.split("/")[-1],
        stack=stack.array.shape[0],
        **score(found, truth, present, stack.spacing[2]),
        named_ok=named["correct"] + named["near"],
        named_wrong=named["wrong"],
        S1="yes" if "S1" in found.slices else "no",
        conf=f"{found.confidence:.2f}",
        verdict="verified" if found.verified else "unverified",
    )
    if verbose:
        name_of = {k: n for n, ks in found.slices.items() for k in ks}
        true_of = {k: n for n, ks in truth.items() for k in ks}
        print(" ".join(f"{k}:{true_of.get(k, '-')}/{name_of.get(k, '-')}" for k in range(stack.array.shape[0])))
        print("   notes: " + " | ".join(found.notes))
    return row


def miscounted(found: AxialLevels, truth: LevelSlices) -> bool:
    """Is any true body given only other bodies' names (slices named as a disc or not at all aside)?
    A body that keeps some of its own name beside its neighbour's has a boundary error, not a miscount."""
    name_of = {k: n for n, ks in found.slices.items() for k in ks}
    for name, ks in truth.items():
        votes = [name_of[k] for k in ks if "-" not in name and "-" not in name_of.get(k, "-")]
        if votes and name not in votes:
            return True
    return False


def grid(cases) -> None:
    """Robustness: slice thickness 3-6 mm x where the slices fall (offset), per case: how often the
    levels come out verified, how many verified slices were wrong (boundary errors beyond
    BOUNDARY_MM), and in how many verified runs a body's slices were mostly given another level's
    name (a miscount: must stay 0)."""
    print(f"{'case':15s} {'runs':>4s} {'verified':>8s} {'verified_wrong_slices':>21s} {'verified_miscounts':>18s}")
    for case in cases:
        image, labels = (read_volume(str(SHARED / case / f)) for f in ("image.nii.gz", "labels.nii.gz"))
        runs = verified = wrong = miscounts = 0
        for slice_mm in (3.0, 4.0, 5.0, 6.0):
            for share in (0.0, 0.25, 0.5, 0.75):
                stack, truth, present = reslice_axial(image, labels, slice_mm, share * slice_mm)
                found = levels_from_axial(stack)
                runs, verified = runs + 1, verified + found.verified
                if found.verified:
                    wrong += score(found, truth, present, slice_mm)["wrong"]
                    miscounts += miscounted(found, truth)
        print(f"{case.split('/')[-1]:15s} {runs:4d} {verified:8d} {wrong:21d} {miscounts:18d}")


def main(argv) -> int:
    verbose = "-v" in argv
    cases = [a for a in argv if not a.startswith("-")] or list(SAGITTAL_CASES + AXIAL_CASES)
    if not SHARED.exists():
        print(f"real data not available: {SHARED} is absent")
        return 0
    if "--grid" in argv:
        grid([c for c in cases if c in SAGITTAL_CASES])
        return 0
    widths = [15] + [max(5, len(c)) for c in COLUMNS[1:]]
    print(" ".join(f"{c:>{w}s}" if i else f"{c:{w}s}" for i, (c, w) in enumerate(zip(COLUMNS, widths))))
    for case in cases:
        row = evaluate(case, verbose)
        print(
            " ".join(f"{str(row[c]):>{w}s}" if i else f"{row[c]:{w}s}" for i, (c, w) in enumerate(zip(COLUMNS, widths)))
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
