"""Vertebral level landmarks from a markups point list (labels like "L4", positions in RAS)."""

from __future__ import annotations

from typing import Dict, List


def landmarks_lps(markups_node) -> Dict[str, List[float]]:
    """{level label: [L, P, S] mm} of the defined control points, in world coordinates."""
    points: Dict[str, List[float]] = {}
    for index in range(markups_node.GetNumberOfControlPoints()):
        label = markups_node.GetNthControlPointLabel(index).strip().upper()
        if not label:
            raise ValueError(f"control point {index + 1} of {markups_node.GetName()!r} has no level label "
                             "(name it like 'L4')")
        if label in points:
            raise ValueError(f"level {label} is placed twice in {markups_node.GetName()!r}")
        ras = [0.0, 0.0, 0.0]
        markups_node.GetNthControlPointPositionWorld(index, ras)
        points[label] = [-ras[0], -ras[1], ras[2]]  # RAS -> LPS, the core's world frame
    return points
