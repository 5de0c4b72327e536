"""``spinequant segment``: label paraspinal muscles on an axial lumbar MRI (or import a label map)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError
from ..imageio import read_volume, write_volume
from ..segmentation import BACKENDS, segment


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
    parser.add_argument("--measure", action="store_true", help="also measure the muscles (needs --out-dir)")
    parser.add_argument("--out-dir", help="folder for the measurement tables")
    parser.add_argument("--case-id", help="case identifier for the measurement tables")
    return parser


def run(args) -> int:
    if args.measure and not args.out_dir:
        raise InputError("--measure", "needs --out-dir DIR for the measurement tables")
    image = read_volume(args.image, plane="axial")
    water = read_volume(args.water, plane="axial") if args.water else None
    fat = read_volume(args.fat, plane="axial") if args.fat else None
    foreign = read_volume(args.labels) if args.labels else None
    result = segment(image, water, fat, backend=args.backend, foreign_labels=foreign, label_map_path=args.label_map)
    measurements = _measure(args, image, result, water, fat) if args.measure else None
    # write only when everything above succeeded: nothing half-way on bad input
    write_volume(result.labels, args.out)
    quality_path = _quality_path(args.out)
    result.quality.to_csv(quality_path, index=False)
    print(f"labels: {args.out}\nquality: {quality_path}")
    if measurements is not None:
        print(f"measurements: {_write_measurements(args.out_dir, measurements)}")
    return 0


def _quality_path(out: str) -> Path:
    target = Path(out)
    name = target.name
    for suffix in (".nii.gz", ".nii", ".nrrd", ".mha"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return target.with_name(f"{name}_quality.csv")


def _measure(args, image, result, water, fat):
    try:
        from ..measure import measure_muscles
    except ImportError:
        raise InputError("--measure", "the measurement module (spinequant.measure) is not available yet") from None
    case_id = args.case_id or Path(args.image).name.split(".")[0]
    table = measure_muscles(image, result.labels, case_id=case_id, water=water, fat=fat)
    return case_id, table


def _write_measurements(out_dir: str, measured) -> Path:
    case_id, table = measured
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{case_id}_measurements.csv"
    partial = folder / f".{path.name}.part"
    table.to_csv(partial, index=False)
    partial.replace(path)  # atomic: never a half-written table
    return path
