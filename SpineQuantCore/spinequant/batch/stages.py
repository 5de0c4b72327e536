"""Adapters to the segmentation and VBQ packages, so the batch survives their absence or changes.

Segmentation: the public ``spinequant.segmentation.segment(image, water, fat)`` (built-in backend,
returning a ``SegmentationResult`` whose ``labels`` Volume is on the input grid); when that entry is
missing, the built-in pipeline's ``segment_canonical`` on an LPS-reoriented copy, mapped back.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..imageio import Volume


class StageUnavailable(Exception):
    """A pipeline stage cannot run in this installation (package missing or unfinished)."""


def _public_segmenter():
    try:
        from ..segmentation import segment
    except ImportError:
        return None
    return segment


def _as_label_volume(result, image: Volume) -> Volume:
    if isinstance(result, tuple):
        result = result[0]
    result = getattr(result, "labels", result)  # SegmentationResult
    if isinstance(result, Volume):
        return result
    return image.with_array(np.asarray(result).astype(np.uint8), source="segmentation")


def segment_axial(image: Volume, water: Optional[Volume] = None, fat: Optional[Volume] = None) -> Volume:
    """Muscle label map (project label values) on the image grid."""
    public = _public_segmenter()
    if public is not None:
        return _as_label_volume(public(image, water=water, fat=fat), image)
    try:
        from ..segmentation.builtin import segment_canonical
        from ..segmentation.orientation import from_canonical, to_canonical
    except ImportError as exc:
        raise StageUnavailable(f"segmentation package not available ({exc})") from None
    canonical, code = to_canonical(image)
    water_c = to_canonical(water)[0].array.astype(np.float32) if water is not None else None
    fat_c = to_canonical(fat)[0].array.astype(np.float32) if fat is not None else None
    labels, _ = segment_canonical(canonical.array.astype(np.float32), canonical.spacing, water_c, fat_c)
    return from_canonical(canonical.with_array(labels.astype(np.uint8)), code, image)


def vbq_stage():
    """(measure_vbq, result_rows, write_qc_png) or StageUnavailable."""
    try:
        from ..vbq import measure_vbq
        from ..vbq.report import result_rows
    except ImportError as exc:
        raise StageUnavailable(f"VBQ package not available ({exc})") from None
    try:
        from ..vbq.qc import write_qc_png
    except ImportError:
        write_qc_png = None
    return measure_vbq, result_rows, write_qc_png
