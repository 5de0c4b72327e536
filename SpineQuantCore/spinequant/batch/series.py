"""Find the image series of one case and tell them apart from their headers.

Plane: from the direction cosines (slice normal). Weighting: from DICOM repetition/echo time
(0018|0080 TR, 0018|0081 TE) with the textbook spin-echo rule (T1: short TR < 1000 ms and short TE
< 30 ms; T2: long TR > 2000 ms and long TE > 60 ms; Westbrook, MRI in Practice), else file-name hints.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import SimpleITK as sitk

from ..errors import InputError
from ..imageio import MIN_PLANE_COSINE, PLANE_AXES, Volume, read_volume

IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd")
NOT_IMAGES = re.compile(r"label|seg|mask|roi", re.IGNORECASE)  # derived maps, not acquisitions
HINTS = (("water", re.compile(r"water|_w\b|wat", re.I)), ("fat", re.compile(r"(?<!in)fat|_f\b", re.I)),
         ("stir", re.compile(r"stir|tirm", re.I)), ("T1", re.compile(r"t1", re.I)),
         ("T2", re.compile(r"t2", re.I)))
T1_MAX_TR, T1_MAX_TE = 1000.0, 30.0
T2_MIN_TR, T2_MIN_TE = 2000.0, 60.0


@dataclass
class Series:
    """One acquisition: where it is, its plane and weighting, and its header."""

    path: str  # file, or DICOM folder (with `files`)
    name: str  # relative to the case folder (never an absolute path: it goes into reports)
    plane: str
    weighting: str  # T1, T2, stir, water, fat or unknown
    slices: int
    metadata: Dict[str, str] = field(default_factory=dict)
    files: List[str] = field(default_factory=list)

    def read(self) -> Volume:
        if not self.files:
            return read_volume(self.path)
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(self.files)
        try:
            image = reader.Execute()
        except RuntimeError as exc:
            raise InputError(self.name, f"cannot read the DICOM series ({str(exc).strip()[-160:]})") from None
        return Volume.from_sitk(image, source=self.name)


def plane_of(direction: np.ndarray) -> str:
    normal = np.abs(np.cross(direction[:, 0], direction[:, 1]))
    axis = int(np.argmax(normal))
    return PLANE_AXES[axis] if normal[axis] >= MIN_PLANE_COSINE else "oblique"


def _number(metadata: Dict[str, str], tag: str) -> Optional[float]:
    try:
        return float(str(metadata.get(tag, "")).split("\\")[0])
    except ValueError:
        return None


def weighting_of(metadata: Dict[str, str], name: str) -> str:
    tr, te = _number(metadata, "0018|0080"), _number(metadata, "0018|0081")
    text = f"{name} {metadata.get('0008|103e', '')}"
    for label, pattern in HINTS[:3]:  # Dixon and STIR names beat timing (they are not plain T1/T2)
        if pattern.search(text):
            return label
    if tr is not None and te is not None:
        if tr < T1_MAX_TR and te < T1_MAX_TE:
            return "T1"
        if tr > T2_MIN_TR and te > T2_MIN_TE:
            return "T2"
    for label, pattern in HINTS[3:]:
        if pattern.search(text):
            return label
    return "unknown"


def _file_series(path: Path, case_dir: Path) -> Series:
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        raise InputError(path.relative_to(case_dir).as_posix(), "cannot read the image header") from None
    dimension = reader.GetDimension()
    direction = np.array(reader.GetDirection()).reshape(dimension, dimension)[:3, :3]
    metadata = {k: reader.GetMetaData(k) for k in reader.GetMetaDataKeys()}
    name = path.relative_to(case_dir).as_posix()
    return Series(str(path), name, plane_of(direction), weighting_of(metadata, name),
                  int(reader.GetSize()[2]) if dimension >= 3 else 1, metadata)


def _dicom_series(folder: Path, case_dir: Path) -> List[Series]:
    found = []
    for series_id in sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder)):
        files = list(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), series_id))
        reader = sitk.ImageFileReader()
        reader.SetFileName(files[0])
        reader.LoadPrivateTagsOn()
        reader.ReadImageInformation()
        metadata = {k: reader.GetMetaData(k) for k in reader.GetMetaDataKeys()}
        cosines = [float(v) for v in metadata.get("0020|0037", "1\\0\\0\\0\\1\\0").split("\\")]
        direction = np.column_stack([cosines[:3], cosines[3:6], np.cross(cosines[:3], cosines[3:6])])
        description = metadata.get("0008|103e", "").strip() or f"series{len(found) + 1}"
        name = f"{folder.relative_to(case_dir).as_posix()}/{description}"
        found.append(Series(str(folder), name, plane_of(direction), weighting_of(metadata, name), len(files),
                            metadata, files))
    return found


def find_series(case_dir: str) -> List[Series]:
    """All image series under a case folder, in a stable order; unreadable files raise InputError."""
    root = Path(case_dir)
    series: List[Series] = []
    for folder, dirs, names in sorted(os.walk(root)):
        dirs.sort()
        folder_path = Path(folder)
        images = [n for n in sorted(names) if n.lower().endswith(IMAGE_SUFFIXES) and not NOT_IMAGES.search(n)]
        series += [_file_series(folder_path / n, root) for n in images]
        others = [n for n in names if not n.lower().endswith(IMAGE_SUFFIXES + (".json", ".csv", ".txt"))]
        if others:
            series += _dicom_series(folder_path, root)
    return series


@dataclass
class Selection:
    axial: Optional[Series] = None
    water: Optional[Series] = None
    fat: Optional[Series] = None
    sagittal_t1: Optional[Series] = None
    sagittal_any: Optional[Series] = None
    notes: List[str] = field(default_factory=list)

    @property
    def muscle_input(self) -> str:
        """What the muscles are measured on: the axial T1/T2 series, else Dixon water + fat ('' for none)."""
        if self.axial is not None:
            return self.axial.name
        if self.water is not None and self.fat is not None:
            return f"{self.water.name} + {self.fat.name}"
        return ""


AXIAL_PREFERENCE = ("T2", "T1", "unknown", "stir")  # fat-bright fast spin echo first


def select_series(series: List[Series]) -> Selection:
    chosen = Selection()
    axial = [s for s in series if s.plane == "axial"]
    by_weighting = {w: [s for s in axial if s.weighting == w] for w in AXIAL_PREFERENCE + ("water", "fat")}
    for weighting in AXIAL_PREFERENCE:
        if by_weighting[weighting]:
            chosen.axial = max(by_weighting[weighting], key=lambda s: s.slices)
            break
    if by_weighting["water"] and by_weighting["fat"]:
        chosen.water, chosen.fat = by_weighting["water"][0], by_weighting["fat"][0]
    sagittal = [s for s in series if s.plane == "sagittal"]
    t1 = [s for s in sagittal if s.weighting == "T1"]
    unknown = [s for s in sagittal if s.weighting == "unknown"]
    if t1:
        chosen.sagittal_t1 = t1[0]
    elif unknown:  # no header or name says otherwise: VBQ's own check refuses CSF-bright images
        chosen.sagittal_t1 = unknown[0]
        chosen.notes.append(f"sagittal weighting unknown ({unknown[0].name}); taken as T1 for VBQ")
    chosen.sagittal_any = chosen.sagittal_t1 or (sagittal[0] if sagittal else None)
    if sagittal and chosen.sagittal_t1 is None:
        chosen.notes.append("no sagittal T1 series: VBQ not measured")
    return chosen
