"""Every Logic operation of both panels on real MRML nodes (slicer-core): segment, quantify, fat-voxel
overlay, detect levels, compute VBQ; phantoms with known answers, then the shared real cases."""

from __future__ import annotations

import numpy as np
import pytest

from shared_data import shared_case
from spinequant.phantoms.axial import make_axial_phantom
from spinequant.phantoms.sagittal import VERSE_CODES, make_sagittal_phantom

pytestmark = pytest.mark.mrml


VTK_DOUBLE = 11


def _phantom_segmenter(phantom):
    return lambda image, water, fat: phantom.labels


@pytest.fixture
def axial(mrml_scene):
    from ParaspinalFatLib.volumes import node_from_volume

    phantom = make_axial_phantom(seed=3, spacing=(2.5, 2.5, 4.0), n_slices=8, first_level="L3")
    nodes = {name: node_from_volume(getattr(phantom, name), name) for name in ("image", "water", "fat")}
    return phantom, nodes


@pytest.fixture
def paraspinal(load_module_file):
    return load_module_file("ParaspinalFat")


@pytest.fixture
def vbqscore(load_module_file):
    return load_module_file("VBQScore")


# --- ParaspinalFat: segment ------------------------------------------------------------------------------

def test_segment_fills_named_segments_and_keeps_the_automatic_copy(axial, paraspinal):
    from ParaspinalFatLib.review_nodes import automatic_segmentation
    from ParaspinalFatLib.segments import segment_terminology, structure_masks
    from spinequant.labels import DEFAULT_LABELS
    from spinequant.terminology import terminology_entry

    phantom, nodes = axial
    logic = paraspinal.ParaspinalFatLogic()
    segmentation = logic.segmentMuscles(nodes["image"], segmenter=_phantom_segmenter(phantom))

    names = sorted(segmentation.GetSegmentation().GetNthSegment(i).GetName() for i in range(8))
    assert "multifidus left" in names and "quadratus lumborum right" in names
    masks = structure_masks(segmentation, nodes["image"])
    for value, structure in DEFAULT_LABELS.items():
        assert np.array_equal(masks[structure], (phantom.labels.array == value).astype(np.uint8)), structure
    segment = segmentation.GetSegmentation().GetSegment(
        segmentation.GetSegmentation().GetSegmentIdBySegmentName("psoas left"))
    assert segment_terminology(segment) == terminology_entry(DEFAULT_LABELS[5])
    automatic = automatic_segmentation(segmentation)
    assert automatic is not None and automatic.GetDisplayNode().GetVisibility() == 0
    assert automatic.GetSegmentation().GetNumberOfSegments() == 8

    # Segmenting again refills the same node and replaces the automatic copy (no pile of nodes).
    again = logic.segmentMuscles(nodes["image"], segmentation, segmenter=_phantom_segmenter(phantom))
    assert again is segmentation and segmentation.GetSegmentation().GetNumberOfSegments() == 8
    scene = nodes["image"].GetScene()
    assert scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == 2
    assert scene.GetNumberOfNodesByClass("vtkMRMLTableNode") == 1  # the slice check, refilled too


def test_segment_writes_a_per_slice_check_table(axial, paraspinal):
    # a segmenter that returns labels only still gets the check (areas, flags); one side's multifidus
    # missing on slice 3 is flagged there and lowers that slice's confidence
    from ParaspinalFatLib.tables import node_to_frame

    phantom, nodes = axial
    labels = phantom.labels.array.copy()
    labels[3][labels[3] == 1] = 0
    logic = paraspinal.ParaspinalFatLogic()
    segmentation = logic.segmentMuscles(nodes["image"], segmenter=lambda image, water, fat: labels)
    check = logic.sliceCheckTable(segmentation)
    table = check.GetTable()
    assert table.GetNumberOfRows() == labels.shape[0]
    assert table.GetColumnByName("confidence").GetDataType() == VTK_DOUBLE
    assert table.GetColumnByName("area_mm2_multifidus_left").GetDataType() == VTK_DOUBLE
    assert check.GetColumnTitle("confidence") == "Confidence" and check.GetColumnUnitLabel("z_mm") == "mm"
    assert check.GetColumnUnitLabel("area_mm2_erector_spinae_right") == "mm2"
    frame = node_to_frame(check)
    assert "multifidus_missing_left" in frame.loc[3, "flags"] and frame.loc[3, "confidence"] < 1.0
    assert frame.drop(index=3)["flags"].eq("").all()
    pixel_mm2 = 2.5 * 2.5
    assert np.allclose(frame["area_mm2_erector_spinae_left"], (labels == 3).sum(axis=(1, 2)) * pixel_mm2)


