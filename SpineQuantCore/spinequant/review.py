"""Case-by-case review of a folder of cases: discovery, status, resumable state, safe writes.

Pure Python (no Slicer): the Slicer panels and scripts share it. A review keeps everything it
writes in one output folder (default ``<cases folder>/SpineQuantReview``):

- ``review_<module>.json``: the state (case list, status per case, where the user is, the cohort
  file chosen once), written atomically so a crash never leaves half a file;
- ``<case id>/``: the accepted segmentation, the automatic one it started from, the landmarks;
- ``review_log.csv``: how much the user changed the automatic result (Dice, CSA change, landmark
  shift), one row per case, structure and metric.

Nothing is overwritten without a time-stamped backup beside it.
"""

# Optional[...] rather than X | None: the code base targets Python 3.9 (Slicer 5.6/5.8).
# ruff: noqa: UP045
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Tuple

import numpy as np
import pandas as pd

from . import __version__
from .cohort import append_case, check_can_append
from .errors import CohortError, InputError
from .safefiles import backup_existing, split_suffix  # noqa: F401 (re-exported)
from .tables import write_table_atomic

NOT_STARTED = "not started"
MEASURED = "measured"
REVIEWED = "reviewed"
STATUSES = (NOT_STARTED, MEASURED, REVIEWED)

OUTPUT_FOLDER_NAME = "SpineQuantReview"
STATE_VERSION = 1
IMAGE_SUFFIXES = (".seg.nrrd", ".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")
DICOM_SUFFIXES = (".dcm", ".ima")
LANDMARK_SHIFT_TOLERANCE_MM = 0.5  # moves below this are clicks, not corrections
REVIEW_LOG_COLUMNS = ["case_id", "module", "structure", "side", "level", "metric", "value", "unit",
                      "hand_corrected", "accepted_at", "software_version"]


class Cancelled(Exception):
    """The user cancelled a long operation (a progress callback returned False)."""


ProgressCallback = Callable[[float, str], Optional[bool]]


def checked_progress(callback: Optional[ProgressCallback]) -> Callable[[float, str], None]:
    """Wrap a GUI progress callback: it gets (fraction 0..1, message); returning False cancels."""

    def report(fraction: float, message: str = "") -> None:
        if callback is None:
            return
        if callback(float(min(max(fraction, 0.0), 1.0)), message) is False:
            raise Cancelled(message or "cancelled")

    return report


# --- safe files ---------------------------------------------------------------------------------------

