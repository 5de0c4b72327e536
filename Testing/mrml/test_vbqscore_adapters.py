"""VBQScoreLib adapters on real MRML nodes: level points as markups, ROIs as segments or label map, tables."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.mrml

VTK_DOUBLE = 11
LABEL_CODES = {"L1": 20, "L2": 21, "L3": 22, "L4": 23, "L5": 24}


@pytest.fixture(scope="module")
def phantom_result():
    """A sagittal phantom and its VBQ measured from landmarks at the known body centres (no detection)."""
    from spinequant.phantoms.sagittal import make_sagittal_phantom
    from spinequant.vbq import measure_vbq

    phantom = make_sagittal_phantom(seed=0)
    labels = phantom.labels.array
    k = phantom.midline_slice
    landmarks = {}
    for name, code in LABEL_CODES.items():
        j, i = np.argwhere(labels[k] == code).mean(axis=0)
        landmarks[name] = (phantom.volume.ijk_to_lps() @ np.array([i, j, k, 1.0]))[:3]
    return phantom, measure_vbq(phantom.volume, landmarks=landmarks)


@pytest.fixture
def volume_node(mrml_scene, phantom_result):
    from ParaspinalFatLib.review_nodes import tag_case_node
    from ParaspinalFatLib.volumes import node_from_volume

    return tag_case_node(node_from_volume(phantom_result[0].volume, "sagittal", scene=mrml_scene), "case7")


def test_level_points_round_trip_in_order_with_detected_copy(volume_node, phantom_result):
    from ParaspinalFatLib.review_nodes import automatic_points, case_of
    from VBQScoreLib.level_points import LANDMARK_ORDER, level_points_lps, place_level_points

    points = phantom_result[1].landmarks_lps
    markups = place_level_points(points, volume_node)

    labels = [markups.GetNthControlPointLabel(i) for i in range(markups.GetNumberOfControlPoints())]
    assert labels == [name for name in LANDMARK_ORDER if name in points]
    ras = [0.0, 0.0, 0.0]
    markups.GetNthControlPointPositionWorld(0, ras)
    assert np.allclose(ras, points["L1"] * np.array([-1.0, -1.0, 1.0]))  # LPS -> RAS
    read_back = level_points_lps(markups)
    assert set(read_back) == set(labels)
    assert all(np.allclose(read_back[name], points[name]) for name in labels)
    assert set(automatic_points(markups)) == set(labels)
    assert case_of(markups) == "case7"


def test_level_points_rejects_unknown_and_repeated_labels(mrml_scene, volume_node):
    from VBQScoreLib.level_points import level_points_lps, place_level_points

    assert level_points_lps(None) is None
    empty = mrml_scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "empty")
    assert level_points_lps(empty) is None
    with pytest.raises(ValueError, match="no level point"):
        place_level_points({"T9": [0, 0, 0]}, volume_node)

    markups = mrml_scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "my levels")
    markups.AddControlPoint(0.0, 0.0, 0.0, "L3")
    markups.AddControlPoint(0.0, 0.0, 10.0, "kidney")
    with pytest.raises(ValueError, match="my levels.*unknown landmark 'KIDNEY'"):
        level_points_lps(markups)
    markups.SetNthControlPointLabel(1, "L3")
    with pytest.raises(ValueError, match="L3 is placed twice"):
        level_points_lps(markups)
    markups.SetNthControlPointLabel(0, "CSF")
    markups.SetNthControlPointLabel(1, "CSF")
    markups.RemoveNthControlPoint(1)
    with pytest.raises(ValueError, match="no lumbar level"):
        level_points_lps(markups)


def test_roi_segmentation_matches_the_label_array(volume_node, phantom_result):
    from ParaspinalFatLib.review_nodes import case_of
    from ParaspinalFatLib.segments import segment_masks
    from spinequant.vbq.pipeline import ROI_LABELS
    from VBQScoreLib.roi_nodes import ROI_COLORS, write_roi_node

    phantom, result = phantom_result
    node = write_roi_node(result.roi_labels, phantom.volume, volume_node)

    segmentation = node.GetSegmentation()
    names = {segmentation.GetSegment(i).GetName(): i for i in segmentation.GetSegmentIDs()}
    present = {name for name, value in ROI_LABELS.items() if (result.roi_labels == value).any()}
    assert set(names) == {("CSF region" if name == "CSF" else f"{name} region") for name in present}
    masks = segment_masks(node, volume_node)
    for name in present:
        segment_id = names["CSF region" if name == "CSF" else f"{name} region"]
        assert np.array_equal(masks[segment_id] > 0, result.roi_labels == ROI_LABELS[name])
        assert np.allclose(segmentation.GetSegment(segment_id).GetColor(), ROI_COLORS[name])
    assert case_of(node) == "case7"

    again = write_roi_node(result.roi_labels, phantom.volume, volume_node, node)  # refilled, not stacked
    assert again is node and node.GetSegmentation().GetNumberOfSegments() == len(present)


def test_roi_label_map_and_shape_check(mrml_scene, volume_node, phantom_result):
    import slicer

    from VBQScoreLib.roi_nodes import write_roi_node

    phantom, result = phantom_result
    labelmap = mrml_scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "rois")
    write_roi_node(result.roi_labels, phantom.volume, volume_node, labelmap)
    assert np.array_equal(slicer.util.arrayFromVolume(labelmap), result.roi_labels)
    with pytest.raises(ValueError, match="do not match the image"):
        write_roi_node(result.roi_labels[:, :-1], phantom.volume, volume_node, labelmap)


def test_result_table_and_plain_words(volume_node, phantom_result):
    from VBQScoreLib.results import detection_summary, result_summary, write_result_table

    phantom, result = phantom_result
    frame, table = write_result_table(result, "case7", volume_node)

    assert table.GetNumberOfRows() == len(frame) and table.GetColumnType("value") == VTK_DOUBLE
    assert table.GetAttribute("SpineQuant.case_id") == "case7"
    vbq_rows = frame[frame.metric == "vbq"]
    assert vbq_rows["value"].iloc[0] == pytest.approx(result.vbq)
    text = result_summary(result)
    assert f"VBQ score {result.vbq:.2f}" in text and result.category in text
    assert detection_summary(None) == ""
    assert "Placed L1, L2" in detection_summary(result)