def test_segment_with_the_builtin_segmenter(axial, paraspinal):
    pytest.importorskip("spinequant.segmentation")
    from ParaspinalFatLib.segments import structure_masks

    phantom, nodes = axial
    segmentation = paraspinal.ParaspinalFatLogic().segmentMuscles(nodes["image"], waterNode=nodes["water"],
                                                                 fatNode=nodes["fat"])
    masks = structure_masks(segmentation, nodes["image"])
    assert {s.name for s in masks} >= {"multifidus", "erector_spinae"}
    assert all(m.any() for m in masks.values())
    check = paraspinal.ParaspinalFatLogic.sliceCheckTable(segmentation)
    assert check.GetTable().GetNumberOfRows() == nodes["image"].GetImageData().GetDimensions()[2]
    assert check.GetTable().GetColumnByName("hints") is not None


def test_segment_can_be_cancelled(axial, paraspinal):
    from spinequant.review import Cancelled

    phantom, nodes = axial
    messages = []

    def progress(fraction, message):
        messages.append((fraction, message))
        return fraction < 0.5  # the user presses Cancel while the muscles are segmented

    with pytest.raises(Cancelled):
        paraspinal.ParaspinalFatLogic().segmentMuscles(nodes["image"], segmenter=_phantom_segmenter(phantom),
                                                      progress=progress)
    assert nodes["image"].GetScene().GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == 0
    assert [f for f, _ in messages] == sorted(f for f, _ in messages)


def test_segment_requires_an_image(mrml_scene, paraspinal):
    with pytest.raises(ValueError, match="image"):
        paraspinal.ParaspinalFatLogic().segmentMuscles(None)


# --- ParaspinalFat: quantify ------------------------------------------------------------------------------

def test_quantify_corrected_segments_dixon_truth(axial, paraspinal):
    from ParaspinalFatLib.tables import node_to_frame

    phantom, nodes = axial
    logic = paraspinal.ParaspinalFatLogic()
    segmentation = logic.segmentMuscles(nodes["image"], segmenter=_phantom_segmenter(phantom))
    table = nodes["image"].GetScene().AddNewNodeByClass("vtkMRMLTableNode", "results")
    fractions = []
    frame = logic.quantify(nodes["image"], segmentation, table, method="dixon", waterNode=nodes["water"],
                           fatNode=nodes["fat"], caseId="phantom", progress=lambda f, m: fractions.append(f))

    shown = node_to_frame(table)
    assert table.GetNumberOfRows() == len(frame) > 0 and table.GetColumnType("value") == VTK_DOUBLE
    rows = shown[(shown.metric == "fat_infiltration") & (shown.level == "all")]
    for key, expected in phantom.true_fat_infiltration.items():
        name, side = key.rsplit("_", 1)
        assert rows[(rows.structure == name) & (rows.side == side)]["value"].iloc[0] == pytest.approx(expected,
                                                                                                      abs=1e-6)
    assert (frame["software_version"] != "").all()
    assert set(frame.loc[frame.metric == "fat_infiltration", "method"]) == {"dixon"}
    assert fractions[0] == 0.0 and fractions[-1] == 1.0


