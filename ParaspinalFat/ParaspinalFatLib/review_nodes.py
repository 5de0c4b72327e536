"""MRML side of the case-by-case review (both panels): loading a case's files into nodes, saving the
accepted segmentation and landmarks through storage nodes, markups <-> landmark points, label arrays ->
segmentations (VBQ regions, fat-voxel overlays), and clearing the previous case from the scene.

The pure part (case list, status, state file, backups, cohort) is spinequant.review.
Only storage nodes are used for files, so this runs without the Slicer application (tests) too.
"""

# Optional[...] rather than X | None: the code base targets Python 3.9 (Slicer 5.6/5.8).
# ruff: noqa: UP045
from __future__ import annotations

import json
from typing import Dict, Iterable, Mapping, Optional, Sequence, Tuple

import numpy as np
import slicer

from spinequant.imageio import read_volume

from .volumes import node_from_volume

CASE_ATTRIBUTE = "SpineQuant.ReviewCase"
AUTOMATIC_REFERENCE = "SpineQuant.automaticSegmentation"
SLICE_CHECK_REFERENCE = "SpineQuant.sliceCheck"  # the segmenter's per-slice check table
AUTOMATIC_LANDMARKS_ATTRIBUTE = "SpineQuant.AutomaticLandmarksLPS"


# --- scene bookkeeping -----------------------------------------------------------------------------------

def tag_case_node(node, case_id: str):
    """Mark a node as belonging to a review case, so the next case can clear it; returns the node."""
    if node is not None and case_id:
        node.SetAttribute(CASE_ATTRIBUTE, case_id)
        for index in range(node.GetNumberOfDisplayNodes() if hasattr(node, "GetNumberOfDisplayNodes") else 0):
            display = node.GetNthDisplayNode(index)
            if display is not None:
                display.SetAttribute(CASE_ATTRIBUTE, case_id)
    return node


def case_of(node) -> str:
    return (node.GetAttribute(CASE_ATTRIBUTE) or "") if node is not None else ""


def clear_case_nodes(scene=None, keep: Iterable = ()) -> int:
    """Remove every node a review case put in the scene (volumes, segmentations, markups, tables),
    with their display and storage nodes; returns how many data nodes were removed."""
    scene = scene or slicer.mrmlScene
    keep_ids = {n.GetID() for n in keep if n is not None}
    doomed = []
    for index in range(scene.GetNumberOfNodes()):
        node = scene.GetNthNode(index)
        if node.GetAttribute(CASE_ATTRIBUTE) and node.GetID() not in keep_ids and not node.IsA("vtkMRMLDisplayNode"):
            doomed.append(node)
    helpers = []
    for node in doomed:
        for count, get in (("GetNumberOfDisplayNodes", "GetNthDisplayNode"),
                           ("GetNumberOfStorageNodes", "GetNthStorageNode")):
            if hasattr(node, count):
                helpers += [getattr(node, get)(i) for i in range(getattr(node, count)())]
    for node in doomed + [h for h in helpers if h is not None]:
        if scene.IsNodePresent(node):
            scene.RemoveNode(node)
    return len(doomed)


# --- files ---------------------------------------------------------------------------------------------

def load_volume(path: str, name: str, plane: Optional[str] = None, scene=None, labelmap: bool = False):
    """Read a NIfTI/NRRD file or DICOM series folder into a new volume node (core reader: SimpleITK)."""
    return node_from_volume(read_volume(str(path), plane), name, labelmap=labelmap, scene=scene)


def _storage_for(node, path: str):
    scene = node.GetScene()
    storage = node.GetStorageNode()
    default = node.CreateDefaultStorageNode()
    if storage is None or storage.GetClassName() != default.GetClassName():
        storage = default
        scene.AddNode(storage)
        node.SetAndObserveStorageNodeID(storage.GetID())
    storage.SetFileName(str(path))
    return storage


def save_node(node, path: str) -> str:
    """Write a segmentation (.seg.nrrd), markups (.mrk.json), volume or table node; raises on failure.

    The caller backs up an existing file first (spinequant.review.ReviewSession.prepare_output).
    """
    storage = _storage_for(node, path)
    if hasattr(storage, "SetUseCompression"):
        storage.SetUseCompression(1)
    if not storage.WriteData(node):
        raise RuntimeError(f"could not write {node.GetName()!r} to {path}")
    return str(path)


def _read_node(class_name: str, storage: slicer.vtkMRMLStorageNode, path: str, name: str, what: str, scene):
    scene = scene or slicer.mrmlScene
    node = scene.AddNewNodeByClass(class_name, name)
    storage = scene.AddNode(storage)
    storage.SetFileName(str(path))
    node.SetAndObserveStorageNodeID(storage.GetID())
    if not storage.ReadData(node):
        scene.RemoveNode(node)
        raise ValueError(f"cannot read the {what} {path}")
    node.CreateDefaultDisplayNodes()
    return node


def load_segmentation(path: str, name: str, scene=None):
    return _read_node("vtkMRMLSegmentationNode", slicer.vtkMRMLSegmentationStorageNode(), path, name,
                      "segmentation", scene)


def load_markups(path: str, name: str, scene=None):
    return _read_node("vtkMRMLMarkupsFiducialNode", slicer.vtkMRMLMarkupsJsonStorageNode(), path, name,
                      "landmarks", scene)


