"""ParaspinalFatLib adapters and ParaspinalFatLogic against real MRML nodes (slicer-core wheel)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from spinequant.imageio import Volume
from spinequant.labels import DEFAULT_LABELS, Structure
from spinequant.tables import LONG_COLUMNS, METRIC_UNITS, long_table
from spinequant.terminology import (
    ANATOMICAL_STRUCTURE,
    LATERALITY_CODES,
    MUSCLE_CODES,
    parse_terminology_entry,
    terminology_entry,
)

pytestmark = pytest.mark.mrml

VTK_DOUBLE = 11
VTK_STRING = 13


def _rotation(axis, degrees):
    angle = np.radians(degrees)
    c, s = np.cos(angle), np.sin(angle)
    i, j = [a for a in range(3) if a != axis]
    matrix = np.eye(3)
    matrix[i, i], matrix[i, j], matrix[j, i], matrix[j, j] = c, -s, s, c
    return matrix


def oblique_volume(shape=(5, 7, 9), spacing=(0.7, 0.9, 4.0), dtype=np.float32, seed=0) -> Volume:
    """Anisotropic, obliquely rotated volume with a non-zero origin (core LPS convention)."""
    rng = np.random.default_rng(seed)
    direction = _rotation(0, 17.0) @ _rotation(2, -23.0) @ _rotation(1, 8.0)
    array = rng.normal(100.0, 20.0, size=shape).astype(dtype)
    return Volume(array, spacing, origin=(-12.5, 33.0, 101.25), direction=direction, source="oblique")


def label_array(shape=(5, 7, 9)) -> np.ndarray:
    """Eight non-overlapping blocks with the project label values 1..8."""
    labels = np.zeros(shape, np.uint8)
    for value in range(1, 9):
        k, j = (value - 1) % 4, (value - 1) // 4
        labels[k:k + 2, 1 + 3 * j:3 + 3 * j, value - 1:value + 1] = value
    return labels


# --- volumes ------------------------------------------------------------------------------------------

def test_volume_round_trip_keeps_oblique_geometry(mrml_scene):
    from ParaspinalFatLib.volumes import ijk_to_ras, node_from_volume, volume_from_node

    volume = oblique_volume()
    node = node_from_volume(volume, "oblique")

    assert np.allclose(ijk_to_ras(node), volume.ijk_to_ras(), atol=1e-9)
    assert np.allclose(node.GetSpacing(), volume.spacing)
    back = volume_from_node(node)
    assert back.array.shape == volume.array.shape == (5, 7, 9)
    assert np.array_equal(back.array, volume.array)
    assert np.allclose(back.spacing, volume.spacing)
    assert np.allclose(back.origin, volume.origin)
    assert np.allclose(back.direction, volume.direction)
    assert np.allclose(back.ijk_to_ras(), volume.ijk_to_ras())


def test_volume_from_slicer_matrix_matches_core_world_points(mrml_scene):
    """A node built the Slicer way (IJKToRAS) maps voxels to the same RAS points as the core Volume."""
    import slicer

    from ParaspinalFatLib.volumes import volume_from_node

    ras_axes = _rotation(2, 30.0) @ _rotation(0, -12.0) @ np.diag([0.8, 1.1, 3.5])
    matrix = np.eye(4)
    matrix[:3, :3] = ras_axes
    matrix[:3, 3] = (10.0, -20.0, 5.0)
    array = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    node = slicer.util.addVolumeFromArray(array, ijkToRAS=matrix, name="slicer-made")

    volume = volume_from_node(node)
    assert np.allclose(volume.spacing, (0.8, 1.1, 3.5))
    assert np.allclose(volume.ijk_to_ras(), matrix)
    for ijk in [(0, 0, 0), (5, 4, 3), (2, 1, 3)]:
        ras = matrix @ np.append(ijk, 1.0)
        lps = volume.ijk_to_lps() @ np.append(ijk, 1.0)
        assert np.allclose(lps[:3], [-ras[0], -ras[1], ras[2]])
        # numpy K,J,I order: voxel (i, j, k) is array[k, j, i]
        assert volume.array[ijk[2], ijk[1], ijk[0]] == array[ijk[2], ijk[1], ijk[0]]


def test_volume_under_linear_transform_uses_world_geometry(mrml_scene):
    import slicer

    from ParaspinalFatLib.volumes import node_from_volume, volume_from_node

    volume = oblique_volume()
    node = node_from_volume(volume)
    transform = mrml_scene.AddNewNodeByClass("vtkMRMLLinearTransformNode")
    shift = np.eye(4)
    shift[:3, 3] = (5.0, 0.0, -2.0)
    transform.SetMatrixTransformToParent(slicer.util.vtkMatrixFromArray(shift))
    node.SetAndObserveTransformNodeID(transform.GetID())

    moved = volume_from_node(node)
    assert np.allclose(moved.ijk_to_ras(), shift @ volume.ijk_to_ras())


def test_labelmap_node_from_volume(mrml_scene):
    from ParaspinalFatLib.volumes import node_from_volume, volume_from_node

    labels = oblique_volume().with_array(label_array())
    node = node_from_volume(labels, "labels", labelmap=True)
    assert node.IsA("vtkMRMLLabelMapVolumeNode")
    assert node.GetDisplayNode() is not None
    assert np.array_equal(volume_from_node(node).array, labels.array)


def test_empty_volume_node_is_rejected(mrml_scene):
    from ParaspinalFatLib.volumes import volume_from_node

    node = mrml_scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "empty")
    with pytest.raises(ValueError, match="no image data"):
        volume_from_node(node)


# --- segments -----------------------------------------------------------------------------------------

def test_segments_round_trip_exact_on_oblique_grid(mrml_scene):
    from ParaspinalFatLib.segments import segment_masks, segmentation_from_labels, structure_masks
    from ParaspinalFatLib.volumes import node_from_volume

    reference = node_from_volume(oblique_volume(), "reference")
    labels = label_array()
    segmentation = segmentation_from_labels(labels, reference, name="muscles")

    assert segmentation.GetSegmentation().GetNumberOfSegments() == 8
    masks = structure_masks(segmentation, reference)
    assert set(masks) == set(DEFAULT_LABELS.values())
    for value, structure in DEFAULT_LABELS.items():
        assert masks[structure].dtype == np.uint8
        assert np.array_equal(masks[structure], (labels == value).astype(np.uint8)), structure
    by_id = segment_masks(segmentation, reference)
    assert sum(int(m.sum()) for m in by_id.values()) == int((labels > 0).sum())


def test_segmentation_names_colors_and_terminology(mrml_scene):
    from ParaspinalFatLib.segments import segment_terminology, segmentation_from_labels, structure_for_segment
    from ParaspinalFatLib.volumes import node_from_volume

    reference = node_from_volume(oblique_volume(), "reference")
    segmentation = segmentation_from_labels(label_array(), reference).GetSegmentation()
    names = [segmentation.GetNthSegment(i).GetName() for i in range(segmentation.GetNumberOfSegments())]
    assert names[:2] == ["multifidus left", "multifidus right"]
    assert "quadratus lumborum right" in names

    segment = segmentation.GetSegment(segmentation.GetSegmentIdBySegmentName("erector spinae right"))
    entry = segment_terminology(segment)
    assert entry == terminology_entry(Structure("erector_spinae", "right"))
    parsed = parse_terminology_entry(entry)
    assert parsed["category"] == ANATOMICAL_STRUCTURE
    assert parsed["type"] == MUSCLE_CODES["erector_spinae"]
    assert parsed["type_modifier"] == LATERALITY_CODES["right"]
    if hasattr(segment, "GetTerminology"):  # Slicer >= 5.10 reads the same tag
        assert segment.GetTerminology() == entry
    assert structure_for_segment(segment) == Structure("erector_spinae", "right")
    left, right = (segmentation.GetSegment(segmentation.GetSegmentIdBySegmentName(f"psoas {s}")).GetColor()
                   for s in ("left", "right"))
    assert left != right


def test_terminology_tag_survives_seg_nrrd_save_and_load(mrml_scene, tmp_path):
    import slicer

    from ParaspinalFatLib.segments import segment_terminology, segmentation_from_labels, structure_masks
    from ParaspinalFatLib.volumes import node_from_volume

    reference = node_from_volume(oblique_volume(), "reference")
    labels = label_array()
    segmentation = segmentation_from_labels(labels, reference)
    path = tmp_path / "muscles.seg.nrrd"
    storage = segmentation.CreateDefaultStorageNode()
    mrml_scene.AddNode(storage)
    storage.SetFileName(str(path))
    assert storage.WriteData(segmentation)

    loaded = mrml_scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "loaded")
    reader = slicer.vtkMRMLSegmentationStorageNode()
    mrml_scene.AddNode(reader)
    reader.SetFileName(str(path))
    assert reader.ReadData(loaded)
    segment = loaded.GetSegmentation().GetSegment(
        loaded.GetSegmentation().GetSegmentIdBySegmentName("multifidus left"))
    assert segment_terminology(segment) == terminology_entry(Structure("multifidus", "left"))
    masks = structure_masks(loaded, reference)
    assert np.array_equal(masks[Structure("psoas", "right")], (labels == 6).astype(np.uint8))


def test_segments_found_by_name_or_terminology(mrml_scene):
    from ParaspinalFatLib.segments import structure_masks
    from ParaspinalFatLib.volumes import node_from_volume

    reference = node_from_volume(oblique_volume(), "reference")
    segmentation_node = mrml_scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "manual")
    segmentation_node.CreateDefaultDisplayNodes()
    segmentation_node.SetReferenceImageGeometryParameterFromVolumeNode(reference)
    segmentation = segmentation_node.GetSegmentation()
    labels = label_array()
    import slicer

    # A user-renamed segment still counts through its codes; plain names work without codes.
    coded = segmentation.AddEmptySegment("a", "Segment_1")
    segmentation.GetSegment(coded).SetTag("TerminologyEntry", terminology_entry(Structure("psoas", "left")))
    slicer.util.updateSegmentBinaryLabelmapFromArray((labels == 5).astype(np.uint8), segmentation_node, coded,
                                                     reference)
    named = segmentation.AddEmptySegment("b", "Left Multifidus")
    slicer.util.updateSegmentBinaryLabelmapFromArray((labels == 1).astype(np.uint8), segmentation_node, named,
                                                     reference)
    segmentation.AddEmptySegment("c", "kidney")

    masks = structure_masks(segmentation_node, reference)
    assert set(masks) == {Structure("psoas", "left"), Structure("multifidus", "left")}
    with pytest.raises(ValueError, match="kidney"):
        structure_masks(segmentation_node, reference, strict=True)
    segmentation.AddEmptySegment("d", "multifidus_left")
    with pytest.raises(ValueError, match="both denote multifidus_left"):
        structure_masks(segmentation_node, reference)


def test_foreign_label_values_are_refused(mrml_scene):
    from ParaspinalFatLib.segments import segmentation_from_labels
    from ParaspinalFatLib.volumes import node_from_volume

    reference = node_from_volume(oblique_volume(), "reference")
    labels = label_array()
    labels[0, 0, 0] = 42
    with pytest.raises(ValueError, match=r"\[42\]"):
        segmentation_from_labels(labels, reference)


# --- tables -------------------------------------------------------------------------------------------

def sample_long_table() -> pd.DataFrame:
    rows = []
    for side, area, fat in (("left", 7.25, 19.9), ("right", 6.5, float("nan"))):
        for metric, value in (("csa", area), ("fat_infiltration", fat), ("volume", area * 2.4)):
            rows.append({"case_id": "case-01", "structure": "multifidus", "side": side, "level": "L4",
                         "metric": metric, "value": value, "unit": METRIC_UNITS[metric],
                         "method": "calibrated" if metric == "fat_infiltration" else "",
                         "software_version": "0.1.0", "slices": 6.0, "flag": ""})
    return long_table(rows)


def test_long_table_node_typed_columns_titles_units(mrml_scene):
    from ParaspinalFatLib.tables import long_table_to_node, node_to_frame

    frame = sample_long_table()
    node = long_table_to_node(frame, name="results")
    assert node.GetNumberOfRows() == len(frame) == 6
    names = [node.GetColumnName(i) for i in range(node.GetNumberOfColumns())]
    assert names[:len(LONG_COLUMNS)] == LONG_COLUMNS
    assert node.GetColumnType("value") == VTK_DOUBLE
    assert node.GetColumnType("slices") == VTK_DOUBLE
    for text_column in ("case_id", "structure", "side", "level", "metric", "unit", "method", "flag"):
        assert node.GetColumnType(text_column) == VTK_STRING, text_column
    assert node.GetColumnTitle("case_id") == "Case"
    assert node.GetColumnDescription("value").startswith("Measured value")
    assert node.GetColumnUnitLabel("value") == ""  # mixed units: the unit column carries them
    back = node_to_frame(node)
    assert np.allclose(back["value"], frame["value"], equal_nan=True)
    assert back["unit"].tolist() == frame["unit"].tolist()
    assert np.isnan(back["value"].iloc[4])


def test_single_unit_long_table_labels_the_value_column(mrml_scene):
    from ParaspinalFatLib.tables import long_table_to_node

    frame = sample_long_table()
    node = long_table_to_node(frame[frame.metric == "csa"].reset_index(drop=True))
    assert node.GetColumnUnitLabel("value") == "cm2"


def test_table_saved_and_reloaded_with_schema(mrml_scene, tmp_path):
    from ParaspinalFatLib.tables import load_table, long_table_to_node, node_to_frame, save_table

    frame = sample_long_table()
    node = long_table_to_node(frame, name="results")
    path = tmp_path / "results.tsv"
    assert save_table(node, str(path))
    assert path.exists() and (tmp_path / "results.schema.tsv").exists()
    schema = pd.read_csv(tmp_path / "results.schema.tsv", sep="\t", dtype=str).fillna("")
    assert set(schema["columnName"]) >= set(LONG_COLUMNS)

    loaded = load_table(str(path), "reloaded")
    assert loaded.GetNumberOfRows() == len(frame)
    assert loaded.GetColumnType("value") == VTK_DOUBLE
    assert loaded.GetColumnType("case_id") == VTK_STRING
    assert loaded.GetColumnType("level") == VTK_STRING  # "L4" stays text
    assert loaded.GetColumnTitle("structure") == "Structure"
    assert loaded.GetColumnDescription("method") == "Fat quantification method"
    back = node_to_frame(loaded)
    assert np.allclose(back["value"], frame["value"], equal_nan=True)
    assert back["case_id"].tolist() == ["case-01"] * 6


def test_wide_table_node_one_column_per_metric(mrml_scene, tmp_path):
    from ParaspinalFatLib.tables import load_table, save_table, wide_table_to_node

    node = wide_table_to_node(sample_long_table())
    names = [node.GetColumnName(i) for i in range(node.GetNumberOfColumns())]
    assert names[:5] == ["case_id", "structure", "side", "level", "method"]
    assert {"csa", "volume", "fat_infiltration"} <= set(names)
    assert node.GetColumnUnitLabel("csa") == "cm2"
    assert node.GetColumnUnitLabel("fat_infiltration") == "%"
    assert node.GetColumnTitle("csa") == "Cross-sectional area"
    assert node.GetColumnType("volume") == VTK_DOUBLE
    path = tmp_path / "wide.tsv"
    assert save_table(node, str(path))
    assert load_table(str(path)).GetColumnUnitLabel("volume") == "cm3"


# --- landmarks and the module logic ------------------------------------------------------------------

def test_landmarks_convert_ras_to_lps(mrml_scene):
    from ParaspinalFatLib.landmarks import landmarks_lps

    markups = mrml_scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "levels")
    markups.AddControlPoint(10.0, -20.0, 30.0, "l4")
    assert landmarks_lps(markups) == {"L4": [-10.0, 20.0, 30.0]}
    markups.AddControlPoint(1.0, 2.0, 3.0, "L4")
    with pytest.raises(ValueError, match="placed twice"):
        landmarks_lps(markups)


def _measure_available() -> bool:
    return importlib.util.find_spec("spinequant.measure") is not None


@pytest.mark.skipif(not _measure_available(), reason="spinequant.measure is not written yet")
def test_logic_quantify_dixon_phantom_end_to_end(mrml_scene, load_module_file):
    from ParaspinalFatLib.segments import segmentation_from_labels
    from ParaspinalFatLib.tables import node_to_frame
    from ParaspinalFatLib.volumes import node_from_volume
    from spinequant.phantoms.axial import make_axial_phantom

    module = load_module_file("ParaspinalFat")
    phantom = make_axial_phantom(seed=3, spacing=(2.5, 2.5, 4.0), n_slices=6)
    image = node_from_volume(phantom.image, "phantom")
    water = node_from_volume(phantom.water, "water")
    fat = node_from_volume(phantom.fat, "fat")
    segmentation = segmentation_from_labels(phantom.labels.array, image, name="muscles")
    table = mrml_scene.AddNewNodeByClass("vtkMRMLTableNode", "results")

    frame = module.ParaspinalFatLogic().quantify(image, segmentation, table, method="dixon",
                                                 waterNode=water, fatNode=fat, caseId="phantom")

    assert table.GetNumberOfRows() == len(frame) > 0
    assert table.GetColumnType("value") == VTK_DOUBLE
    shown = node_to_frame(table)
    rows = shown[(shown.metric == "fat_infiltration") & (shown.level == "all")]
    for key, expected in phantom.true_fat_infiltration.items():
        name, side = key.rsplit("_", 1)
        value = rows[(rows.structure == name) & (rows.side == side)]["value"]
        assert len(value) == 1, key
        assert value.iloc[0] == pytest.approx(expected, abs=1e-6), key
    assert set(shown["case_id"]) == {"phantom"}


@pytest.mark.skipif(not _measure_available(), reason="spinequant.measure is not written yet")
def test_logic_quantify_levels_from_landmarks(mrml_scene, load_module_file):
    from ParaspinalFatLib.segments import segmentation_from_labels
    from ParaspinalFatLib.volumes import node_from_volume
    from spinequant.phantoms.axial import make_axial_phantom

    module = load_module_file("ParaspinalFat")
    phantom = make_axial_phantom(seed=1, spacing=(2.5, 2.5, 4.0), n_slices=12, first_level="L3")
    image = node_from_volume(phantom.image, "phantom")
    segmentation = segmentation_from_labels(phantom.labels.array, image)
    markups = mrml_scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "levels")
    for level, slices in phantom.level_slices.items():
        centre = np.array([0.0, 0.0, float(np.mean(slices)), 1.0])
        ras = phantom.image.ijk_to_ras() @ centre
        markups.AddControlPoint(float(ras[0]), float(ras[1]), float(ras[2]), level)

    frame = module.ParaspinalFatLogic().quantify(image, segmentation, None, method="calibrated",
                                                 levels=markups)
    assert set(phantom.level_slices) <= set(frame["level"])
    assert mrml_scene.GetFirstNodeByClass("vtkMRMLTableNode") is not None


def test_logic_reports_missing_inputs(mrml_scene, load_module_file):
    module = load_module_file("ParaspinalFat")
    logic = module.ParaspinalFatLogic()
    with pytest.raises(ValueError, match="image"):
        logic.quantify(None, None)
    image = mrml_scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode")
    segmentation = mrml_scene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    with pytest.raises(ValueError, match="water"):
        logic.quantify(image, segmentation, method="dixon")