def test_quantify_threshold_method_and_vertebra_levels(axial, paraspinal):
    from ParaspinalFatLib.review_nodes import segmentation_from_label_array
    from spinequant.levels import VERTEBRA_CODES

    phantom, nodes = axial
    logic = paraspinal.ParaspinalFatLogic()
    segmentation = logic.segmentMuscles(nodes["image"], segmenter=_phantom_segmenter(phantom))
    with pytest.raises(ValueError, match="threshold"):
        logic.quantify(nodes["image"], segmentation, method="threshold")

    # A vertebra segmentation with segments named "L3", "L4", ... gives the levels.
    vertebrae = segmentation_from_label_array(
        phantom.vertebrae.array, nodes["image"],
        {code: (f"{name} vertebra", (0.9, 0.9, 0.6)) for code, name in VERTEBRA_CODES.items()}, name="vertebrae")
    frame = logic.quantify(nodes["image"], segmentation, method="threshold", threshold=250.0, vertebrae=vertebrae)
    assert set(phantom.level_slices) <= set(frame["level"])
    assert set(frame.loc[frame.metric == "fat_infiltration", "method"]) == {"threshold=250"}


def test_fat_voxel_overlay_matches_core(axial, paraspinal):
    import slicer

    from ParaspinalFatLib.segments import structure_masks
    from ParaspinalFatLib.volumes import volume_from_node
    from spinequant.measure import primary_fat_voxels

    phantom, nodes = axial
    logic = paraspinal.ParaspinalFatLogic()
    segmentation = logic.segmentMuscles(nodes["image"], segmenter=_phantom_segmenter(phantom))
    overlay = logic.fatVoxelOverlay(nodes["image"], segmentation, "calibrated")
    segments = overlay.GetSegmentation()
    names = [segments.GetNthSegment(i).GetName() for i in range(segments.GetNumberOfSegments())]
    assert "multifidus left fat" in names
    union = np.zeros(phantom.image.array.shape, bool)
    for segment_id in segments.GetSegmentIDs():
        union |= slicer.util.arrayFromSegmentBinaryLabelmap(overlay, segment_id, nodes["image"]) > 0
    masks = {s: m > 0 for s, m in structure_masks(segmentation, nodes["image"]).items()}
    expected = primary_fat_voxels(volume_from_node(nodes["image"]), masks, "calibrated")
    assert np.array_equal(union, expected)
    # A second overlay refills the same node.
    assert logic.fatVoxelOverlay(nodes["image"], segmentation, "otsu", overlayNode=overlay) is overlay


# --- VBQScore ----------------------------------------------------------------------------------------------

@pytest.fixture
def sagittal(mrml_scene):
    from ParaspinalFatLib.volumes import node_from_volume

    phantom = make_sagittal_phantom(seed=1)
    return phantom, node_from_volume(phantom.volume, "sagittal")


def _voxel_label(phantom, point_lps):
    ijk = np.linalg.solve(phantom.volume.ijk_to_lps(), np.append(point_lps, 1.0))[:3]
    i, j, k = (int(round(v)) for v in ijk)
    return int(phantom.labels.array[k, j, i])


def test_detect_levels_places_draggable_points_inside_the_bodies(sagittal, vbqscore):
    from ParaspinalFatLib.landmarks import landmarks_lps
    from ParaspinalFatLib.review_nodes import automatic_points

    phantom, volume = sagittal
    logic = vbqscore.VBQScoreLogic()
    markups = logic.detectLevels(volume)
    labels = [markups.GetNthControlPointLabel(i) for i in range(markups.GetNumberOfControlPoints())]
    assert labels == ["L1", "L2", "L3", "L4", "L5", "CSF"]
    points = landmarks_lps(markups)
    for level in ("L1", "L2", "L3", "L4", "L5"):
        assert _voxel_label(phantom, points[level]) == VERSE_CODES[level], level
    assert _voxel_label(phantom, points["CSF"]) == 30
    assert not markups.GetLocked()
    remembered = automatic_points(markups)
    assert set(remembered) == set(labels)
    assert np.allclose(remembered["L3"], points["L3"])
    assert "Drag" in logic.detectionSummary(logic.lastResult)
    # Detecting again refills the given node.
    assert logic.detectLevels(volume, markups) is markups and markups.GetNumberOfControlPoints() == 6


