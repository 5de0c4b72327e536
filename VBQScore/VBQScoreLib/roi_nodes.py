"""The measured regions (L1 ... L5 medullary ROIs and the CSF ROI) as a segmentation or label map node."""

from __future__ import annotations

import numpy as np

from ParaspinalFatLib.review_nodes import case_of, segmentation_from_label_array, tag_case_node
from ParaspinalFatLib.review_panel import tr
from ParaspinalFatLib.volumes import update_node_from_volume

ROI_COLORS = {"L1": (0.95, 0.6, 0.2), "L2": (0.95, 0.8, 0.2), "L3": (0.6, 0.85, 0.3), "L4": (0.3, 0.75, 0.85),
              "L5": (0.6, 0.6, 0.9), "CSF": (0.2, 0.4, 1.0)}


def roi_segment_names():
    """{label value: (segment name, colour)} of the VBQ regions (values of spinequant.vbq.pipeline.ROI_LABELS)."""
    from spinequant.vbq.pipeline import ROI_LABELS

    return {value: (tr("CSF region") if name == "CSF" else tr("{level} region").format(level=name),
                    ROI_COLORS.get(name, (0.8, 0.8, 0.8)))
            for name, value in ROI_LABELS.items()}


def write_roi_node(roi_labels: np.ndarray, image, volume_node, roi_node=None):
    """Put the ROI label array (K, J, I on the image grid) into roi_node and return it.

    A label map volume node is overwritten in place; anything else (or None) becomes a segmentation with
    one segment per measured region, on the volume's geometry. The node is tagged with the volume's case.
    """
    labels = np.asarray(roi_labels, dtype=np.int16)
    if labels.shape != image.array.shape:
        raise ValueError(f"ROI labels {labels.shape} do not match the image {image.array.shape} of "
                         f"{volume_node.GetName()!r}")
    if roi_node is not None and roi_node.IsA("vtkMRMLLabelMapVolumeNode"):
        update_node_from_volume(roi_node, image.with_array(labels))
        if roi_node.GetDisplayNode() is None:
            roi_node.CreateDefaultDisplayNodes()
    else:
        roi_node = segmentation_from_label_array(labels, volume_node, roi_segment_names(), node=roi_node,
                                                 name=f"{volume_node.GetName()} VBQ regions")
    return tag_case_node(roi_node, case_of(volume_node))
