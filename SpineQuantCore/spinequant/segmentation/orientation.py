"""Canonical orientation for the segmenter: LPS arrays, so +i is patient Left and +j Posterior.

Only axis permutations and flips are applied (SimpleITK DICOMOrient), never resampling, so the
label map goes back to the input grid voxel for voxel.
"""

from __future__ import annotations

from typing import Tuple

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
