"""`spinequant fat`: measure paraspinal muscles from an axial image and a muscle segmentation."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional

import numpy as np

from ..cohort import append_case, check_can_append
from ..fat.methods import FAT_METHODS
from ..flags import FlagRules
from ..imageio import Volume, read_volume
from ..labels import DEFAULT_LABELS, load_label_map
from ..levels import LevelSlices, resolve_levels
from ..measure import measure_muscles, per_slice_areas, primary_fat_voxels, structure_masks
from ..qc import muscle_qc_picture
from ..tables import write_measurements, write_table_atomic

INTENSITY_METHODS = [m for m in FAT_METHODS if m not in ("threshold", "dixon")]


def add_measurement_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by every command that measures muscles (fat, segment --measure, demo)."""
    parser.add_argument("--method", action="append", metavar="NAME",
                        help="fat infiltration method: " + ", ".join(FAT_METHODS)
                        + ", or 'all' (repeatable; the first is primary; default calibrated)")
    parser.add_argument("--threshold", type=float, help="intensity threshold for --method threshold")
    parser.add_argument("--levels", help="levels: 'L4:7-12,L5:15-19' (slice ranges), points.json, "
                        "or a vertebra label image (VerSe codes)")
    parser.add_argument("--case-id", help="case identifier (default: the image file name)")
    parser.add_argument("--cohort", help="append this case's rows to a cohort CSV/XLSX")
    parser.add_argument("--replace", action="store_true",
                        help="replace this case id in the cohort (a backup is kept)")
    parser.add_argument("--severe-fat", type=float, default=50.0, help="severe fat flag, %% (default 50)")
    parser.add_argument("--es-mf-fat", type=float, default=49.78, help="ES/MF fat flag, %% (default 49.78)")
    parser.add_argument("--psoas-csa", type=float, default=11.937,
                        help="psoas CSA flag, cm2, left+right at --psoas-level (default 11.937)")
    parser.add_argument("--psoas-level", default="L4", help="level of the psoas flag (default L4)")


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("fat", help="measure muscle CSA and fat infiltration from masks",
                                   description=__doc__)
    parser.add_argument("image", help="axial image (NIfTI/NRRD/MHA or DICOM series folder)")
    parser.add_argument("--segmentation", required=True, help="muscle label map on the image grid")
    parser.add_argument("--label-map", help='JSON mapping label values, e.g. {"1": "multifidus_left"}')
    parser.add_argument("--water", help="Dixon water image (with --fat)")
    parser.add_argument("--fat", help="Dixon fat image (with --water)")
    add_measurement_options(parser)
    parser.add_argument("--out", required=True, help="output folder")
    return parser


def chosen_methods(args: argparse.Namespace) -> List[str]:
    methods: List[str] = []
    for name in args.method or ["calibrated"]:
        methods.extend(INTENSITY_METHODS if name == "all" else [name])
    if args.threshold is not None and "threshold" not in methods:
        methods.append("threshold")
    return list(dict.fromkeys(methods))


def flag_rules(args: argparse.Namespace) -> FlagRules:
    return FlagRules(severe_fat_percent=args.severe_fat, es_mf_fat_percent=args.es_mf_fat,
                     psoas_csa_cm2=args.psoas_csa, psoas_level=args.psoas_level)


def write_fat_outputs(image: Volume, labels: Volume, args: argparse.Namespace, out_dir: str, case_id: str,
                      label_map=None, levels: Optional[LevelSlices] = None,
                      water: Optional[Volume] = None, fat: Optional[Volume] = None) -> Path:
    """Measure, then write measurements.csv (+ wide, per-slice areas, QC picture) and the cohort row."""
    methods = chosen_methods(args)
    if args.cohort:
        check_can_append(args.cohort, [case_id], args.replace)
    table = measure_muscles(image, labels, case_id=case_id, methods=methods, levels=levels, water=water,
                            fat=fat, label_map=label_map, threshold=args.threshold, rules=flag_rules(args))
    out = Path(out_dir)
    long_path = write_measurements(table.to_dict("records"), str(out))
    masks = structure_masks(labels, label_map)
    write_table_atomic(per_slice_areas(image, masks, case_id, levels), str(out / "per_slice_csa.csv"))
    fat_voxels = primary_fat_voxels(image, masks, methods[0], water, fat, args.threshold)
    project_labels = np.zeros(image.array.shape, np.uint8)
    value_of = {s: v for v, s in DEFAULT_LABELS.items()}
    for structure, mask in masks.items():
        project_labels[mask] = value_of.get(structure, 0)
    muscle_qc_picture(image, project_labels, fat_voxels, str(out / "qc.png"))
    if args.cohort:
        backup = append_case(args.cohort, table, replace=args.replace)
        if backup:
            print(f"cohort: replaced case {case_id}; earlier file kept as {backup}")
        print(f"cohort: {args.cohort} now holds case {case_id}")
    print(f"wrote {long_path} ({len(table)} rows), qc.png, per_slice_csa.csv")
    return long_path


def default_case_id(path: str) -> str:
    """The file name without its extension; generic names ('image*') take the case folder's name."""
    file = Path(path).resolve()
    name = file.name
    for suffix in (".nii.gz", ".nii", ".nrrd", ".seg.nrrd", ".mha", ".mhd"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    if name.lower().startswith(("image", "img")) and file.parent.name:
        return file.parent.name
    return name


def run(args: argparse.Namespace) -> int:
    image = read_volume(args.image, plane="axial")
    labels = read_volume(args.segmentation)
    water = read_volume(args.water, plane="axial") if args.water else None
    fat = read_volume(args.fat, plane="axial") if args.fat else None
    label_map = load_label_map(args.label_map)
    levels = resolve_levels(args.levels, image)
    write_fat_outputs(image, labels, args, args.out, args.case_id or default_case_id(args.image),
                      label_map, levels, water, fat)
    return 0
