"""Canonical orientation for the segmenter: LPS arrays, so +i is patient Left and +j Posterior.

Only axis permutations and flips are applied (SimpleITK DICOMOrient), never resampling, so the
label map goes back to the input grid voxel for voxel.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
import SimpleITK as sitk

from ..imageio import Volume

CANONICAL = "LPS"  # array i -> patient Left, j -> Posterior, k -> Superior


def orientation_code(volume: Volume) -> str:
    """Three-letter DICOM orientation of the volume's axes, from its direction cosines."""
    direction = tuple(float(v) for v in volume.direction.ravel())
    return sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines(direction)


def to_canonical(volume: Volume) -> Tuple[Volume, str]:
    """Reorient to LPS; return the reoriented volume and the input's code to map back with."""
    code = orientation_code(volume)
    image = sitk.DICOMOrient(volume.to_sitk(), CANONICAL)
    return Volume.from_sitk(image, source=volume.source), code


def from_canonical(canonical: Volume, code: str, reference: Volume) -> Volume:
    """Map an array computed on the canonical grid back onto the reference (input) grid."""
    image = sitk.DICOMOrient(canonical.to_sitk(), code)
    array = sitk.GetArrayFromImage(image)
    return reference.with_array(array, source=reference.source)


def canonical_slice_order(volume: Volume) -> np.ndarray:
    """Per input slice, the index of the canonical slice it becomes (axial stacks: the slice axis stays
    the slice axis, possibly flipped), found by reorienting a volume of slice numbers."""
    n = volume.array.shape[0]
    index = np.ascontiguousarray(np.broadcast_to(np.arange(n, dtype=np.int16)[:, None, None], volume.array.shape))
    moved, _ = to_canonical(volume.with_array(index))
    return np.array([int(np.flatnonzero((moved.array == k).all(axis=(1, 2)))[0]) for k in range(n)])
