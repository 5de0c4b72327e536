"""Scalar/labelmap volume nodes <-> the core ``Volume`` (numpy K,J,I array + ITK/LPS geometry).

Slicer stores geometry as an IJK->RAS matrix; the core keeps ITK's LPS spacing/origin/direction.
RAS = diag(-1, -1, 1) * LPS, so the conversion is a sign flip of the first two rows.
"""

# Optional[...] rather than X | None: the code base targets Python 3.9 (Slicer 5.6/5.8).
# ruff: noqa: UP045
from __future__ import annotations

from typing import Optional

import numpy as np
import slicer
import vtk

from spinequant.imageio import Volume

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _matrix_to_array(matrix: vtk.vtkMatrix4x4) -> np.ndarray:
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def _array_to_matrix(array: np.ndarray) -> vtk.vtkMatrix4x4:
    matrix = vtk.vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            matrix.SetElement(r, c, float(array[r, c]))
    return matrix


def ijk_to_ras(volume_node) -> np.ndarray:
    """4x4 IJK->RAS of a node, including a linear parent transform (world coordinates)."""
    matrix = vtk.vtkMatrix4x4()
    volume_node.GetIJKToRASMatrix(matrix)
    result = _matrix_to_array(matrix)
    transform_node = volume_node.GetParentTransformNode()
    if transform_node is not None:
        if not transform_node.IsTransformToWorldLinear():
            raise ValueError(f"volume {volume_node.GetName()!r} is under a non-linear transform; "
                             "harden the transform before measuring")
        to_world = vtk.vtkMatrix4x4()
        transform_node.GetMatrixTransformToWorld(to_world)
        result = _matrix_to_array(to_world) @ result
    return result


def geometry_from_ijk_to_ras(matrix: np.ndarray):
    """(spacing, origin, direction) in ITK LPS convention from a 4x4 IJK->RAS matrix."""
    lps = LPS_TO_RAS @ np.asarray(matrix, dtype=float)  # diag(-1,-1,1) is its own inverse
    axes = lps[:3, :3]
    spacing = np.linalg.norm(axes, axis=0)
    if np.any(spacing <= 0):
        raise ValueError("volume geometry has a zero spacing")
    direction = axes / spacing
    return tuple(spacing.tolist()), tuple(lps[:3, 3].tolist()), direction


def volume_from_node(volume_node, copy: bool = True) -> Volume:
    """Core Volume from a scalar (or labelmap) volume node; the array is copied by default."""
    if volume_node is None or volume_node.GetImageData() is None:
        name = volume_node.GetName() if volume_node is not None else "None"
        raise ValueError(f"volume {name!r} has no image data")
    array = slicer.util.arrayFromVolume(volume_node)
    if array.ndim != 3:
        raise ValueError(f"volume {volume_node.GetName()!r} is not a single-component 3D image")
    spacing, origin, direction = geometry_from_ijk_to_ras(ijk_to_ras(volume_node))
    return Volume(np.array(array, copy=True) if copy else array, spacing, origin, direction,
                  source=volume_node.GetName())


def update_node_from_volume(volume_node, volume: Volume) -> None:
    """Write a core Volume's voxels and geometry into an existing volume node."""
    array = volume.array
    if array.dtype == bool:
        array = array.astype(np.uint8)
    slicer.util.updateVolumeFromArray(volume_node, np.ascontiguousarray(array))
    volume_node.SetIJKToRASMatrix(_array_to_matrix(volume.ijk_to_ras()))
    volume_node.Modified()


def node_from_volume(volume: Volume, name: Optional[str] = None, labelmap: bool = False, scene=None):
    """New scalar (or labelmap) volume node in the scene holding a copy of the core Volume."""
    scene = scene or slicer.mrmlScene
    class_name = "vtkMRMLLabelMapVolumeNode" if labelmap else "vtkMRMLScalarVolumeNode"
    node = scene.AddNewNodeByClass(class_name, name or volume.source or "Volume")
    if volume.array.dtype == bool:
        volume = volume.with_array(volume.array.astype(np.uint8))
    elif labelmap and not np.issubdtype(volume.array.dtype, np.integer):
        volume = volume.with_array(np.rint(volume.array).astype(np.int16))
    update_node_from_volume(node, volume)
    node.CreateDefaultDisplayNodes()
    return node
