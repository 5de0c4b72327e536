"""Project label values for paraspinal muscles, and mapping of foreign label values onto them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, Optional

from .errors import InputError

MUSCLES = ("multifidus", "erector_spinae", "psoas", "quadratus_lumborum")
SIDES = ("left", "right")


@dataclass(frozen=True)
class Structure:
    """A labelled anatomical structure: its name and side ("left", "right", "both" or "")."""

    name: str
    side: str

    @property
    def key(self) -> str:
        return f"{self.name}_{self.side}" if self.side else self.name


# The project's label values (issue #2): odd = left, even = right.
DEFAULT_LABELS: Dict[int, Structure] = {
    1: Structure("multifidus", "left"),
    2: Structure("multifidus", "right"),
    3: Structure("erector_spinae", "left"),
    4: Structure("erector_spinae", "right"),
    5: Structure("psoas", "left"),
    6: Structure("psoas", "right"),
    7: Structure("quadratus_lumborum", "left"),
    8: Structure("quadratus_lumborum", "right"),
}

LABEL_OF = {s.key: value for value, s in DEFAULT_LABELS.items()}

KNOWN_STRUCTURES = MUSCLES + ("vertebral_body", "csf", "spine")


def parse_structure(text: str, source: str = "label map") -> Structure:
    """Turn 'erector_spinae_right' (or 'psoas', 'csf') into a Structure; reject unknown names."""
    name = text.strip().lower().replace(" ", "_").replace("-", "_")
    for side in SIDES + ("both",):
        suffix = "_" + side
        if name.endswith(suffix) and name[: -len(suffix)] in KNOWN_STRUCTURES:
            return Structure(name[: -len(suffix)], side)
    if name in KNOWN_STRUCTURES:
        return Structure(name, "")
    raise InputError(
        source,
        f"unknown structure name {text!r}; use one of {', '.join(KNOWN_STRUCTURES)} "
        "followed by _left or _right, e.g. 'multifidus_left'",
    )


def label_map_from_mapping(mapping: Mapping[object, str], source: str = "label map") -> Dict[int, Structure]:
    """Build {label value: Structure} from {"1": "erector_spinae_right", ...}."""
    if not mapping:
        raise InputError(source, "the label map is empty")
    result: Dict[int, Structure] = {}
    for raw_value, name in mapping.items():
        try:
            value = int(raw_value)
        except (TypeError, ValueError):
            raise InputError(source, f"label value {raw_value!r} is not an integer") from None
        if value <= 0:
            raise InputError(source, f"label value {value} must be a positive integer (0 is background)")
        result[value] = parse_structure(str(name), source)
    return result


def load_label_map(path: Optional[str]) -> Dict[int, Structure]:
    """Read a JSON label map file; None gives the project's default labels."""
    if path is None:
        return dict(DEFAULT_LABELS)
    file = Path(path)
    try:
        mapping = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "label map file not found") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(path, f"cannot read the label map as JSON ({exc})") from None
    if not isinstance(mapping, dict):
        raise InputError(path, 'the label map must be a JSON object like {"1": "multifidus_left"}')
    return label_map_from_mapping(mapping, str(path))
