"""`spinequant batch`: measure every case of a folder (one sub-folder per case), resumably."""

from __future__ import annotations

import argparse

from ..batch import run_batch
from ..batch.case import CaseOptions
from .fat import FAT_METHODS


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("batch", help="process a folder of cases into one cohort table and QC report",
                                   description=__doc__)
    parser.add_argument("folder", help="folder with one sub-folder per case (NIfTI/NRRD files or DICOM series)")
    parser.add_argument("--out", required=True, help="output folder (cohort.csv/.xlsx, index.html, cases/)")
    parser.add_argument("--resume", action="store_true", help="skip cases already finished in --out")
    parser.add_argument("--retry-failed", action="store_true", help="with --resume, redo failed cases")
    parser.add_argument("--method", action="append", metavar="NAME",
                        help="fat infiltration method (repeatable; first is primary; default calibrated): "
                        + ", ".join(FAT_METHODS))
    parser.add_argument("--case-ids", choices=("folder", "generated"), default="folder",
                        help="case id: the folder name (default; replaced when it holds a patient identifier) "
                             "or a generated pseudonym")
    parser.add_argument("--keep-identifiers", action="store_true",
                        help="also export DICOM patient name/ID/birth date (off by default)")
    parser.add_argument("--lowest-body", default="L5",
                        help="axial-only level counting: name of the lowest body when no sacrum is seen (L5)")
    parser.add_argument("--no-report", action="store_true", help="skip the HTML report")
    return parser


def run(args: argparse.Namespace) -> int:
    options = CaseOptions(methods=args.method or ["calibrated"], keep_identifiers=args.keep_identifiers,
                          lowest_body=args.lowest_body)
    result = run_batch(args.folder, args.out, resume=args.resume, options=options, id_mode=args.case_ids,
                       retry_failed=args.retry_failed, report=not args.no_report)
    status = result.status
    failed = status[status["status"] == "failed"]
    print(f"batch: {len(result.processed)} processed, {len(result.skipped)} already finished, "
          f"{len(failed)} failed; cohort {result.cohort_csv}")
    for _, row in failed.iterrows():
        print(f"  failed {row['case']}: {row['reason']}")
    return 0
