"""`spinequant vbq`: the VBQ score of a sagittal T1-weighted lumbar MRI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..imageio import read_volume, write_volume
from ..tables import write_measurements
from ..vbq import measure_vbq
from ..vbq.cutoffs import PRESETS
from ..vbq.landmarks import read_landmarks, write_landmarks
from ..vbq.qc import legend, write_qc_png
from ..vbq.report import result_rows


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "vbq", help="vertebral bone quality score (Ehresman 2020) from sagittal T1 MRI",
        description="VBQ = median L1-L4 marrow signal / CSF signal at L3 on a sagittal non-contrast T1 MRI.")
    parser.add_argument("image", help="sagittal T1-weighted lumbar volume (NIfTI/NRRD or DICOM folder)")
    parser.add_argument("--landmarks", help="JSON {\"L1\": [x,y,z], ..., \"CSF\": [...]} (LPS, or RAS with "
                                            "\"coordinate_system\": \"RAS\") to use instead of detection")
    parser.add_argument("--exclude", default="", help="levels to leave out, e.g. L2,L4 (fractures)")
    parser.add_argument("--cutoff", default="3.0",
                        help=f"VBQ cut-off: a number or a preset ({', '.join(PRESETS)}); default 3.0")
    parser.add_argument("--parasagittal", type=int, default=0,
                        help="also average N slices either side of the mid-sagittal slice")
    parser.add_argument("--case-id", help="case identifier (default: image file name)")
    parser.add_argument("--out", required=True, help="output folder")
    return parser


def _case_id(image: str) -> str:
    name = Path(image).name
    for suffix in (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def run(args) -> int:
    volume = read_volume(args.image, plane="sagittal")
    landmarks = read_landmarks(args.landmarks) if args.landmarks else None
    exclude = [level for level in args.exclude.split(",") if level.strip()]
    result = measure_vbq(volume, landmarks, exclude=exclude, cutoff=args.cutoff,
                         parasagittal_slices=args.parasagittal)
    case_id = args.case_id or _case_id(args.image)
    out = Path(args.out)
    write_measurements(result_rows(result, case_id), str(out))
    write_volume(volume.with_array(result.roi_labels, "rois"), str(out / "rois.nii.gz"))
    write_landmarks(result.landmarks_lps, str(out / "landmarks.json"),
                    {"legend": legend(), "notes": result.notes + result.warnings})
    write_qc_png(result, str(out / "qc_midsagittal.png"))
    for warning in result.warnings:
        print(f"spinequant vbq: warning: {warning}", file=sys.stderr)
    print(json.dumps({"case_id": case_id, "vbq": round(result.vbq, 3), "category": result.category,
                      "levels_used": result.levels_used, "csf_level": result.csf_level}))
    return 0
