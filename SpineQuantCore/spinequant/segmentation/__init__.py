"""Paraspinal muscle segmentation of axial lumbar MRI (issue #3).

Built-in anatomy-driven segmenter (no trained weights) and importers of TotalSegmentator,
MuscleMap and generic label maps, all behind :func:`segment`. Output values follow
``spinequant.labels.DEFAULT_LABELS`` (1 MF L, 2 MF R, 3 ES L, 4 ES R, 5 PS L, 6 PS R, 7 QL L, 8 QL R).
"""

from __future__ import annotations

from .api import BACKENDS, SegmentationResult, check_table, segment

__all__ = ["BACKENDS", "SegmentationResult", "check_table", "segment"]
