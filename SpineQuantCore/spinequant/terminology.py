"""Standard codes (SNOMED CT) for the project's structures and Slicer's segment terminology strings.

Pure strings only: the Slicer adapters turn these into ``TerminologyEntry`` segment tags. A Slicer
terminology entry has 7 parts separated by ``~``: context, category, type, type modifier, region
context, region, region modifier; every coded part is ``scheme^value^meaning``.
"""

# Optional[...] rather than X | None: the code base targets Python 3.9 (Slicer 5.6/5.8).
# ruff: noqa: UP045
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from .labels import DEFAULT_LABELS, Structure


@dataclass(frozen=True)
class Code:
    """One coded concept (DICOM code sequence item)."""

    scheme: str
    value: str
    meaning: str

    def triplet(self) -> str:
        return f"{self.scheme}^{self.value}^{self.meaning}"


EMPTY_TRIPLET = "^^"

# Context names Slicer ships; a type outside the context still round-trips as codes.
CATEGORY_CONTEXT = "Segmentation category and type - DICOM master list"
REGION_CONTEXT = "Anatomic codes - DICOM master list"

# Where each code was checked (kept next to the codes so reviewers can re-verify them).
ANATOMICAL_STRUCTURE = Code("SCT", "123037004", "Anatomical Structure")  # Slicer General Anatomy json
MUSCLE_CODES: Dict[str, Code] = {
    # SNOMED body-site expansion (FHIR ValueSet body-site): "Multifidus muscles"
    "multifidus": Code("SCT", "5709001", "Multifidus muscles"),
    # DICOM CID 6116 Muscular Anatomy; also SlicerTotalSegmentator term.json
    "erector_spinae": Code("SCT", "44947003", "Erector spinae muscle"),
    # Not found in the searched corpora; the commonly cited SNOMED id for psoas major
    "psoas": Code("SCT", "71915003", "Psoas major muscle"),
    # SNOMED body-site expansion (FHIR ValueSet body-site): "Quadratus lumborum muscle"
    "quadratus_lumborum": Code("SCT", "6001004", "Quadratus lumborum muscle"),
}
CODE_SOURCES: Dict[str, str] = {
    "123037004": "Slicer Terminologies module, SegmentationCategoryTypeModifier-SlicerGeneralAnatomy.json",
    "5709001": "SNOMED CT body structure list (HL7 FHIR ValueSet body-site expansion)",
    "44947003": "DICOM PS3.16 CID 6116 Muscular Anatomy; SlicerTotalSegmentator term.json",
    "71915003": "unverified in this project's searches; needs a SNOMED browser check",
    "6001004": "SNOMED CT body structure list (HL7 FHIR ValueSet body-site expansion)",
    "7771000": "DICOM CID 244 Laterality; Slicer General Anatomy json",
    "24028007": "DICOM CID 244 Laterality; Slicer General Anatomy json",
}
LATERALITY_CODES: Dict[str, Code] = {
    "left": Code("SCT", "7771000", "Left"),
    "right": Code("SCT", "24028007", "Right"),
}

# Display colours (0..1 RGB); left a little lighter than right so the sides stay distinguishable.
MUSCLE_COLORS: Dict[str, Tuple[Tuple[float, float, float], Tuple[float, float, float]]] = {
    "multifidus": ((0.90, 0.45, 0.40), (0.75, 0.30, 0.27)),
    "erector_spinae": ((0.95, 0.70, 0.35), (0.80, 0.55, 0.20)),
    "psoas": ((0.45, 0.70, 0.90), (0.30, 0.55, 0.78)),
    "quadratus_lumborum": ((0.60, 0.80, 0.45), (0.45, 0.65, 0.30)),
}
DEFAULT_COLOR = (0.75, 0.75, 0.75)


def segment_name(structure: Structure) -> str:
    """Human-readable segment name, e.g. 'erector spinae left'."""
    words = structure.name.replace("_", " ")
    return f"{words} {structure.side}" if structure.side else words


def segment_color(structure: Structure) -> Tuple[float, float, float]:
    pair = MUSCLE_COLORS.get(structure.name)
    if pair is None:
        return DEFAULT_COLOR
    return pair[1] if structure.side == "right" else pair[0]


def terminology_entry(structure: Structure) -> str:
    """Slicer TerminologyEntry string for a muscle (laterality as the type modifier)."""
    code = MUSCLE_CODES.get(structure.name)
    if code is None:
        raise KeyError(f"no standard code for structure {structure.name!r}")
    modifier = LATERALITY_CODES.get(structure.side)
    parts = [
        CATEGORY_CONTEXT,
        ANATOMICAL_STRUCTURE.triplet(),
        code.triplet(),
        modifier.triplet() if modifier else EMPTY_TRIPLET,
        REGION_CONTEXT,
        EMPTY_TRIPLET,
        EMPTY_TRIPLET,
    ]
    return "~".join(parts)


def _parse_triplet(text: str) -> Optional[Code]:
    pieces = text.split("^")
    if len(pieces) != 3 or not pieces[1]:
        return None
    return Code(*pieces)


def parse_terminology_entry(entry: str) -> Dict[str, Optional[Code]]:
    """Split a TerminologyEntry string into its coded parts (None where empty)."""
    parts = entry.split("~")
    if len(parts) != 7:
        raise ValueError(f"a terminology entry has 7 '~'-separated parts, got {len(parts)}: {entry!r}")
    return {
        "category": _parse_triplet(parts[1]),
        "type": _parse_triplet(parts[2]),
        "type_modifier": _parse_triplet(parts[3]),
        "region": _parse_triplet(parts[5]),
        "region_modifier": _parse_triplet(parts[6]),
    }


def structure_from_entry(entry: str) -> Optional[Structure]:
    """The project Structure coded by a TerminologyEntry, or None when the codes are not ours."""
    try:
        parsed = parse_terminology_entry(entry)
    except ValueError:
        return None
    type_code = parsed["type"]
    if type_code is None:
        return None
    name = next((n for n, c in MUSCLE_CODES.items()
                 if c.scheme == type_code.scheme and c.value == type_code.value), None)
    if name is None:
        return None
    modifier = parsed["type_modifier"]
    side = ""
    if modifier is not None:
        side = next((s for s, c in LATERALITY_CODES.items() if c.value == modifier.value), "")
    return Structure(name, side)


def default_segment_table() -> Dict[int, Tuple[str, Tuple[float, float, float], str]]:
    """{label value: (segment name, colour, terminology entry)} for the project's default labels."""
    return {value: (segment_name(s), segment_color(s), terminology_entry(s))
            for value, s in DEFAULT_LABELS.items()}