def write_json_atomic(path, data) -> None:
    """Write JSON to a temporary sibling, then rename it over the target (never half a file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.part{os.getpid()}")
    try:
        temporary.write_text(json.dumps(data, indent=2, sort_keys=False), encoding="utf-8")
        os.replace(temporary, target)
    finally:
        if temporary.exists():
            temporary.unlink()


# --- finding cases ------------------------------------------------------------------------------------

@dataclass
class CaseInput:
    """One case of a review folder: its id and its files by role.

    Roles: image, water, fat (Dixon), labels (an existing label map), segmentation (.seg.nrrd),
    landmarks (.mrk.json or landmarks*.json), vertebrae (a vertebra label map).
    A DICOM series is given by its folder as the image.
    """

    case_id: str
    path: str
    files: Dict[str, str] = field(default_factory=dict)
    ignored: List[str] = field(default_factory=list)

    @property
    def image_path(self) -> Optional[str]:
        return self.files.get("image")


def _image_suffix(name: str) -> str:
    lower = name.lower()
    return next((s for s in IMAGE_SUFFIXES if lower.endswith(s)), "")


def _is_dicom_file(path: Path) -> bool:
    if path.suffix.lower() in DICOM_SUFFIXES:
        return True
    if path.suffix == "" and path.is_file():
        try:
            with open(path, "rb") as handle:
                handle.seek(128)
                return handle.read(4) == b"DICM"
        except OSError:
            return False
    return False


def _is_dicom_folder(folder: Path) -> bool:
    return any(_is_dicom_file(p) for p in sorted(folder.iterdir())[:50] if p.is_file())


def classify_file(path: Path) -> Optional[str]:
    """The role of a file in a case folder from its name, or None when it is not an input."""
    name = path.name.lower()
    if name.startswith(".") or ".backup-" in name:
        return None
    if name.endswith(".mrk.json") or (name.endswith(".json") and "landmark" in name):
        return "landmarks"
    suffix = _image_suffix(name)
    if not suffix:
        return None
    if suffix == ".seg.nrrd":
        return "segmentation"
    stem = name[: -len(suffix)]
    if "vertebra" in stem or stem.startswith("vert"):
        return "vertebrae"
    if "label" in stem or "mask" in stem or stem.endswith("seg") or "segmentation" in stem:
        return "labels"
    if "water" in stem:
        return "water"
    if "fat" in stem:
        return "fat"
    return "image"


def _case_from_folder(folder: Path) -> CaseInput:
    case = CaseInput(folder.name, str(folder))
    if _is_dicom_folder(folder):
        case.files["image"] = str(folder)
        return case
    for path in sorted(folder.iterdir()):
        if path.is_dir():
            if "image" not in case.files and not path.name.startswith(".") and _is_dicom_folder(path):
                case.files["image"] = str(path)
            continue
        role = classify_file(path)
        if role is None:
            continue
        if role in case.files:
            # Two candidate images: the one called image* wins, the other is reported.
            keep, drop = case.files[role], str(path)
            if role == "image" and path.name.lower().startswith("image"):
                keep, drop = drop, keep
            case.files[role] = keep
            case.ignored.append(drop)
        else:
            case.files[role] = str(path)
    return case


def find_cases(folder) -> Tuple[List[CaseInput], List[str]]:
    """Cases of a review folder: one per sub-folder (image files or a DICOM series), or one per image
    file lying directly in the folder. Returns (cases sorted by id, notes on what was skipped)."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(str(folder), "is not a folder")
    cases: List[CaseInput] = []
    notes: List[str] = []
    if _is_dicom_folder(root):
        case = CaseInput(root.name, str(root), {"image": str(root)})
        return [case], notes
    for path in sorted(root.iterdir()):
        if path.name.startswith(".") or path.name == OUTPUT_FOLDER_NAME:
            continue
        if path.is_dir():
            case = _case_from_folder(path)
            if not ({"image", "water"} & set(case.files)):
                notes.append(f"{path.name}: no image found (NIfTI, NRRD or a DICOM series); skipped")
                continue
            cases.append(case)
        elif classify_file(path) == "image":
            stem, _ = split_suffix(path)
            cases.append(CaseInput(stem, str(path), {"image": str(path)}))
    ids = [c.case_id for c in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise InputError(str(folder), f"case ids {', '.join(duplicates)} occur twice (a folder and a file "
                                      "of the same name); rename one")
    return sorted(cases, key=lambda c: c.case_id), notes


# --- review state ---------------------------------------------------------------------------------------

@dataclass
class CaseRecord:
    case_id: str
    status: str = NOT_STARTED
    measured_at: str = ""
    reviewed_at: str = ""
    hand_corrected: Optional[bool] = None
    accepting: bool = False  # set while an accept is being written (crash recovery)
    outputs: Dict[str, str] = field(default_factory=dict)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


def _is_unset(path) -> bool:
    return path is None or str(path).strip() in ("", ".")


class ReviewSession:
    """A review of one folder by one module; every change of status is saved at once."""

    def __init__(self, cases_folder: Path, output_folder: Path, module: str, cases: List[CaseInput],
                 records: Dict[str, CaseRecord], current: int = 0, cohort_path: str = "",
                 notes: Optional[List[str]] = None, created: str = ""):
        self.cases_folder = cases_folder
        self.output_folder = output_folder
        self.module = module
        self.cases = cases
        self.records = records
        self.current = current
        self.cohort_path = cohort_path
        self.notes = notes or []
        self.created = created or _now()

    # opening and saving

    @staticmethod
    def state_path_for(output_folder, module: str) -> Path:
        return Path(output_folder) / f"review_{module}.json"

    @classmethod
    def open(cls, cases_folder, module: str, output_folder=None, cohort_path=None) -> ReviewSession:
        """Start or resume the review of a folder.

        The cohort file is chosen once: a resumed review keeps its own; asking for another one is
        refused so rows never spread over two files by mistake.
        """
        folder = Path(cases_folder).resolve()
        cases, notes = find_cases(folder)
        if not cases:
            raise InputError(str(folder), "holds no case (expected one sub-folder or image file per case)")
        output = Path(output_folder).resolve() if not _is_unset(output_folder) else folder / OUTPUT_FOLDER_NAME
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(str(output), f"cannot create the review output folder ({exc}); choose another "
                                          "output folder") from None
        if not os.access(output, os.W_OK):
            raise InputError(str(output), "is not writable; choose another output folder")
        state_path = cls.state_path_for(output, module)
        records: Dict[str, CaseRecord] = {c.case_id: CaseRecord(c.case_id) for c in cases}
        current, stored_cohort, created = 0, "", ""
        if state_path.exists():
            try:
                state = json.loads(state_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputError(str(state_path), f"review state is unreadable ({exc}); move it away to "
                                                  "start the review again") from None
            for item in state.get("cases", []):
                record = CaseRecord(**{k: v for k, v in item.items() if k in CaseRecord.__dataclass_fields__})
                if record.case_id in records:
                    records[record.case_id] = record
                else:
                    notes.append(f"{record.case_id}: reviewed before but no longer in the folder")
            stored_cohort = state.get("cohort_path", "")
            created = state.get("created", "")
            ids = [c.case_id for c in cases]
            current_id = state.get("current_case", "")
            current = ids.index(current_id) if current_id in ids else 0
        chosen = "" if _is_unset(cohort_path) else str(Path(cohort_path).resolve())
        if stored_cohort and chosen and chosen != stored_cohort:
            raise CohortError(f"this review writes to the cohort file {stored_cohort}; it was chosen when the "
                              f"review started and cannot change to {chosen}")
        session = cls(folder, output, module, cases, records, current, stored_cohort or chosen, notes, created)
        session.current = session.resume_index()
        session.save()
        return session

    @property
    def state_path(self) -> Path:
        return self.state_path_for(self.output_folder, self.module)

    def to_json(self) -> dict:
        return {
            "version": STATE_VERSION,
            "module": self.module,
            "software_version": __version__,
            "cases_folder": str(self.cases_folder),
            "output_folder": str(self.output_folder),
            "cohort_path": self.cohort_path,
            "created": self.created,
            "saved": _now(),
            "current_case": self.current_case.case_id,
            "cases": [asdict(self.records[c.case_id]) for c in self.cases],
        }

    def save(self) -> None:
        write_json_atomic(self.state_path, self.to_json())

    # navigation and status

    @property
    def current_case(self) -> CaseInput:
        return self.cases[self.current]

    def index_of(self, case_id: str) -> int:
        for index, case in enumerate(self.cases):
            if case.case_id == case_id:
                return index
        raise KeyError(case_id)

    def status(self, case_id: str) -> str:
        return self.records[case_id].status

    def statuses(self) -> List[Tuple[str, str]]:
        return [(c.case_id, self.records[c.case_id].status) for c in self.cases]

    def resume_index(self) -> int:
        """Where the user stopped: the saved case unless it is done, else the first case not reviewed."""
        if 0 <= self.current < len(self.cases) and self.status(self.cases[self.current].case_id) != REVIEWED:
            return self.current
        for index, case in enumerate(self.cases):
            if self.status(case.case_id) != REVIEWED:
                return index
        return len(self.cases) - 1

    def go_to(self, index: int) -> CaseInput:
        self.current = int(min(max(index, 0), len(self.cases) - 1))
        self.save()
        return self.current_case

    def next(self) -> CaseInput:
        return self.go_to(self.current + 1)

    def previous(self) -> CaseInput:
        return self.go_to(self.current - 1)

    def next_unreviewed(self, after: int) -> int:
        for index in list(range(after + 1, len(self.cases))) + list(range(0, after + 1)):
            if self.status(self.cases[index].case_id) != REVIEWED:
                return index
        return after

    @property
    def finished(self) -> bool:
        return all(r.status == REVIEWED for r in self.records.values())

    def counts(self) -> Dict[str, int]:
        return {s: sum(r.status == s for r in self.records.values()) for s in STATUSES}

    def mark_measured(self, case_id: str) -> None:
        record = self.records[case_id]
        if record.status != REVIEWED:
            record.status = MEASURED
        record.measured_at = _now()
        self.save()

    # outputs

    def case_folder(self, case_id: str) -> Path:
        return self.output_folder / case_id

    def output_path(self, case_id: str, kind: str) -> Path:
        """Where a case's output of a kind lives: segmentation, automatic_segmentation, landmarks,
        automatic_landmarks, rois, measurements."""
        names = {
            "segmentation": f"{case_id}.seg.nrrd",
            "automatic_segmentation": f"{case_id}_automatic.seg.nrrd",
            "rois": f"{case_id}_rois.seg.nrrd",
            "landmarks": f"{case_id}.mrk.json",
            "automatic_landmarks": f"{case_id}_automatic.mrk.json",
            "measurements": f"{case_id}_measurements.csv",
        }
        if kind not in names:
            raise KeyError(kind)
        return self.case_folder(case_id) / names[kind]

    def prepare_output(self, case_id: str, kind: str) -> Path:
        """Path for a new output file; an existing one is backed up first."""
        path = self.output_path(case_id, kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        backup_existing(path)
        return path

    @property
    def review_log_path(self) -> Path:
        return self.output_folder / "review_log.csv"

    # accepting

    def check_can_accept(self, case_id: str, replace: bool = False) -> None:
        """Refuse early (before any file is written) when the cohort already holds this case."""
        if not self.cohort_path:
            raise CohortError("choose the cohort file (CSV or XLSX) the accepted cases are added to")
        record = self.records[case_id]
        check_can_append(self.cohort_path, [case_id], replace or self._may_replace(record))

    @staticmethod
    def _may_replace(record: CaseRecord) -> bool:
        # Re-accepting a case this review accepted (or was accepting when it stopped) replaces its rows;
        # append_case then keeps a backup of the earlier cohort file.
        return record.status == REVIEWED or record.accepting

    def accept(self, case_id: str, cohort_rows: pd.DataFrame, review_rows: Iterable[Mapping] = (),
               hand_corrected: Optional[bool] = None, outputs: Optional[Mapping[str, str]] = None,
               replace: bool = False) -> int:
        """Add the case's rows to the cohort, log the review, mark it reviewed; returns the next index.

        Files of the case (segmentation, landmarks) are written by the caller before this call.
        """
        self.check_can_accept(case_id, replace)
        record = self.records[case_id]
        may_replace = replace or self._may_replace(record)
        record.accepting = True
        self.save()
        rows = cohort_rows.copy()
        rows["case_id"] = case_id
        append_case(self.cohort_path, rows, replace=may_replace)
        accepted_at = _now()
        write_review_log(self.review_log_path, case_id, self.module, review_rows, hand_corrected, accepted_at)
        record.status = REVIEWED
        record.reviewed_at = accepted_at
        record.hand_corrected = hand_corrected
        record.accepting = False
        record.outputs.update({k: str(v) for k, v in (outputs or {}).items()})
        self.current = self.next_unreviewed(self.index_of(case_id))
        self.save()
        return self.current


def write_review_log(path, case_id: str, module: str, rows: Iterable[Mapping], hand_corrected: Optional[bool],
                     accepted_at: str) -> None:
    """Replace the case's rows of the review log (after a backup when it had some) and write atomically."""
    target = Path(path)
    new = pd.DataFrame(list(rows))
    if new.empty:
        new = pd.DataFrame([{"structure": "", "metric": "accepted", "value": 1.0, "unit": ""}])
    new["case_id"] = case_id
    new["module"] = module
    new["hand_corrected"] = "" if hand_corrected is None else ("yes" if hand_corrected else "no")
    new["accepted_at"] = accepted_at
    new["software_version"] = __version__
    for column in REVIEW_LOG_COLUMNS:
        if column not in new.columns:
            new[column] = ""
    if target.exists():
        existing = pd.read_csv(target, dtype=str, keep_default_na=False)
        earlier = (existing["case_id"] == case_id) & (existing["module"] == module)
        if earlier.any():
            backup_existing(target)
            existing = existing[~earlier]
        new = pd.concat([existing, new.astype({"value": float})], ignore_index=True)
    write_table_atomic(new[REVIEW_LOG_COLUMNS + [c for c in new.columns if c not in REVIEW_LOG_COLUMNS]],
                       str(target))


def read_review_log(path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype={"case_id": str, "level": str, "side": str}, keep_default_na=False,
                        na_values=[""])
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    return frame


# --- how much the user changed the automatic result ---------------------------------------------------

def dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * float((a & b).sum()) / total


def mean_csa_cm2(mask: np.ndarray, pixel_area_mm2: float) -> float:
    """Mean cross-sectional area over the slices (axis 0) the mask is on, as the 'csa' metric."""
    areas = np.asarray(mask, bool).sum(axis=(1, 2))
    present = areas[areas > 0]
    return float(present.mean()) * pixel_area_mm2 / 100.0 if present.size else 0.0


def mask_changes(automatic: Mapping, accepted: Mapping, pixel_area_mm2: float) -> List[dict]:
    """Rows (structure, side, metric, value, unit) comparing automatic and accepted masks per structure.

    Keys are objects with .name and .side (spinequant.labels.Structure). Metrics: dice, csa_automatic,
    csa_accepted, csa_change (%), voxels_added, voxels_removed.
    """
    rows = []
    for key in sorted(set(automatic) | set(accepted), key=lambda s: (s.name, s.side)):
        shape = next(iter(automatic.values() if key in automatic else accepted.values())).shape
        auto = np.asarray(automatic.get(key, np.zeros(shape)), bool)
        final = np.asarray(accepted.get(key, np.zeros(shape)), bool)
        csa_auto = mean_csa_cm2(auto, pixel_area_mm2)
        csa_final = mean_csa_cm2(final, pixel_area_mm2)
        change = 100.0 * (csa_final - csa_auto) / csa_auto if csa_auto > 0 else float("nan")
        common = {"structure": key.name, "side": key.side, "level": "all"}
        rows += [
            dict(common, metric="dice", value=dice(auto, final), unit=""),
            dict(common, metric="csa_automatic", value=csa_auto, unit="cm2"),
            dict(common, metric="csa_accepted", value=csa_final, unit="cm2"),
            dict(common, metric="csa_change", value=change, unit="%"),
            dict(common, metric="voxels_added", value=float((final & ~auto).sum()), unit="count"),
            dict(common, metric="voxels_removed", value=float((auto & ~final).sum()), unit="count"),
        ]
    return rows


def landmark_changes(automatic: Mapping[str, Iterable[float]], accepted: Mapping[str, Iterable[float]],
                     excluded: Optional[Mapping[str, str]] = None) -> List[dict]:
    """Rows per landmark: shift_mm between automatic and accepted position (NaN when added or removed),
    plus one 'excluded' row per level the user excluded (the reason in the unit column's place)."""
    rows = []
    for name in sorted(set(automatic) | set(accepted)):
        if name in automatic and name in accepted:
            shift = float(np.linalg.norm(np.asarray(accepted[name], float) - np.asarray(automatic[name], float)))
            rows.append({"structure": "landmark", "side": "", "level": name, "metric": "shift_mm",
                         "value": shift, "unit": "mm"})
        else:
            what = "added" if name in accepted else "removed"
            rows.append({"structure": "landmark", "side": "", "level": name, "metric": f"landmark_{what}",
                         "value": 1.0, "unit": "count"})
    for name, reason in sorted((excluded or {}).items()):
        rows.append({"structure": "vertebral_body", "side": "", "level": name, "metric": "excluded",
                     "value": 1.0, "unit": reason})
    return rows


def was_corrected(rows: Iterable[Mapping]) -> bool:
    """True when the review rows show a hand correction (any Dice below 1, a moved or added landmark)."""
    for row in rows:
        metric, value = row.get("metric"), row.get("value")
        if metric == "dice" and value < 1.0 - 1e-9:
            return True
        if metric == "shift_mm" and value > LANDMARK_SHIFT_TOLERANCE_MM:
            return True
        if metric in ("landmark_added", "landmark_removed"):
            return True
    return False


def annotate_cohort_rows(frame: pd.DataFrame, review_rows: Iterable[Mapping],
                         hand_corrected: Optional[bool]) -> pd.DataFrame:
    """Cohort rows with review columns: hand_corrected ("yes", "no", or "unknown" when there was no
    automatic result to compare with) on every row; review_dice and review_csa_change (automatic vs
    accepted mask) on the rows of each measured muscle side."""
    result = frame.copy()
    result["hand_corrected"] = "unknown" if hand_corrected is None else ("yes" if hand_corrected else "no")
    per_structure: Dict[Tuple[str, str], Dict[str, float]] = {}
    for row in review_rows:
        if row.get("metric") in ("dice", "csa_change"):
            per_structure.setdefault((row["structure"], row["side"]), {})[row["metric"]] = row["value"]
    if per_structure:
        keys = list(zip(result["structure"].astype(str), result["side"].astype(str)))
        result["review_dice"] = [per_structure.get(k, {}).get("dice", np.nan) for k in keys]
        result["review_csa_change"] = [per_structure.get(k, {}).get("csa_change", np.nan) for k in keys]
    return result
