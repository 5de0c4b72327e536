"""VBQ score (Ehresman et al. 2020, Spine J 20(4):556-562) from a sagittal T1-weighted lumbar MRI.

VBQ = median(mean signal of L1..L4 medullary ROIs) / mean signal of CSF at L3.
"""

from __future__ import annotations

from .pipeline import VBQResult, measure_vbq

__all__ = ["VBQResult", "measure_vbq"]
