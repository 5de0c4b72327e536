"""Landmark files: one point per level (body centre) and optionally the CSF ROI centre.

JSON: {"L1": [x, y, z], ..., "L5": [...], "CSF": [...]} in LPS millimetres (ITK/DICOM), or RAS
(Slicer) with "coordinate_system": "RAS".
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict

import numpy as np

from ..errors import InputError

LANDMARK_KEYS = ("T12", "L1", "L2", "L3", "L4", "L5", "S1", "CSF")
RAS_FROM_LPS = np.array([-1.0, -1.0, 1.0])


def read_landmarks(path: str) -> Dict[str, np.ndarray]:
    """Read a landmark JSON file; returns points in LPS."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(path, "landmark file not found") from None
    except (OSError, ValueError) as exc:
        raise InputError(path, f"is not valid JSON ({exc})") from None
    return parse_landmarks(data, str(path))


def parse_landmarks(data, source: str = "landmarks") -> Dict[str, np.ndarray]:
    if not isinstance(data, dict):
        raise InputError(source, 'must be a JSON object {"L1": [x, y, z], ...}')
    system = str(data.get("coordinate_system", "LPS")).upper()
    if system not in ("LPS", "RAS"):
        raise InputError(source, f"coordinate_system {system!r} is not LPS or RAS")
    points: Dict[str, np.ndarray] = {}
    for key, value in data.items():
        if key in ("coordinate_system", "legend", "notes"):
            continue
        name = key.strip().upper()
        if name not in LANDMARK_KEYS:
            raise InputError(source, f"unknown landmark {key!r}; use {', '.join(LANDMARK_KEYS)}")
        point = np.asarray(value, dtype=float) if isinstance(value, (list, tuple)) else None
        if point is None or point.shape != (3,) or not np.isfinite(point).all():
            raise InputError(source, f"landmark {key} must be three finite numbers [x, y, z]")
        points[name] = point * RAS_FROM_LPS if system == "RAS" else point
    if not any(name.startswith("L") for name in points):
        raise InputError(source, "holds no lumbar level (L1..L5)")
    return points


def landmarks_to_json(points: Dict[str, np.ndarray], extra: Dict = None) -> Dict:
    data = {"coordinate_system": "LPS"}
    for name in LANDMARK_KEYS:
        if name in points:
            data[name] = [round(float(v), 4) for v in points[name]]
    data.update(extra or {})
    return data


def write_landmarks(points: Dict[str, np.ndarray], path: str, extra: Dict = None) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.part{os.getpid()}")
    temporary.write_text(json.dumps(landmarks_to_json(points, extra), indent=2))
    os.replace(temporary, target)
