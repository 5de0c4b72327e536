"""A sagittal slice as a canonical 2D view: rows superior->inferior, columns anterior->posterior, 1 mm pixels.

Detection and ROIs work in this view so that every threshold is in millimetres whatever the voxel size or
array order; `SagittalView` maps view pixels back to voxel indices and LPS points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np
from scipy import ndimage as ndi

from ..imageio import Volume

VIEW_PIXEL_MM = 1.0


@dataclass
class SagittalAxes:
    """Which in-plane array axes run superior-inferior and anterior-posterior, and their senses."""

    si_axis: int  # array axis (1 = J, 2 = I of the (K, J, I) array) that runs along S-I
    ap_axis: int
    si_flip: bool  # True when increasing index runs inferior->superior
    ap_flip: bool  # True when increasing index runs posterior->anterior


def sagittal_axes(volume: Volume) -> SagittalAxes:
    """Read the in-plane anatomy from the direction cosines (LPS: +S is superior, +P is posterior)."""
    direction = volume.direction
    i_axis, j_axis = direction[:, 0], direction[:, 1]
    if abs(i_axis[2]) >= abs(j_axis[2]):  # I runs along S-I
        return SagittalAxes(2, 1, si_flip=i_axis[2] > 0, ap_flip=j_axis[1] < 0)
    return SagittalAxes(1, 2, si_flip=j_axis[2] > 0, ap_flip=i_axis[1] < 0)


@dataclass
class SagittalView:
    """Geometry of the canonical view of one volume (the same for every slice k)."""

    volume: Volume
    axes: SagittalAxes

    @classmethod
    def of(cls, volume: Volume) -> SagittalView:
        return cls(volume, sagittal_axes(volume))

    def _spacing(self, array_axis: int) -> float:
        # array axis 2 is I (spacing[0]), array axis 1 is J (spacing[1])
        return self.volume.spacing[0] if array_axis == 2 else self.volume.spacing[1]

    @property
    def si_spacing(self) -> float:
        return self._spacing(self.axes.si_axis)

    @property
    def ap_spacing(self) -> float:
        return self._spacing(self.axes.ap_axis)

    @property
    def slice_spacing(self) -> float:
        return self.volume.spacing[2]

    def slice_image(self, k: int) -> np.ndarray:
        """Slice k as float32 rows=S->I, cols=A->P, resampled to 1 mm pixels."""
        plane = self.volume.array[int(k)].astype(np.float32)  # (J, I)
        if self.axes.si_axis == 2:
            plane = plane.T  # rows = I
        if self.axes.si_flip:
            plane = plane[::-1]
        if self.axes.ap_flip:
            plane = plane[:, ::-1]
        zoom = (self.si_spacing / VIEW_PIXEL_MM, self.ap_spacing / VIEW_PIXEL_MM)
        if np.allclose(zoom, 1.0):
            return np.ascontiguousarray(plane)
        return ndi.zoom(plane, zoom, order=1)

    def view_shape(self) -> Tuple[int, int]:
        return self.slice_image(0).shape

    def view_to_index(self, k: float, row: float, col: float) -> np.ndarray:
        """View pixel (row, col) on slice k -> continuous (i, j, k) voxel index."""
        n_si = self.volume.array.shape[self.axes.si_axis]
        n_ap = self.volume.array.shape[self.axes.ap_axis]
        si = row * VIEW_PIXEL_MM / self.si_spacing
        ap = col * VIEW_PIXEL_MM / self.ap_spacing
        if self.axes.si_flip:
            si = n_si - 1 - si
        if self.axes.ap_flip:
            ap = n_ap - 1 - ap
        if self.axes.si_axis == 2:
            return np.array([si, ap, k], dtype=float)
        return np.array([ap, si, k], dtype=float)

    def index_to_view(self, ijk) -> Tuple[float, float, float]:
        """Continuous (i, j, k) voxel index -> (k, row, col) in the view."""
        i, j, k = (float(v) for v in ijk)
        si, ap = (i, j) if self.axes.si_axis == 2 else (j, i)
        n_si = self.volume.array.shape[self.axes.si_axis]
        n_ap = self.volume.array.shape[self.axes.ap_axis]
        if self.axes.si_flip:
            si = n_si - 1 - si
        if self.axes.ap_flip:
            ap = n_ap - 1 - ap
        return k, si * self.si_spacing / VIEW_PIXEL_MM, ap * self.ap_spacing / VIEW_PIXEL_MM

    def view_to_lps(self, k: float, row: float, col: float) -> np.ndarray:
        ijk = self.view_to_index(k, row, col)
        return (self.volume.ijk_to_lps() @ np.append(ijk, 1.0))[:3]

    def lps_to_view(self, point) -> Tuple[float, float, float]:
        inverse = np.linalg.inv(self.volume.ijk_to_lps())
        ijk = (inverse @ np.append(np.asarray(point, dtype=float), 1.0))[:3]
        return self.index_to_view(ijk)

    def view_mask_to_volume(self, mask2d: np.ndarray, k: int, out: np.ndarray, value: int) -> None:
        """Paint a view-grid mask into the (K, J, I) label array `out` on slice k."""
        plane = mask2d
        n_si = self.volume.array.shape[self.axes.si_axis]
        n_ap = self.volume.array.shape[self.axes.ap_axis]
        if plane.shape != (n_si, n_ap):
            rows = np.clip(
                np.round(np.arange(n_si) * self.si_spacing / VIEW_PIXEL_MM).astype(int), 0, plane.shape[0] - 1
            )
            cols = np.clip(
                np.round(np.arange(n_ap) * self.ap_spacing / VIEW_PIXEL_MM).astype(int), 0, plane.shape[1] - 1
            )
            plane = plane[np.ix_(rows, cols)]
        if self.axes.si_flip:
            plane = plane[::-1]
        if self.axes.ap_flip:
            plane = plane[:, ::-1]
        if self.axes.si_axis == 2:
            plane = plane.T
        out[int(k)][plane.astype(bool)] = value