# --- segmentations ---------------------------------------------------------------------------------------

def copy_segmentation(source, name: str):
    """A new segmentation node holding a deep copy of the source's segments (e.g. the automatic result)."""
    scene = source.GetScene()
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
    node.GetSegmentation().DeepCopy(source.GetSegmentation())
    node.CreateDefaultDisplayNodes()
    return node


def keep_automatic_copy(segmentation_node, name: Optional[str] = None):
    """Store a hidden copy of the automatic masks and reference it from the segmentation the user edits."""
    previous = segmentation_node.GetNodeReference(AUTOMATIC_REFERENCE)
    if previous is not None:
        segmentation_node.GetScene().RemoveNode(previous)
    copy = copy_segmentation(segmentation_node, name or f"{segmentation_node.GetName()} (automatic)")
    display = copy.GetDisplayNode()
    if display is not None:
        display.SetVisibility(False)
    segmentation_node.SetNodeReferenceID(AUTOMATIC_REFERENCE, copy.GetID())
    return copy


def automatic_segmentation(segmentation_node):
    return segmentation_node.GetNodeReference(AUTOMATIC_REFERENCE) if segmentation_node is not None else None


def clear_segments(segmentation_node) -> None:
    segmentation_node.GetSegmentation().RemoveAllSegments()


def segmentation_from_label_array(label_array: np.ndarray, reference_volume_node,
                                  segments: Mapping[int, Tuple[str, Sequence[float]]], node=None,
                                  name: str = "Regions", include_empty: bool = False):
    """One segment per label value listed in ``segments`` {value: (name, (r, g, b))} on the reference grid.

    An existing node is emptied and refilled (the user sees one node per result, not a pile of them).
    """
    scene = reference_volume_node.GetScene()
    if node is None:
        node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
    clear_segments(node)
    node.SetReferenceImageGeometryParameterFromVolumeNode(reference_volume_node)
    if node.GetDisplayNode() is None:
        node.CreateDefaultDisplayNodes()
    array = np.asarray(label_array)
    ids = {}
    for value, (segment_name, color) in segments.items():
        mask = (array == value).astype(np.uint8)
        if not mask.any() and not include_empty:
            continue
        segment_id = node.GetSegmentation().AddEmptySegment(segment_name.replace(" ", "_"), segment_name,
                                                             tuple(float(c) for c in color))
        if mask.any():
            slicer.util.updateSegmentBinaryLabelmapFromArray(mask, node, segment_id, reference_volume_node)
        ids[value] = segment_id
    return node


# --- markups <-> landmark points ----------------------------------------------------------------------

def set_markups_points(markups_node, points_lps: Mapping[str, Sequence[float]],
                       order: Sequence[str] = ()) -> None:
    """Replace the control points by labelled points given in LPS millimetres (core world frame)."""
    names = [n for n in order if n in points_lps] + [n for n in points_lps if n not in order]
    modified = markups_node.StartModify()
    markups_node.RemoveAllControlPoints()
    for name in names:
        x, y, z = (float(v) for v in points_lps[name])
        markups_node.AddControlPoint(-x, -y, z, name)  # LPS -> RAS
    markups_node.EndModify(modified)
    if markups_node.GetDisplayNode() is None:
        markups_node.CreateDefaultDisplayNodes()


def remember_automatic_points(markups_node, points_lps: Mapping[str, Sequence[float]]) -> None:
    """Keep the detected positions on the node (saved with the scene) to measure later corrections."""
    data = {name: [float(v) for v in point] for name, point in points_lps.items()}
    markups_node.SetAttribute(AUTOMATIC_LANDMARKS_ATTRIBUTE, json.dumps(data))


def automatic_points(markups_node) -> Optional[Dict[str, np.ndarray]]:
    text = markups_node.GetAttribute(AUTOMATIC_LANDMARKS_ATTRIBUTE) if markups_node is not None else None
    if not text:
        return None
    return {name: np.asarray(point, float) for name, point in json.loads(text).items()}


def vertebra_label_array(segmentation_node, reference_volume_node) -> np.ndarray:
    """VerSe-coded label array (20 = L1 ... 24 = L5, 26 = S1) from segments named like 'L3',
    'L3 vertebra' or 'vertebrae_L3' on the reference grid; ValueError when none is named so."""
    import re

    from spinequant.levels import VERTEBRA_CODES

    from .segments import segment_masks

    codes = {name: code for code, name in VERTEBRA_CODES.items()}
    segmentation = segmentation_node.GetSegmentation()
    chosen = {}
    for segment_id in segmentation.GetSegmentIDs():
        name = segmentation.GetSegment(segment_id).GetName().upper()
        match = re.search(r"(?<![A-Z0-9])(T1[0-2]|L[1-6]|S1)(?![0-9])", name)
        if match and match.group(1) in codes:
            chosen[segment_id] = codes[match.group(1)]
    if not chosen:
        raise ValueError(f"segmentation {segmentation_node.GetName()!r} has no segment named like a "
                         "vertebra (e.g. 'L3' or 'L3 vertebra')")
    masks = segment_masks(segmentation_node, reference_volume_node, list(chosen))
    labels = np.zeros(next(iter(masks.values())).shape, dtype=np.uint8)
    for segment_id, mask in masks.items():
        labels[mask > 0] = chosen[segment_id]
    return labels
