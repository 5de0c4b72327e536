"""``spinequant segment``: label paraspinal muscles on an axial lumbar MRI (or import a label map).

With ``--measure --out-dir DIR`` the new label map is measured exactly as ``spinequant fat`` does
(same options, same DIR/measurements.csv, per_slice_csa.csv and qc.png).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..cohort import check_can_append
from ..errors import InputError
from ..imageio import read_volume, write_volume
from ..levels import resolve_levels
from ..safefiles import backup_existing
from ..segmentation import BACKENDS, segment
from ..tables import write_table_atomic
from .fat import add_measurement_options, default_case_id, write_fat_outputs


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "segment",
        help="segment multifidus, erector spinae and psoas on an axial lumbar MRI",
        description="Write a label map (1 MF L, 2 MF R, 3 ES L, 4 ES R, 5 PS L, 6 PS R, 7 QL L, 8 QL R) "
        "on the image's grid, and a per-slice quality table beside it.",
    )
    parser.add_argument("image", help="axial image (NIfTI/NRRD or a DICOM series folder); with Dixon: W+F")
    parser.add_argument("--water", help="Dixon water image on the same grid")
    parser.add_argument("--fat", help="Dixon fat image on the same grid")
    parser.add_argument("--backend", default="builtin", choices=BACKENDS)
    parser.add_argument("--labels", help="existing label map to import (importer backends)")
    parser.add_argument("--label-map", help="JSON {value: name} for --backend json")
    parser.add_argument("--out", required=True, help="output label map, e.g. seg.nii.gz")
    parser.add_argument(
        "--measure", action="store_true", help="also measure the muscles like `spinequant fat` (needs --out-dir)"
    )
    parser.add_argument("--out-dir", help="folder for measurements.csv, per_slice_csa.csv and qc.png")
    add_measurement_options(parser)
    return parser


def run(args) -> int:
    if args.measure and not args.out_dir:
        raise InputError("--measure", "needs --out-dir DIR for the measurement tables")
    image = read_volume(args.image, plane="axial")
    water = read_volume(args.water, plane="axial") if args.water else None
    fat = read_volume(args.fat, plane="axial") if args.fat else None
    foreign = read_volume(args.labels) if args.labels else None
    case_id = args.case_id or default_case_id(args.image)
    levels = None
    if args.measure:  # bad --levels or a cohort that cannot take this case: fail before any work
        levels = resolve_levels(args.levels, image)
        if args.cohort:
            check_can_append(args.cohort, [case_id], args.replace)
    result = segment(image, water, fat, backend=args.backend, foreign_labels=foreign, label_map_path=args.label_map)
    quality_path = _quality_path(args.out)
    # an earlier label map may hold a reviewer's corrections: it is kept, never overwritten
    for earlier in (args.out, quality_path):
        backup = backup_existing(earlier)
        if backup:
            print(f"kept the earlier {earlier} as {backup}")
    write_volume(result.labels, args.out)
    write_table_atomic(result.quality, str(quality_path))
    print(f"labels: {args.out}\nquality: {quality_path}")
    if args.measure:
        # the label map now holds project values, so no --label-map applies to the measurement
        Path(args.out_dir).mkdir(parents=True, exist_ok=True)
        path = write_fat_outputs(image, result.labels, args, args.out_dir, case_id, None, levels, water, fat)
        print(f"measurements: {path}")
    return 0


def _quality_path(out: str) -> Path:
    target = Path(out)
    name = target.name
    for suffix in (".nii.gz", ".nii", ".nrrd", ".mha"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return target.with_name(f"{name}_quality.csv")
