"""Vertebral level points (L1 ... L5 and CSF) as a markups fiducial node the user can drag.

The core works in LPS millimetres; markups store RAS. The detected positions are remembered on the node
so that accepting a case can report how far the user moved each point.
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence

import numpy as np

from ParaspinalFatLib.landmarks import landmarks_lps
from ParaspinalFatLib.review_nodes import case_of, remember_automatic_points, set_markups_points, tag_case_node

LANDMARK_ORDER = ("L1", "L2", "L3", "L4", "L5", "CSF")


def place_level_points(points_lps: Mapping[str, Sequence[float]], volume_node, markups_node=None,
                       automatic: bool = True):
    """Put the points into markups_node (created beside the volume when None; its points are replaced).

    automatic: the points come from detection, so remember them as the reference for later corrections.
    Returns the markups node, tagged with the volume's case.
    """
    known = {name: points_lps[name] for name in LANDMARK_ORDER if name in points_lps}
    if not known:
        raise ValueError(f"no level point (L1 ... L5 or CSF) to place on {volume_node.GetName()!r}")
    if markups_node is None:
        markups_node = volume_node.GetScene().AddNewNodeByClass("vtkMRMLMarkupsFiducialNode",
                                                                f"{volume_node.GetName()} levels")
    set_markups_points(markups_node, known, LANDMARK_ORDER)
    if automatic:
        remember_automatic_points(markups_node, known)
    return tag_case_node(markups_node, case_of(volume_node))


def level_points_lps(markups_node) -> Optional[Dict[str, np.ndarray]]:
    """{level: LPS point} of the node, checked like a landmark file; None when the node is absent or empty.

    ValueError (naming the node) for an unnamed, repeated or unknown point, or one without a lumbar level.
    """
    if markups_node is None or markups_node.GetNumberOfControlPoints() == 0:
        return None
    from spinequant.vbq.landmarks import parse_landmarks

    # InputError is a ValueError; the same checks as a landmark file give the same messages.
    return parse_landmarks({"coordinate_system": "LPS", **landmarks_lps(markups_node)},
                           f"markups {markups_node.GetName()!r}")
