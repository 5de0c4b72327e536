"""Reading and writing images with their physical geometry (SimpleITK; LPS world coordinates).

Arrays are always in numpy order (K, J, I) = (slice, row, column), like Slicer's ``arrayFromVolume``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np
import SimpleITK as sitk

from .errors import InputError

PLANE_AXES = {0: "sagittal", 1: "coronal", 2: "axial"}  # world axis (L, P, S) the slice normal follows
MIN_PLANE_COSINE = 0.7  # oblique acquisitions up to ~45 degrees still count as their plane


@dataclass
class Volume:
    """A 3D image: array in (K, J, I) order plus ITK geometry (spacing/origin/direction in I, J, K order)."""

    array: np.ndarray
    spacing: Tuple[float, float, float]
    origin: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    source: str = "image"
    metadata: Dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        self.direction = np.asarray(self.direction, dtype=float).reshape(3, 3)
        self.spacing = tuple(float(s) for s in self.spacing)
        self.origin = tuple(float(o) for o in self.origin)

    @property
    def voxel_volume_mm3(self) -> float:
        return float(np.prod(self.spacing))

    @property
    def pixel_area_mm2(self) -> float:
        """In-plane area of one voxel (I x J), the unit of a cross-sectional area on a slice."""
        return float(self.spacing[0] * self.spacing[1])

    def with_array(self, array: np.ndarray, source: Optional[str] = None) -> Volume:
        """Same geometry, other voxels (e.g. a mask or label map on this grid)."""
        if array.shape != self.array.shape:
            raise ValueError(f"array shape {array.shape} differs from the grid {self.array.shape}")
        return Volume(array, self.spacing, self.origin, self.direction.copy(), source or self.source)

    def ijk_to_lps(self) -> np.ndarray:
        """4x4 matrix from (i, j, k) voxel index to LPS millimetres."""
        matrix = np.eye(4)
        matrix[:3, :3] = self.direction @ np.diag(self.spacing)
        matrix[:3, 3] = self.origin
        return matrix

    def ijk_to_ras(self) -> np.ndarray:
        """4x4 matrix from (i, j, k) voxel index to RAS millimetres (Slicer's world)."""
        return np.diag([-1.0, -1.0, 1.0, 1.0]) @ self.ijk_to_lps()

    def slice_plane(self) -> str:
        """Anatomical plane of the K slices, from the direction cosines (not the array order)."""
        normal = np.abs(self.direction[:, 2])
        axis = int(np.argmax(normal))
        if normal[axis] < MIN_PLANE_COSINE:
            return "oblique"
        return PLANE_AXES[axis]

    def to_sitk(self) -> sitk.Image:
        image = sitk.GetImageFromArray(self.array)
        image.SetSpacing(self.spacing)
        image.SetOrigin(self.origin)
        image.SetDirection(tuple(self.direction.ravel()))
        return image

    @classmethod
    def from_sitk(cls, image: sitk.Image, source: str = "image") -> Volume:
        metadata = {k: image.GetMetaData(k) for k in image.GetMetaDataKeys()}
        return cls(
            sitk.GetArrayFromImage(image),
            image.GetSpacing(),
            image.GetOrigin(),
            np.array(image.GetDirection()).reshape(3, 3),
            source,
            metadata,
        )


def _read_dicom_series(folder: Path) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    series_ids = reader.GetGDCMSeriesIDs(str(folder))
    if not series_ids:
        raise InputError(folder, "folder holds no readable DICOM series")
    if len(series_ids) > 1:
        raise InputError(folder, f"folder holds {len(series_ids)} DICOM series; point to one series folder")
    files = reader.GetGDCMSeriesFileNames(str(folder), series_ids[0])
    reader.SetFileNames(files)
    reader.MetaDataDictionaryArrayUpdateOn()
    reader.LoadPrivateTagsOn()
    image = reader.Execute()
    for key in reader.GetMetaDataKeys(0):
        image.SetMetaData(key, reader.GetMetaData(0, key))
    return image


def read_sitk(path: str) -> sitk.Image:
    """Read a NIfTI/NRRD/MHA file or a DICOM series folder; clear errors for anything unreadable."""
    file = Path(path)
    if not file.exists():
        raise InputError(path, "file or folder not found")
    try:
        if file.is_dir():
            return _read_dicom_series(file)
        return sitk.ReadImage(str(file))
    except RuntimeError as exc:
        first_line = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unknown reason"
        raise InputError(path, f"cannot read the image ({first_line[:200]})") from None


def read_volume(path: str, plane: Optional[str] = None) -> Volume:
    """Read a 3D scalar volume; optionally require an acquisition plane ('axial' or 'sagittal')."""
    image = read_sitk(path)
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(path, f"has {image.GetNumberOfComponentsPerPixel()} components per voxel; "
                               "a scalar (grey-level) image is needed")
    dimension = image.GetDimension()
    if dimension == 4:
        size = image.GetSize()
        if size[3] != 1:
            raise InputError(path, f"is a 4D image ({size[3]} time points or echoes); give one 3D volume")
        image = image[:, :, :, 0]
    elif dimension != 3:
        raise InputError(path, f"is a {dimension}D image; a 3D volume (a stack of slices) is needed")
    volume = Volume.from_sitk(image, source=str(path))
    check_volume(volume, plane)
    return volume


def check_volume(volume: Volume, plane: Optional[str] = None, min_slices: int = 1) -> None:
    """Reject 2D stacks, NaN/infinite voxels and a wrong acquisition plane, naming the source."""
    if volume.array.ndim != 3:
        raise InputError(volume.source, f"is {volume.array.ndim}D; a 3D volume is needed")
    if min(volume.array.shape) < min_slices or volume.array.shape[0] < 1:
        raise InputError(volume.source, f"has too few slices ({volume.array.shape[0]})")
    if np.issubdtype(volume.array.dtype, np.floating):
        bad = int(np.count_nonzero(~np.isfinite(volume.array)))
        if bad:
            raise InputError(volume.source, f"contains {bad} NaN or infinite voxels")
    if plane is not None:
        found = volume.slice_plane()
        if found != plane:
            raise InputError(
                volume.source,
                f"holds {found} slices (slice normal {np.round(volume.direction[:, 2], 2).tolist()} in LPS), "
                f"but {plane} slices are needed",
            )


def require_stack(volume: Volume, plane: str) -> None:
    """A volume of the given plane with more than one slice (a single slice is 2D)."""
    check_volume(volume, plane)
    if volume.array.shape[0] < 2:
        raise InputError(volume.source, f"is a single 2D slice; a 3D {plane} volume is needed")


def same_grid(reference: Volume, other: Volume, tolerance_mm: float = 1e-3) -> bool:
    """True when two volumes share size, spacing, origin and direction."""
    return (
        reference.array.shape == other.array.shape
        and np.allclose(reference.spacing, other.spacing, atol=tolerance_mm)
        and np.allclose(reference.origin, other.origin, atol=max(tolerance_mm, 1e-2))
        and np.allclose(reference.direction, other.direction, atol=1e-4)
    )


def require_same_grid(reference: Volume, other: Volume) -> None:
    if reference.array.shape != other.array.shape:
        raise InputError(
            other.source,
            f"grid {other.array.shape[::-1]} (I, J, K) does not match the image "
            f"{reference.source} {reference.array.shape[::-1]}; resample it onto the image grid",
        )
    if not same_grid(reference, other):
        raise InputError(
            other.source,
            f"geometry (spacing/origin/direction) does not match the image {reference.source}; "
            "the mask must be on the image grid",
        )


def water_plus_fat(water: Volume, fat: Volume, source: Optional[str] = None) -> Volume:
    """Dixon water + fat on the water grid: the fat-bright, in-phase-like image the segmenter and the
    intensity methods expect when no T1/T2 image exists."""
    require_same_grid(water, fat)
    total = water.array.astype(np.float32) + fat.array.astype(np.float32)
    return water.with_array(total, source or f"{water.source} + {Path(fat.source).name}")


def write_volume(volume: Volume, path: str) -> None:
    """Write atomically: to a temporary name in the same folder, then rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(target.suffixes) or ".nii.gz"
    temporary = target.with_name(f".{target.name}.part{os.getpid()}{suffix}")
    try:
        sitk.WriteImage(volume.to_sitk(), str(temporary), useCompression=True)
        os.replace(temporary, target)
    finally:
        if temporary.exists():
            temporary.unlink()
