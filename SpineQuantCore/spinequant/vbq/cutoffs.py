"""Published VBQ cut-offs. A VBQ at or above the cut-off is 'low bone quality' for that outcome.

Cut-offs depend on the scanner, sequence and outcome; use a preset only where its population fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict

from ..errors import InputError


@dataclass(frozen=True)
class Cutoff:
    value: float
    outcome: str
    reference: str


PRESETS: Dict[str, Cutoff] = {
    # Ehresman J et al. Spine J 2020;20(4):556-562: VBQ >= 3.0 separated osteopenia/osteoporosis
    # (DXA) from normal BMD on lumbar T1 MRI (AUC 0.81).
    "ehresman2020": Cutoff(3.0, "osteopenia/osteoporosis by DXA", "Ehresman et al., Spine J 2020;20(4):556-562"),
    # Cervical VBQ predicting zero-profile cage subsidence after ACDF: threshold 2.68 (AUC 0.785),
    # World Neurosurg 2024;182:e377-e385. Cervical, not lumbar: for comparison only.
    "cervical_subsidence2024": Cutoff(
        2.68, "cage subsidence after ACDF (cervical VBQ)", "World Neurosurg 2024;182:e377-e385"
    ),
}
DEFAULT_PRESET = "ehresman2020"


def resolve_cutoff(text) -> Cutoff:
    """A number (custom cut-off) or a preset name."""
    if text is None:
        return PRESETS[DEFAULT_PRESET]
    if isinstance(text, (int, float)):
        return Cutoff(float(text), "custom", "user")
    key = str(text).strip().lower()
    if key in PRESETS:
        return PRESETS[key]
    try:
        value = float(key)
    except ValueError:
        presets = ", ".join(PRESETS)
        raise InputError("--cutoff", f"{text!r} is neither a number nor a preset ({presets})") from None
    if not 0.5 <= value <= 10:
        raise InputError("--cutoff", f"{value} is outside the plausible VBQ range 0.5-10")
    return Cutoff(value, "custom", "user")


def categorise(vbq: float, cutoff: Cutoff) -> str:
    return "low bone quality" if vbq >= cutoff.value else "normal bone quality"
