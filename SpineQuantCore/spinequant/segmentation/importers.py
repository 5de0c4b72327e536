"""Turn label maps from other tools into project labels (spinequant.labels.DEFAULT_LABELS).

A foreign name maps to a project structure and side; a merged back-muscle label ("autochthon":
multifidus + erector spinae together) is kept as a compartment and split later by the built-in
method. Class maps as published by the tools (checked against their source, see citations).
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional, Tuple

import numpy as np

from ..errors import InputError
from ..labels import LABEL_OF, load_label_map

COMPARTMENT = "autochthon"  # ES + MF together; to be split

# TotalSegmentator (Wasserthal et al., Radiol AI 2023; github.com/wasserth/TotalSegmentator,
# totalsegmentator/map_to_binary.py class_map): only the classes this project uses.
TOTALSEGMENTATOR_CLASS_MAPS: Dict[str, Dict[int, str]] = {
    "total_mr": {46: "autochthon_left", 47: "autochthon_right", 48: "iliopsoas_left", 49: "iliopsoas_right"},
    "total": {86: "autochthon_left", 87: "autochthon_right", 88: "iliopsoas_left", 89: "iliopsoas_right"},
    # CT task abdominal_muscles (values in the order of TotalSegmentator's class list, right first)
    "abdominal_muscles": {
        15: "erector_spinae_right",
        16: "erector_spinae_left",
        17: "transversospinalis_right",
        18: "transversospinalis_left",
        19: "psoas_major_right",
        20: "psoas_major_left",
        21: "quadratus_lumborum_right",
        22: "quadratus_lumborum_left",
    },
}

# MuscleMap abdomen/lumbar model (McKay, Wesselink et al.; github.com/MuscleMap/MuscleMap,
# scripts/models/abdomen/contrast_agnostic_abdomen_model.json): right first, odd values.
MUSCLEMAP_LUMBAR: Dict[int, str] = {
    1: "multifidus_right",
    2: "multifidus_left",
    3: "erector_spinae_right",
    4: "erector_spinae_left",
    5: "psoas_major_right",
    6: "psoas_major_left",
    7: "quadratus_lumborum_right",
    8: "quadratus_lumborum_left",
}

# Foreign structure names -> project structure names (None = merged compartment to split).
SYNONYMS = {
    "autochthon": COMPARTMENT,
    "iliopsoas": "psoas",
    "psoas_major": "psoas",
    "psoas": "psoas",
    "transversospinalis": "multifidus",
    "multifidus": "multifidus",
    "erector_spinae": "erector_spinae",
    "quadratus_lumborum": "quadratus_lumborum",
}


def project_target(name: str) -> Tuple[str, str]:
    """('erector_spinae' | 'autochthon' | ..., 'left' | 'right') for a foreign side-suffixed name."""
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    for side in ("left", "right"):
        if key.endswith("_" + side):
            base = key[: -len(side) - 1]
            if base in SYNONYMS:
                return SYNONYMS[base], side
    raise InputError("label map", f"cannot map {name!r} to a paraspinal muscle with a side")


def apply_class_map(foreign: np.ndarray, class_map: Mapping[int, str]) -> Tuple[np.ndarray, Dict[str, np.ndarray]]:
    """Project labels for directly mapped muscles, and the compartments ('autochthon') by side."""
    labels = np.zeros(foreign.shape, np.uint8)
    compartments: Dict[str, np.ndarray] = {}
    for value, name in class_map.items():
        structure, side = project_target(name)
        voxels = foreign == int(value)
        if structure == COMPARTMENT:
            compartments[side] = compartments.get(side, np.zeros(foreign.shape, bool)) | voxels
        else:
            labels[voxels] = LABEL_OF[f"{structure}_{side}"]
    return labels, compartments


def json_class_map(path: str) -> Dict[int, str]:
    """A JSON {"value": "name_side"} file; names may be project or foreign names (autochthon_left)."""
    import json

    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except FileNotFoundError:
        raise InputError(path, "label map file not found") from None
    except (OSError, ValueError) as exc:
        raise InputError(path, f"cannot read the label map as JSON ({exc})") from None
    if not isinstance(raw, dict) or not raw:
        raise InputError(path, 'the label map must be a non-empty JSON object like {"1": "multifidus_left"}')
    try:
        mapping = {int(k): str(v) for k, v in raw.items()}
    except ValueError:
        raise InputError(path, "label values must be integers") from None
    for name in mapping.values():  # fail early with the file named
        try:
            project_target(name)
        except InputError:
            load_label_map(path)  # raises the project's message for project names
            raise InputError(path, f"cannot map {name!r} to a paraspinal muscle with a side") from None
    return mapping


def class_map_for(backend: str, label_map_path: Optional[str] = None) -> Dict[int, str]:
    """The class map of an importer backend."""
    if backend == "json":
        if not label_map_path:
            raise InputError("--label-map", "the json backend needs a label map file (--label-map MAP.json)")
        return json_class_map(label_map_path)
    if backend == "musclemap":
        return dict(MUSCLEMAP_LUMBAR)
    task = backend.split(":", 1)[1] if ":" in backend else "total_mr"
    if task not in TOTALSEGMENTATOR_CLASS_MAPS:
        raise InputError(backend, f"unknown TotalSegmentator task {task!r}; use one of "
                                  f"{', '.join(TOTALSEGMENTATOR_CLASS_MAPS)}")
    return dict(TOTALSEGMENTATOR_CLASS_MAPS[task])
