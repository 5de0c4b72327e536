"""The case-by-case review loop of both panels on real MRML nodes: case folder -> segment/detect ->
(hand correction) -> accept and next -> cohort + files + review log; then "reopen" (new Logic, cleared
scene) and resume where the user stopped, with the cohort intact. Plus the pure parts of
spinequant.review (case discovery, state, backups, correction metrics)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from shared_data import shared_case
from spinequant.errors import CohortError, InputError
from spinequant.imageio import write_volume
from spinequant.phantoms.axial import make_axial_phantom
from spinequant.phantoms.sagittal import make_sagittal_phantom
from spinequant.review import (
    MEASURED,
    NOT_STARTED,
    REVIEWED,
    Cancelled,
    ReviewSession,
    backup_existing,
    find_cases,
    landmark_changes,
    mask_changes,
    read_review_log,
    was_corrected,
)
from spinequant.tables import read_long_table

SEEDS = {"case1": 11, "case2": 12, "case3": 13}


def axial_phantom(case_id):
    return make_axial_phantom(seed=SEEDS[case_id], spacing=(2.5, 2.5, 4.0), n_slices=6)


@pytest.fixture
def axial_folder(tmp_path):
    """Three cases: case1 a NIfTI image, case2 an NRRD image, case3 Dixon water + fat only."""
    folder = tmp_path / "axial_cases"
    for case_id in SEEDS:
        (folder / case_id).mkdir(parents=True)
    write_volume(axial_phantom("case1").image, str(folder / "case1" / "image.nii.gz"))
    write_volume(axial_phantom("case2").image, str(folder / "case2" / "t1_axial.nrrd"))
    write_volume(axial_phantom("case3").water, str(folder / "case3" / "water.nii.gz"))
    write_volume(axial_phantom("case3").fat, str(folder / "case3" / "fat.nii.gz"))
    (folder / "notes.txt").write_text("not a case")
    return folder


def phantom_segmenter(case_id):
    return lambda image, water, fat: axial_phantom(case_id).labels


def erode_segment(segmentation, volume, name):
    """What a user does in the Segment Editor: shave voxels off one muscle."""
    import slicer

    segment_id = segmentation.GetSegmentation().GetSegmentIdBySegmentName(name)
    mask = slicer.util.arrayFromSegmentBinaryLabelmap(segmentation, segment_id, volume)
    columns = np.nonzero(mask.any(axis=(0, 1)))[0]
    mask[:, :, columns[: max(1, len(columns) // 3)]] = 0
    slicer.util.updateSegmentBinaryLabelmapFromArray(mask, segmentation, segment_id, volume)


# --- pure parts -------------------------------------------------------------------------------------------

def test_find_cases_roles_and_skips(axial_folder, tmp_path):
    (axial_folder / "empty").mkdir()
    write_volume(axial_phantom("case1").image, str(axial_folder / "loose.nii.gz"))
    cases, notes = find_cases(axial_folder)
    assert [c.case_id for c in cases] == ["case1", "case2", "case3", "loose"]
    by_id = {c.case_id: c for c in cases}
    assert set(by_id["case3"].files) == {"water", "fat"}
    assert by_id["case2"].files["image"].endswith("t1_axial.nrrd")
    assert any("empty" in n for n in notes)


def test_find_cases_dicom_series(tmp_path):
    import SimpleITK as sitk

    folder = tmp_path / "dicom_cases" / "patient7" / "series1"
    folder.mkdir(parents=True)
    volume = axial_phantom("case1").image
    image = sitk.Cast(sitk.RescaleIntensity(volume.to_sitk(), 0, 1000), sitk.sitkInt16)
    for k in range(image.GetDepth()):
        piece = image[:, :, k]
        for key, value in (("0008|0060", "MR"), ("0020|000e", "1.2.3.4.5"), ("0020|0013", str(k + 1)),
                           ("0020|0032", "\\".join(str(v) for v in image.TransformIndexToPhysicalPoint((0, 0, k)))),
                           ("0020|0037", "1\\0\\0\\0\\1\\0")):
            piece.SetMetaData(key, value)
        sitk.WriteImage(piece, str(folder / f"slice{k:03d}.dcm"))
    cases, _ = find_cases(tmp_path / "dicom_cases")
    assert [c.case_id for c in cases] == ["patient7"]
    assert cases[0].files["image"] == str(folder)


def test_backup_keeps_compound_suffix(tmp_path):
    target = tmp_path / "case.seg.nrrd"
    assert backup_existing(target) is None
    target.write_text("first")
    backup = backup_existing(target)
    assert backup.name.startswith("case.backup-") and backup.name.endswith(".seg.nrrd")
    assert backup.read_text() == "first" and target.exists()
    assert backup_existing(target) != backup  # a second backup in the same second gets its own name


def test_mask_and_landmark_changes():
    from spinequant.labels import Structure

    left = Structure("multifidus", "left")
    auto = np.zeros((2, 10, 10), bool)
    auto[:, 2:6, 2:6] = True
    final = auto.copy()
    final[:, 2:6, 5] = False
    rows = {r["metric"]: r["value"] for r in mask_changes({left: auto}, {left: final}, pixel_area_mm2=100.0)}
    assert rows["dice"] == pytest.approx(2 * 24 / (32 + 24))
    assert rows["csa_automatic"] == pytest.approx(16.0) and rows["csa_accepted"] == pytest.approx(12.0)
    assert rows["csa_change"] == pytest.approx(-25.0)
    assert rows["voxels_removed"] == 8 and rows["voxels_added"] == 0
    unchanged = mask_changes({left: auto}, {left: auto}, 1.0)
    assert not was_corrected(unchanged) and was_corrected(mask_changes({left: auto}, {left: final}, 1.0))

    shifts = landmark_changes({"L3": [0, 0, 0], "L4": [0, 0, 30]}, {"L3": [3, 4, 0], "L4": [0, 0, 30.2]},
                              {"L2": "user: fracture"})
    by_level = {(r["level"], r["metric"]): r for r in shifts}
    assert by_level[("L3", "shift_mm")]["value"] == pytest.approx(5.0)
    assert by_level[("L2", "excluded")]["unit"] == "user: fracture"
    assert was_corrected(shifts)
    assert not was_corrected(landmark_changes({"L4": [0, 0, 0]}, {"L4": [0, 0, 0.2]}))


def test_state_file_is_atomic_json_and_cohort_chosen_once(axial_folder, tmp_path):
    session = ReviewSession.open(axial_folder, "ParaspinalFat", cohort_path=tmp_path / "cohort.csv")
    state = json.loads(session.state_path.read_text())
    assert state["current_case"] == "case1" and [c["status"] for c in state["cases"]] == [NOT_STARTED] * 3
    assert session.state_path.parent == axial_folder / "SpineQuantReview"
    assert not list(session.state_path.parent.glob(".*part*"))
    session.go_to(1)
    assert ReviewSession.open(axial_folder, "ParaspinalFat").current_case.case_id == "case2"
    with pytest.raises(CohortError, match="chosen when the review started"):
        ReviewSession.open(axial_folder, "ParaspinalFat", cohort_path=tmp_path / "other.csv")
    # The two panels keep separate states in the same output folder.
    assert ReviewSession.open(axial_folder, "VBQScore").cohort_path == ""


def test_unreadable_state_is_reported_not_overwritten(axial_folder):
    session = ReviewSession.open(axial_folder, "ParaspinalFat")
    session.state_path.write_text("{broken")
    with pytest.raises(InputError, match="unreadable"):
        ReviewSession.open(axial_folder, "ParaspinalFat")
    assert session.state_path.read_text() == "{broken"


# --- ParaspinalFat review loop -------------------------------------------------------------------------------

@pytest.fixture
def paraspinal(load_module_file):
    return load_module_file("ParaspinalFat")


def run_case(logic, session, correct=False):
    """Load the current case, segment it (phantom labels stand in for the segmenter), optionally correct
    a muscle by hand, quantify, and return (nodes, segmentation)."""
    case_id = session.current_case.case_id
    nodes = logic.loadReviewCase(session, session.current)
    segmentation = logic.segmentMuscles(nodes["volume"], waterNode=nodes["water"], fatNode=nodes["fat"],
                                        segmenter=phantom_segmenter(case_id))
    if correct:
        erode_segment(segmentation, nodes["volume"], "erector spinae left")
    logic.quantify(nodes["volume"], segmentation, caseId=case_id)
    logic.noteMeasured(session)
    return nodes, segmentation


def test_paraspinal_review_three_cases_then_resume(mrml_scene, paraspinal, axial_folder, tmp_path):
    cohort = tmp_path / "cohort.csv"
    logic = paraspinal.ParaspinalFatLogic()
    session = logic.openReview(axial_folder, cohortPath=cohort)
    assert session.current_case.case_id == "case1"

    # case 1: accepted as segmented
    nodes, segmentation = run_case(logic, session)
    assert session.status("case1") == MEASURED
    next_index = logic.acceptReviewCase(session, nodes["volume"], segmentation)
    assert next_index == 1 and session.status("case1") == REVIEWED
    # case 2: corrected by hand in the Segment Editor, then accepted
    nodes, segmentation = run_case(logic, session, correct=True)
    assert logic.acceptReviewCase(session, nodes["volume"], segmentation) == 2
    # case 3 (Dixon only: the image shown is water + fat): segmented and measured, then the user stops
    nodes, segmentation = run_case(logic, session)
    assert nodes["volume"].GetName() == "case3 (water+fat)" and nodes["water"] is not None
    cohort_before = read_long_table(str(cohort))
    assert sorted(set(cohort_before["case_id"])) == ["case1", "case2"]

    # Files of the accepted cases, nothing left half-written.
    out = axial_folder / "SpineQuantReview"
    for case_id in ("case1", "case2"):
        for name in (f"{case_id}.seg.nrrd", f"{case_id}_automatic.seg.nrrd", f"{case_id}_measurements.csv"):
            assert (out / case_id / name).is_file(), name
    assert not list(out.rglob(".*part*"))

    # How much was corrected: columns in the cohort and the review log.
    rows = cohort_before.set_index("case_id")
    assert set(rows.loc["case1", "hand_corrected"]) == {"no"} and set(rows.loc["case2", "hand_corrected"]) == {"yes"}
    es_left = cohort_before[(cohort_before.case_id == "case2") & (cohort_before.structure == "erector_spinae")
                            & (cohort_before.side == "left") & (cohort_before.metric == "csa")]
    assert (es_left["review_dice"] < 1).all() and (es_left["review_csa_change"] < 0).all()
    log = read_review_log(out / "review_log.csv")
    dice = log[(log.metric == "dice") & (log.structure == "erector_spinae") & (log.side == "left")]
    assert dice.set_index("case_id").loc["case1", "value"] == pytest.approx(1.0)
    assert dice.set_index("case_id").loc["case2", "value"] < 0.95
    assert (log["software_version"] != "").all()

    # Reopen: new scene content, new Logic instance; resumes at case 3 with the cohort intact.
    mrml_scene.Clear(0)
    logic = paraspinal.ParaspinalFatLogic()
    resumed = logic.openReview(axial_folder)
    assert resumed.current_case.case_id == "case3"
    assert resumed.statuses() == [("case1", REVIEWED), ("case2", REVIEWED), ("case3", MEASURED)]
    assert resumed.cohort_path == str(cohort.resolve())
    pd.testing.assert_frame_equal(read_long_table(str(cohort)), cohort_before)

    nodes, segmentation = run_case(logic, resumed)
    logic.acceptReviewCase(resumed, nodes["volume"], segmentation, method="dixon", waterNode=nodes["water"],
                           fatNode=nodes["fat"])
    assert resumed.finished
    final = read_long_table(str(cohort))
    assert sorted(set(final["case_id"])) == ["case1", "case2", "case3"]
    pd.testing.assert_frame_equal(final[final.case_id != "case3"].reset_index(drop=True)[cohort_before.columns],
                                  cohort_before, check_dtype=False)
    assert "dixon" in set(final.loc[final.case_id == "case3", "method"])


def test_reopening_a_reviewed_case_loads_the_accepted_masks_and_replaces_with_backup(
        mrml_scene, paraspinal, axial_folder, tmp_path):
    from ParaspinalFatLib.review_nodes import automatic_segmentation
    from ParaspinalFatLib.segments import structure_masks

    cohort = tmp_path / "cohort.csv"
    logic = paraspinal.ParaspinalFatLogic()
    session = logic.openReview(axial_folder, cohortPath=cohort)
    nodes, segmentation = run_case(logic, session, correct=True)
    accepted_masks = structure_masks(segmentation, nodes["volume"])
    logic.acceptReviewCase(session, nodes["volume"], segmentation)
    rows_before = len(read_long_table(str(cohort)))

    nodes = logic.loadReviewCase(session, 0)  # "Previous"
    loaded = nodes["segmentation"]
    assert loaded is not None and automatic_segmentation(loaded) is not None
    for structure, mask in structure_masks(loaded, nodes["volume"]).items():
        assert np.array_equal(mask, accepted_masks[structure]), structure
    # Only one case's nodes in the scene after switching cases.
    assert mrml_scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode") == 1

    assert not logic.caseInCohort(session)  # re-accepting this review's own case replaces it
    logic.acceptReviewCase(session, nodes["volume"], loaded)
    out = axial_folder / "SpineQuantReview"
    assert len(read_long_table(str(cohort))) == rows_before
    assert len(list(tmp_path.glob("cohort.backup-*.csv"))) == 1
    assert len(list((out / "case1").glob("case1.backup-*.seg.nrrd"))) == 1
    assert len(list(out.glob("review_log.backup-*.csv"))) == 1


def test_case_already_in_cohort_needs_replace(mrml_scene, paraspinal, axial_folder, tmp_path):
    cohort = tmp_path / "cohort.xlsx"
    logic = paraspinal.ParaspinalFatLogic()
    first = logic.openReview(axial_folder, outputFolder=tmp_path / "first", cohortPath=cohort)
    nodes, segmentation = run_case(logic, first)
    logic.acceptReviewCase(first, nodes["volume"], segmentation)

    # A second review of the same folder writing to the same cohort file: case1 is already there.
    second = logic.openReview(axial_folder, outputFolder=tmp_path / "second", cohortPath=cohort)
    nodes, segmentation = run_case(logic, second)
    assert logic.caseInCohort(second)
    with pytest.raises(CohortError, match="already in the cohort"):
        logic.acceptReviewCase(second, nodes["volume"], segmentation)
    assert not (tmp_path / "second" / "case1" / "case1.seg.nrrd").exists()  # refused before writing
    logic.acceptReviewCase(second, nodes["volume"], segmentation, replace=True)
    assert list(tmp_path.glob("cohort.backup-*.xlsx"))
    assert set(read_long_table(str(cohort))["case_id"]) == {"case1"}
    assert "wide" in pd.ExcelFile(cohort).sheet_names


def test_accept_cancelled_writes_nothing(mrml_scene, paraspinal, axial_folder, tmp_path):
    cohort = tmp_path / "cohort.csv"
    logic = paraspinal.ParaspinalFatLogic()
    session = logic.openReview(axial_folder, cohortPath=cohort)
    nodes, segmentation = run_case(logic, session)
    with pytest.raises(Cancelled):
        logic.acceptReviewCase(session, nodes["volume"], segmentation, progress=lambda f, m: f < 0.3)
    assert not cohort.exists()
    assert ReviewSession.open(axial_folder, "ParaspinalFat").status("case1") == MEASURED


def test_accept_without_cohort_is_refused(mrml_scene, paraspinal, axial_folder):
    logic = paraspinal.ParaspinalFatLogic()
    session = logic.openReview(axial_folder)
    nodes, segmentation = run_case(logic, session)
    with pytest.raises(CohortError, match="choose the cohort file"):
        logic.acceptReviewCase(session, nodes["volume"], segmentation)


# --- VBQScore review loop -----------------------------------------------------------------------------------

@pytest.fixture
def vbqscore(load_module_file):
    return load_module_file("VBQScore")


@pytest.fixture
def sagittal_folder(tmp_path):
    folder = tmp_path / "sagittal_cases"
    for index, case_id in enumerate(("s1", "s2", "s3")):
        (folder / case_id).mkdir(parents=True)
        write_volume(make_sagittal_phantom(seed=index).volume, str(folder / case_id / "image.nii.gz"))
    return folder


def test_vbq_review_three_cases_then_resume(mrml_scene, vbqscore, sagittal_folder, tmp_path):
    from ParaspinalFatLib.landmarks import landmarks_lps

    cohort = tmp_path / "vbq_cohort.csv"
    logic = vbqscore.VBQScoreLogic()
    session = logic.openReview(sagittal_folder, cohortPath=cohort)

    # s1: detected levels accepted as they are
    nodes = logic.loadReviewCase(session, session.current)
    markups = logic.detectLevels(nodes["volume"])
    logic.noteMeasured(session)
    assert logic.acceptReviewCase(session, nodes["volume"], markups) == 1
    # s2: the user drags L3 by 3 mm and excludes L2 (fracture)
    nodes = logic.loadReviewCase(session, session.current)
    markups = logic.detectLevels(nodes["volume"])
    index = markups.GetControlPointIndexByLabel("L3")
    position = markups.GetNthControlPointPositionWorld(index)
    markups.SetNthControlPointPositionWorld(index, position[0], position[1], position[2] + 3.0)
    dragged_l3 = landmarks_lps(markups)["L3"]
    exclusions = {"L1": "include", "L2": "fracture", "L3": "include", "L4": "include"}
    logic.acceptReviewCase(session, nodes["volume"], markups, exclusions=exclusions)
    # s3: detected, then the user stops
    nodes = logic.loadReviewCase(session, session.current)
    logic.detectLevels(nodes["volume"])
    logic.noteMeasured(session)
    cohort_before = read_long_table(str(cohort))
    assert sorted(set(cohort_before["case_id"])) == ["s1", "s2"]
    score = cohort_before[cohort_before.metric == "vbq"].set_index("case_id")
    assert "L2" not in score.loc["s2", "levels_used"] and score.loc["s1", "hand_corrected"] == "no"
    assert score.loc["s2", "hand_corrected"] == "yes"
    out = sagittal_folder / "SpineQuantReview"
    for name in ("s2.mrk.json", "s2_automatic.mrk.json", "s2_rois.seg.nrrd", "s2_measurements.csv"):
        assert (out / "s2" / name).is_file(), name
    log = read_review_log(out / "review_log.csv")
    shift = log[(log.case_id == "s2") & (log.metric == "shift_mm")].set_index("level")["value"]
    assert shift["L3"] == pytest.approx(3.0, abs=1e-3) and shift["L4"] == pytest.approx(0.0, abs=1e-6)
    assert (log[(log.case_id == "s2") & (log.metric == "excluded")]["unit"] == "user: fracture").all()

    # Reopen: new Logic, cleared scene; resumes at s3 with the cohort intact.
    mrml_scene.Clear(0)
    logic = vbqscore.VBQScoreLogic()
    resumed = logic.openReview(sagittal_folder)
    assert resumed.current_case.case_id == "s3"
    assert resumed.statuses() == [("s1", REVIEWED), ("s2", REVIEWED), ("s3", MEASURED)]
    pd.testing.assert_frame_equal(read_long_table(str(cohort)), cohort_before)

    # Going back to s2 shows the accepted (dragged) landmarks and the exclusions chosen then.
    nodes = logic.loadReviewCase(resumed, 1)
    assert nodes["exclusions"] == {"L2": "fracture"}
    accepted = landmarks_lps(nodes["landmarks"])
    assert accepted["L3"][2] == pytest.approx(dragged_l3[2], abs=1e-3)
    nodes = logic.loadReviewCase(resumed, 2)
    markups = logic.detectLevels(nodes["volume"])
    logic.acceptReviewCase(resumed, nodes["volume"], markups)
    assert resumed.finished
    assert sorted(set(read_long_table(str(cohort))["case_id"])) == ["s1", "s2", "s3"]


def test_vbq_case_landmarks_file_is_loaded(mrml_scene, vbqscore, tmp_path):
    from spinequant.vbq.landmarks import write_landmarks

    phantom = make_sagittal_phantom(seed=1)
    folder = tmp_path / "cases" / "p1"
    folder.mkdir(parents=True)
    write_volume(phantom.volume, str(folder / "image.nii.gz"))
    from spinequant.vbq import measure_vbq

    points = {k: v for k, v in measure_vbq(phantom.volume).landmarks_lps.items() if k != "T12"}
    write_landmarks(points, str(folder / "landmarks.json"))
    logic = vbqscore.VBQScoreLogic()
    session = logic.openReview(tmp_path / "cases", cohortPath=tmp_path / "c.csv")
    nodes = logic.loadReviewCase(session, 0)
    assert nodes["landmarks"].GetNumberOfControlPoints() >= 5
    _frame, result = logic.computeVBQ(nodes["volume"], landmarksNode=nodes["landmarks"])
    assert result.source == "landmarks"
    assert result.vbq == pytest.approx(measure_vbq(phantom.volume, landmarks=points).vbq, rel=1e-6)


# --- shared real data ----------------------------------------------------------------------------------

@pytest.mark.shared
def test_review_of_the_shared_dixon_folder(mrml_scene, paraspinal, tmp_path):
    """The real TUM01 case through the loop; the read-only data folder gets nothing, outputs go elsewhere."""
    pytest.importorskip("spinequant.segmentation")
    folder = shared_case("axial_dixon")
    logic = paraspinal.ParaspinalFatLogic()
    session = logic.openReview(folder, outputFolder=tmp_path / "review", cohortPath=tmp_path / "cohort.csv")
    assert [c.case_id for c in session.cases] == ["TUM01"]
    nodes = logic.loadReviewCase(session, 0)
    assert nodes["water"] is not None and nodes["fat"] is not None and nodes["segmentation"] is None
    segmentation = logic.segmentMuscles(nodes["volume"], waterNode=nodes["water"], fatNode=nodes["fat"])
    logic.acceptReviewCase(session, nodes["volume"], segmentation, method="dixon", waterNode=nodes["water"],
                           fatNode=nodes["fat"])
    rows = read_long_table(str(tmp_path / "cohort.csv"))
    assert set(rows["case_id"]) == {"TUM01"} and (rows["hand_corrected"] == "no").all()
    assert (tmp_path / "review" / "TUM01" / "TUM01.seg.nrrd").is_file()
    assert logic.openReview(folder, outputFolder=tmp_path / "review").finished


@pytest.mark.shared
def test_review_of_the_shared_sagittal_folder(mrml_scene, vbqscore, tmp_path):
    from spinequant.errors import InputError as CoreInputError

    folder = shared_case("sagittal_t1")
    logic = vbqscore.VBQScoreLogic()
    session = logic.openReview(folder, outputFolder=tmp_path / "review", cohortPath=tmp_path / "cohort.csv")
    assert [c.case_id for c in session.cases] == ["VB1_06_AKs6", "VB1_10_DzZ_T1"]
    nodes = logic.loadReviewCase(session, 0)
    try:
        markups = logic.detectLevels(nodes["volume"])
    except CoreInputError:
        pytest.skip("the VBQ engine finds no column on this case yet")
    logic.acceptReviewCase(session, nodes["volume"], markups)
    resumed = vbqscore.VBQScoreLogic().openReview(folder, outputFolder=tmp_path / "review")
    assert resumed.current_case.case_id == "VB1_10_DzZ_T1"
    assert set(read_long_table(str(tmp_path / "cohort.csv"))["case_id"]) == {"VB1_06_AKs6"}


def test_axial_case_landmarks_json_gives_levels(mrml_scene, paraspinal, tmp_path):
    from spinequant.vbq.landmarks import write_landmarks

    phantom = make_axial_phantom(seed=5, spacing=(2.5, 2.5, 4.0), n_slices=12, first_level="L3")
    folder = tmp_path / "cases" / "a1"
    folder.mkdir(parents=True)
    write_volume(phantom.image, str(folder / "image.nii.gz"))
    points = {level: (phantom.image.ijk_to_lps() @ np.array([0.0, 0.0, float(np.mean(slices)), 1.0]))[:3]
              for level, slices in phantom.level_slices.items()}
    write_landmarks(points, str(folder / "landmarks.json"))
    logic = paraspinal.ParaspinalFatLogic()
    session = logic.openReview(tmp_path / "cases")
    assert set(session.current_case.files) == {"image", "landmarks"}
    nodes = logic.loadReviewCase(session, 0)
    assert nodes["landmarks"].GetNumberOfControlPoints() == len(points)
    segmentation = logic.segmentMuscles(nodes["volume"], segmenter=lambda image, water, fat: phantom.labels)
    frame = logic.quantify(nodes["volume"], segmentation, levels=nodes["landmarks"])
    assert set(phantom.level_slices) <= set(frame["level"])