def test_compute_vbq_rois_as_segments_score_and_plain_words(sagittal, vbqscore):
    phantom, volume = sagittal
    logic = vbqscore.VBQScoreLogic()
    markups = logic.detectLevels(volume)
    table = volume.GetScene().AddNewNodeByClass("vtkMRMLTableNode", "vbq")
    frame, result = logic.computeVBQ(volume, table, landmarksNode=markups, caseId="phantom")

    assert result.vbq == pytest.approx(phantom.vbq, rel=0.05)
    assert table.GetNumberOfRows() == len(frame)
    score = frame[frame.metric == "vbq"].iloc[0]
    assert score["category"] == result.category and score["cutoff"] == 3.0
    rois = logic.lastRoiNode
    assert rois.IsA("vtkMRMLSegmentationNode")
    names = {rois.GetSegmentation().GetNthSegment(i).GetName()
             for i in range(rois.GetSegmentation().GetNumberOfSegments())}
    assert {"L1 region", "L4 region", "CSF region"} <= names
    text = logic.summary(result)
    assert "VBQ score" in text and "cut-off 3.00" in text and result.category in text


def test_compute_vbq_exclusions_and_custom_cutoff(sagittal, vbqscore):
    phantom, volume = sagittal
    logic = vbqscore.VBQScoreLogic()
    markups = logic.detectLevels(volume)
    exclusions = {"L1": "include", "L2": "fracture", "L3": "include", "L4": "cement"}
    frame, result = logic.computeVBQ(volume, landmarksNode=markups, exclusions=exclusions, cutoff=2.0)
    assert result.levels_used == ["L1", "L3"]
    assert result.excluded["L2"] == "user: fracture" and result.excluded["L4"] == "user: cement"
    rows = frame[frame.metric == "signal_intensity"].set_index("level")
    assert rows.loc["L2", "excluded_reason"] == "user: fracture"
    assert result.cutoff.value == 2.0 and result.category == "low bone quality"
    text = logic.summary(result)
    assert "L2 left out: user: fracture" in text and "at or above the cut-off 2.00" in text
    # The ROI segmentation is reused, not duplicated.
    rois = logic.lastRoiNode
    logic.computeVBQ(volume, landmarksNode=markups, roiNode=rois)
    assert volume.GetScene().GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == 1


def test_compute_vbq_warns_in_plain_words_on_non_t1(sagittal, vbqscore):
    from ParaspinalFatLib.volumes import node_from_volume

    phantom, volume = sagittal
    logic = vbqscore.VBQScoreLogic()
    markups = logic.detectLevels(volume)
    bright = phantom.volume.array.copy()
    bright[phantom.labels.array == 30] = 900.0  # CSF brighter than marrow, as on T2
    t2 = node_from_volume(phantom.volume.with_array(bright), "t2-like")
    _frame, result = logic.computeVBQ(t2, landmarksNode=markups)
    text = logic.summary(result)
    assert "not T1-weighted" in text and "NOT valid" in text


def test_compute_vbq_with_a_labelmap_still_works(sagittal, vbqscore):
    import slicer

    phantom, volume = sagittal
    labelmap = volume.GetScene().AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "rois")
    frame = vbqscore.VBQScoreLogic().compute(volume, roiNode=labelmap, exclude=["L4"])
    assert "L4" not in frame[frame.metric == "vbq"].iloc[0]["levels_used"]
    assert slicer.util.arrayFromVolume(labelmap).max() > 0


def test_detect_levels_can_be_cancelled(sagittal, vbqscore):
    from spinequant.review import Cancelled

    _phantom, volume = sagittal
    with pytest.raises(Cancelled):
        vbqscore.VBQScoreLogic().detectLevels(volume, progress=lambda f, m: False)
    assert volume.GetScene().GetNumberOfNodesByClass("vtkMRMLMarkupsFiducialNode") == 0


# --- the modules' own in-Slicer tests, run here on slicer-core ---------------------------------------------

@pytest.mark.parametrize("module_name, test_class", [("ParaspinalFat", "ParaspinalFatTest"),
                                                     ("VBQScore", "VBQScoreTest")])
def test_module_self_tests_pass(mrml_scene, load_module_file, module_name, test_class):
    import unittest

    module = load_module_file(module_name)
    case = type("Case", (getattr(module, test_class), unittest.TestCase),
                {"delayDisplay": lambda self, message, *args, **kwargs: None, "runTest": lambda self: None})()
    base = getattr(module, test_class)
    for name in sorted(n for n in vars(base) if n.startswith("test_")):
        mrml_scene.Clear(0)
        getattr(case, name)()


# --- shared real data ----------------------------------------------------------------------------------

@pytest.mark.shared
def test_tum01_segment_and_quantify_dixon(mrml_scene, paraspinal):
    pytest.importorskip("spinequant.segmentation")
    from ParaspinalFatLib.review_nodes import load_volume
    from ParaspinalFatLib.segments import structure_masks

    folder = shared_case("axial_dixon", "TUM01")
    water = load_volume(str(folder / "image_water.nii.gz"), "water", "axial")
    fat = load_volume(str(folder / "image_fat.nii.gz"), "fat", "axial")
    import slicer

    image = slicer.util.addVolumeFromArray(
        slicer.util.arrayFromVolume(water).astype(np.float32) + slicer.util.arrayFromVolume(fat), name="W+F")
    matrix = __import__("vtk").vtkMatrix4x4()
    water.GetIJKToRASMatrix(matrix)
    image.SetIJKToRASMatrix(matrix)
    logic = paraspinal.ParaspinalFatLogic()
    segmentation = logic.segmentMuscles(image, waterNode=water, fatNode=fat)
    masks = structure_masks(segmentation, image)
    assert {"multifidus", "erector_spinae"} <= {s.name for s in masks}
    frame = logic.quantify(image, segmentation, method="dixon", waterNode=water, fatNode=fat, caseId="TUM01")
    fi = frame[(frame.metric == "fat_infiltration") & (frame.level == "all")]["value"]
    assert len(fi) >= 4 and ((fi >= 0) & (fi <= 100)).all()


@pytest.mark.shared
@pytest.mark.parametrize("case", [("sagittal_t1", "VB1_06_AKs6"), ("sagittal_t1", "VB1_10_DzZ_T1")])
def test_shared_sagittal_t1_detect_and_compute(mrml_scene, vbqscore, case):
    from ParaspinalFatLib.review_nodes import load_volume
    from spinequant.errors import InputError

    volume = load_volume(str(shared_case(*case) / "image.nii.gz"), case[1], "sagittal")
    logic = vbqscore.VBQScoreLogic()
    try:
        markups = logic.detectLevels(volume)
    except InputError as exc:  # the engine may refuse; the panel then says why in plain words
        assert "spine" in str(exc) or "column" in str(exc)
        return
    assert markups.GetNumberOfControlPoints() >= 4
    _frame, result = logic.computeVBQ(volume, landmarksNode=markups, caseId=case[1])
    assert np.isfinite(result.vbq) and result.vbq > 0
    assert "VBQ score" in logic.summary(result)


@pytest.mark.shared
def test_shared_t2_is_flagged_in_plain_words(mrml_scene, vbqscore):
    from ParaspinalFatLib.review_nodes import load_volume
    from spinequant.errors import InputError

    volume = load_volume(str(shared_case("sagittal_other", "VB1_11_DzZ_T2") / "image.nii.gz"), "t2", "sagittal")
    logic = vbqscore.VBQScoreLogic()
    try:
        _frame, result = logic.computeVBQ(volume)
    except InputError:
        return  # refusing is also correct for a T2 image
    assert "not T1-weighted" in logic.summary(result)
