# No "from __future__ import annotations" here: @parameterNodeWrapper reads the field annotations at
# class creation, so they must stay real objects.
import logging
import pathlib
from typing import Annotated

import numpy as np
import slicer
from slicer import (
    vtkMRMLMarkupsFiducialNode,
    vtkMRMLScalarVolumeNode,
    vtkMRMLSegmentationNode,
    vtkMRMLTableNode,
)
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, Default, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

from ParaspinalFatLib.panel_common import PanelMixin, ReviewLogicMixin, ensureDependencies, runWithProgress

# Reasons a user may give to leave a level out of the score ("include" keeps it).
EXCLUSION_CHOICES = ("include", "fracture", "cement", "lesion")
VBQ_LEVELS = ("L1", "L2", "L3", "L4")  # the levels of the score, as in spinequant.vbq.pipeline
DEFAULT_CUTOFF = 3.0  # Ehresman et al. 2020 (spinequant.vbq.cutoffs preset "ehresman2020")

#
# VBQScore
#


class VBQScore(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("VBQ Score")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Quantification")]
        # VBQScoreLib builds on the shared MRML adapters of ParaspinalFatLib.
        self.parent.dependencies = ["SpineQuantCore", "ParaspinalFat"]
        self.parent.contributors = ["SpineQuant developers"]
        self.parent.helpText = _(
            "Computes the MRI vertebral bone quality (VBQ) score on a non-contrast T1-weighted sagittal "
            "lumbar image: the median signal intensity of the L1-L4 vertebral bodies divided by the signal "
            "intensity of the cerebrospinal fluid at L3. Higher scores go with lower bone mineral density. "
            "\"Detect levels\" places draggable points L1 ... L5 and CSF; levels with a fracture, cement or "
            "a lesion can be excluded. The review section walks through a folder of cases and appends each "
            "accepted case to one cohort file."
        )
        self.parent.acknowledgementText = _(
            "The VBQ score was described by Ehresman et al., Spine J 2020. SpineQuant is built on "
            "3D Slicer (https://www.slicer.org)."
        )


#
# Parameters
#


@parameterNodeWrapper
class VBQScoreParameterNode:
    """
    inputVolume - sagittal T1-weighted lumbar image.
    levelLandmarks - points "L1" ... "L5" and "CSF"; placed by "Detect levels", dragged by the user.
    caseId - identifier written to the case_id column (the volume name when empty).
    excludeL1 ... excludeL4 - "include", or why the level is left out: fracture, cement, lesion.
    cutoff - VBQ at or above it is reported as low bone quality.
    outputTable - table receiving the long-format results.
    outputRois - segmentation receiving the measured regions (one segment per level and CSF).
    reviewFolder, reviewOutputFolder, cohortFile - the case-by-case review (see ParaspinalFat).
    """

    inputVolume: vtkMRMLScalarVolumeNode
    levelLandmarks: vtkMRMLMarkupsFiducialNode
    caseId: str
    excludeL1: Annotated[str, Choice(list(EXCLUSION_CHOICES)), Default("include")]
    excludeL2: Annotated[str, Choice(list(EXCLUSION_CHOICES)), Default("include")]
    excludeL3: Annotated[str, Choice(list(EXCLUSION_CHOICES)), Default("include")]
    excludeL4: Annotated[str, Choice(list(EXCLUSION_CHOICES)), Default("include")]
    cutoff: Annotated[float, WithinRange(0.5, 10.0), Default(DEFAULT_CUTOFF)]
    outputTable: vtkMRMLTableNode
    outputRois: vtkMRMLSegmentationNode
    reviewFolder: pathlib.Path
    reviewOutputFolder: pathlib.Path
    cohortFile: pathlib.Path


#
# Widget
#


class VBQScoreWidget(PanelMixin, ScriptedLoadableModuleWidget, VTKObservationMixin):
    requester = "VBQScore"

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self.reviewSession = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/VBQScore.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = VBQScoreLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.detectButton.connect("clicked(bool)", self.onDetectButton)
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.connectReviewButtons()

        self.initializeParameterNode()

    def _checkCanApply(self, caller=None, event=None) -> None:
        parameters = self._parameterNode
        ready = bool(parameters and parameters.inputVolume)
        self.ui.detectButton.enabled = ready
        self.ui.applyButton.enabled = ready
        self.ui.applyButton.toolTip = _("Compute the VBQ score") if ready else _("Select a sagittal T1 image")
        self._enableReviewButtons(ready)

    def _exclusions(self) -> dict:
        parameters = self._parameterNode
        return {level: getattr(parameters, f"exclude{level}") for level in VBQ_LEVELS}

    def onDetectButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to detect the vertebral levels."), waitCursor=True):
            if not ensureDependencies(self.requester):
                return
            parameters = self._parameterNode
            markups = runWithProgress(_("Detecting levels"), lambda progress: self.logic.detectLevels(
                parameters.inputVolume, parameters.levelLandmarks, progress=progress))
            if markups is None:
                return
            parameters.levelLandmarks = markups
            slicer.util.setSliceViewerLayers(background=parameters.inputVolume, fit=True)
            self.ui.resultLabel.text = self.logic.detectionSummary(self.logic.lastResult)
            self._markMeasured()

    def onApplyButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to compute the VBQ score."), waitCursor=True):
            if not ensureDependencies(self.requester):
                return
            parameters = self._parameterNode
            if not parameters.outputTable:
                parameters.outputTable = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode", _("VBQ score"))
            caseId = parameters.caseId
            if self.reviewSession is not None and not caseId:
                caseId = self.reviewSession.current_case.case_id
            outcome = runWithProgress(_("Computing VBQ"), lambda progress: self.logic.computeVBQ(
                parameters.inputVolume, parameters.outputTable, landmarksNode=parameters.levelLandmarks,
                exclusions=self._exclusions(), roiNode=parameters.outputRois, cutoff=parameters.cutoff,
                caseId=caseId, progress=progress))
            if outcome is None:
                return
            frame, result = outcome
            if not parameters.outputRois:
                parameters.outputRois = self.logic.lastRoiNode
            self.ui.resultLabel.text = self.logic.summary(result)
            self._markMeasured()
            layoutManager = slicer.app.layoutManager()
            layoutManager.setLayout(slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpTableView)
            selectionNode = slicer.app.applicationLogic().GetSelectionNode()
            selectionNode.SetActiveTableID(parameters.outputTable.GetID())
            slicer.app.applicationLogic().PropagateTableSelection()

    # --- review loop

    def _acceptCase(self, session, replace, progress):
        parameters = self._parameterNode
        return self.logic.acceptReviewCase(
            session, parameters.inputVolume, parameters.levelLandmarks, exclusions=self._exclusions(),
            tableNode=parameters.outputTable, roiNode=parameters.outputRois, cutoff=parameters.cutoff,
            replace=replace, progress=progress)

    def _loadCase(self, index) -> None:
        session = self.reviewSession
        nodes = self.logic.loadReviewCase(session, index)
        parameters = self._parameterNode
        with slicer.util.NodeModify(parameters.parameterNode):
            parameters.inputVolume = nodes["volume"]
            parameters.levelLandmarks = nodes.get("landmarks")
            parameters.outputRois = None
            parameters.caseId = session.current_case.case_id
            for level in VBQ_LEVELS:
                setattr(parameters, f"exclude{level}", nodes["exclusions"].get(level, "include"))
        self.ui.resultLabel.text = ""
        slicer.util.setSliceViewerLayers(background=nodes["volume"], fit=True)
        self._showCases()

#
# Logic
#


class VBQScoreLogic(ReviewLogicMixin, ScriptedLoadableModuleLogic):
    """Scriptable without the GUI; never shows dialogs, raises ValueError on bad input.

    Long operations take ``progress(fraction, message)``; when it returns False they stop with
    spinequant.review.Cancelled.
    """

    MODULE_NAME = "VBQScore"

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self.lastResult = None
        self.lastRoiNode = None

    def getParameterNode(self):
        return VBQScoreParameterNode(super().getParameterNode())

    # --- detect levels

    def detectLevels(self, volumeNode, markupsNode=None, progress=None):
        """Find L1-L5 and the CSF automatically and put them as draggable points into markupsNode
        (created if None; its points are replaced). The detected positions are remembered on the node
        so accepting a case can report how far the user moved them. Returns the markups node."""
        if volumeNode is None:
            raise ValueError(_("Select the sagittal T1 image."))
        from ParaspinalFatLib.volumes import volume_from_node
        from spinequant.review import checked_progress
        from spinequant.vbq import measure_vbq
        from VBQScoreLib.level_points import place_level_points

        report = checked_progress(progress)
        report(0.0, _("Reading the image"))
        image = volume_from_node(volumeNode)
        report(0.1, _("Finding the vertebral bodies and the CSF"))
        result = measure_vbq(image)
        self.lastResult = result
        report(0.9, _("Placing the points"))
        markupsNode = place_level_points(result.landmarks_lps, volumeNode, markupsNode)
        report(1.0, _("Done"))
        return markupsNode

    # --- compute

    @staticmethod
    def _exclude(exclusions):
        """{level: reason} of the excluded levels from {level: "include" | reason} or a list of levels."""
        if not exclusions:
            return {}
        if isinstance(exclusions, dict):
            return {k.upper(): v for k, v in exclusions.items() if v and v != "include"}
        return {str(level).upper(): "excluded" for level in exclusions}

    def computeVBQ(self, volumeNode, tableNode=None, landmarksNode=None, exclusions=None, roiNode=None,
                   cutoff=None, caseId="", progress=None):
        """VBQ score of a sagittal T1 volume; writes the long table into tableNode (created if None).

        landmarksNode: markups with points L1 ... L5 (and CSF); automatic detection when None or empty.
        exclusions: {level: "include" | "fracture" | "cement" | "lesion" | other reason}.
        roiNode: segmentation (one segment per measured region) or label map volume receiving the ROIs;
        a segmentation is created when None. cutoff: number, or None for the Ehresman 2020 cut-off.
        Returns (long DataFrame, spinequant.vbq.VBQResult).
        """
        if volumeNode is None:
            raise ValueError(_("Select the sagittal T1 image."))
        # Imported here so loading the module (and Slicer startup) never depends on the core.
        from ParaspinalFatLib.volumes import volume_from_node
        from spinequant.review import checked_progress
        from spinequant.vbq import measure_vbq
        from VBQScoreLib.level_points import level_points_lps
        from VBQScoreLib.results import write_result_table
        from VBQScoreLib.roi_nodes import write_roi_node

        report = checked_progress(progress)
        report(0.0, _("Reading the image"))
        image = volume_from_node(volumeNode)
        landmarks = level_points_lps(landmarksNode)
        excluded = self._exclude(exclusions)
        if cutoff is not None and abs(float(cutoff) - DEFAULT_CUTOFF) < 1e-9:
            cutoff = None  # the published preset, with its reference
        case = caseId or volumeNode.GetName()
        logging.info("VBQScore: computing %s (%s)", case, "landmarks" if landmarks else "automatic detection")
        report(0.1, _("Measuring the vertebral bodies and the CSF"))
        result = measure_vbq(image, landmarks=landmarks, exclude=tuple(excluded), cutoff=cutoff)
        for level, reason in excluded.items():
            result.excluded[level] = f"user: {reason}"
        self.lastResult = result
        report(0.8, _("Writing the results"))
        frame, tableNode = write_result_table(result, case, volumeNode, tableNode)
        self.lastRoiNode = write_roi_node(result.roi_labels, image, volumeNode, roiNode)
        for warning in result.warnings:
            logging.warning("VBQScore %s: %s", case, warning)
        report(1.0, _("Done"))
        return frame, result

    def compute(self, volumeNode, tableNode=None, landmarksNode=None, caseId="", exclude=(), roiNode=None):
        """computeVBQ returning only the DataFrame (scripting shortcut); exclude: levels to leave out."""
        frame, _result = self.computeVBQ(volumeNode, tableNode, landmarksNode, exclusions=list(exclude),
                                         roiNode=roiNode, caseId=caseId)
        return frame

    @staticmethod
    def summary(result) -> str:
        """The result in plain words (VBQScoreLib.results.result_summary)."""
        from VBQScoreLib.results import result_summary

        return result_summary(result)

    @staticmethod
    def detectionSummary(result) -> str:
        from VBQScoreLib.results import detection_summary

        return detection_summary(result)

    # --- review loop

    def loadReviewCase(self, session, index, scene=None):
        """Clear the previous case and load case ``index``: the image, and landmarks (the accepted ones
        when the case was reviewed, else a .mrk.json or landmarks JSON of the case folder).
        Returns {"volume", "landmarks", "exclusions": {level: reason}}."""
        from ParaspinalFatLib.review_nodes import (
            clear_case_nodes,
            load_markups,
            load_volume,
            remember_automatic_points,
            set_markups_points,
            tag_case_node,
        )
        from spinequant.review import read_review_log
        from VBQScoreLib.level_points import LANDMARK_ORDER

        scene = scene or slicer.mrmlScene
        clear_case_nodes(scene)
        case = session.go_to(index)
        caseId = case.case_id
        if "image" not in case.files:
            raise ValueError(_("Case {case} has no image.").format(case=caseId))
        nodes = {"volume": load_volume(case.files["image"], caseId, "sagittal", scene=scene), "landmarks": None,
                 "exclusions": {}}
        accepted = session.output_path(caseId, "landmarks")
        given = case.files.get("landmarks")
        if accepted.exists():
            nodes["landmarks"] = load_markups(str(accepted), f"{caseId} levels", scene=scene)
            automatic = session.output_path(caseId, "automatic_landmarks")
            if automatic.exists():
                from ParaspinalFatLib.landmarks import landmarks_lps

                original = load_markups(str(automatic), "automatic", scene=scene)
                remember_automatic_points(nodes["landmarks"], landmarks_lps(original))
                scene.RemoveNode(original)
        elif given and given.endswith(".mrk.json"):
            nodes["landmarks"] = load_markups(given, f"{caseId} levels", scene=scene)
        elif given:
            from spinequant.vbq.landmarks import read_landmarks

            nodes["landmarks"] = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", f"{caseId} levels")
            set_markups_points(nodes["landmarks"], read_landmarks(given), LANDMARK_ORDER)
        if session.review_log_path.exists():  # exclusions chosen when the case was accepted
            log = read_review_log(session.review_log_path)
            rows = log[(log["case_id"] == caseId) & (log["module"] == self.MODULE_NAME) & (log["metric"] == "excluded")]
            nodes["exclusions"] = {row.level: str(row.unit).replace("user: ", "") for row in rows.itertuples()
                                   if str(row.unit).startswith("user: ")}
        for key in ("volume", "landmarks"):
            tag_case_node(nodes[key], caseId)
        return nodes

    def acceptReviewCase(self, session, volumeNode, landmarksNode=None, exclusions=None, tableNode=None,
                         roiNode=None, cutoff=None, replace=False, progress=None):
        """Accept the current case: compute the VBQ from the current (possibly dragged) landmarks, save the
        landmarks (.mrk.json, with the detected ones beside them) and the regions (.seg.nrrd), append the
        rows to the cohort, log how far each landmark was moved and which levels were excluded, mark the
        case reviewed. Existing files are backed up first. Returns the index of the next case to review."""
        from ParaspinalFatLib.landmarks import landmarks_lps
        from ParaspinalFatLib.review_nodes import automatic_points, save_node, set_markups_points
        from spinequant.review import annotate_cohort_rows, checked_progress, landmark_changes, was_corrected
        from spinequant.tables import write_table_atomic
        from VBQScoreLib.level_points import LANDMARK_ORDER

        report = checked_progress(progress)
        caseId = session.current_case.case_id
        session.check_can_accept(caseId, replace)  # before anything is written

        def computing(fraction, message):
            report(0.7 * fraction, message)

        frame, result = self.computeVBQ(volumeNode, tableNode, landmarksNode, exclusions, roiNode, cutoff, caseId,
                                        progress=computing)
        report(0.75, _("Saving the landmarks and regions"))
        outputs = {"rois": save_node(self.lastRoiNode, session.prepare_output(caseId, "rois"))}
        reviewRows, corrected = [], None
        if landmarksNode is not None and landmarksNode.GetNumberOfControlPoints() > 0:
            outputs["landmarks"] = save_node(landmarksNode, session.prepare_output(caseId, "landmarks"))
            detected = automatic_points(landmarksNode)
            if detected is not None:
                scene = landmarksNode.GetScene()
                original = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", f"{caseId} detected levels")
                set_markups_points(original, detected, LANDMARK_ORDER)
                outputs["automatic_landmarks"] = save_node(
                    original, session.prepare_output(caseId, "automatic_landmarks"))
                scene.RemoveNode(original)
                reviewRows = landmark_changes(detected, landmarks_lps(landmarksNode))
                corrected = was_corrected(reviewRows)
        userExcluded = {level: reason for level, reason in result.excluded.items() if reason.startswith("user: ")}
        reviewRows += landmark_changes({}, {}, userExcluded)
        rows = annotate_cohort_rows(frame, reviewRows, corrected)
        measurements = session.prepare_output(caseId, "measurements")
        write_table_atomic(rows, str(measurements))
        outputs["measurements"] = str(measurements)
        report(0.9, _("Adding the case to the cohort"))
        nextIndex = session.accept(caseId, rows, reviewRows, corrected, outputs, replace)
        report(1.0, _("Done"))
        return nextIndex


#
# Test
#


class VBQScoreTest(ScriptedLoadableModuleTest):
    """Runs inside Slicer; builds sagittal phantoms in memory (no downloads)."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_vbq_phantom()
        self.setUp()
        self.test_detect_exclude_and_review()

    def test_vbq_phantom(self):
        self.delayDisplay("Building a sagittal phantom")
        volumeNode, landmarksNode = make_sagittal_phantom()
        roiNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "rois")

        frame = VBQScoreLogic().compute(volumeNode, landmarksNode=landmarksNode, caseId="phantom",
                                        roiNode=roiNode)

        score = frame[frame.metric == "vbq"]["value"]
        self.assertEqual(len(score), 1)
        self.assertAlmostEqual(float(score.iloc[0]), PHANTOM_BODY_SIGNAL / PHANTOM_CSF_SIGNAL, places=3)
        self.assertGreater(int(slicer.util.arrayFromVolume(roiNode).max()), 0)
        self.delayDisplay("Test passed")

    def test_detect_exclude_and_review(self):
        import tempfile
        from pathlib import Path

        from ParaspinalFatLib.volumes import node_from_volume
        from spinequant.imageio import write_volume
        from spinequant.phantoms.sagittal import make_sagittal_phantom as make_phantom
        from spinequant.tables import read_long_table
        from VBQScoreLib.level_points import LANDMARK_ORDER

        phantom = make_phantom(seed=1)
        volumeNode = node_from_volume(phantom.volume, "sagittal")
        logic = VBQScoreLogic()
        markups = logic.detectLevels(volumeNode)
        self.assertEqual([markups.GetNthControlPointLabel(i) for i in range(markups.GetNumberOfControlPoints())],
                         list(LANDMARK_ORDER))
        frame, result = logic.computeVBQ(volumeNode, landmarksNode=markups, exclusions={"L2": "fracture"})
        self.assertNotIn("L2", result.levels_used)
        self.assertIn("fracture", logic.summary(result))

        with tempfile.TemporaryDirectory() as folder:
            for index in range(2):
                (Path(folder) / f"case{index + 1}").mkdir()
                write_volume(make_phantom(seed=index).volume, str(Path(folder) / f"case{index + 1}" / "image.nii.gz"))
            session = logic.openReview(folder, cohortPath=str(Path(folder) / "cohort.csv"))
            nodes = logic.loadReviewCase(session, 0)
            markups = logic.detectLevels(nodes["volume"])
            logic.acceptReviewCase(session, nodes["volume"], markups)
            resumed = VBQScoreLogic().openReview(folder)
            self.assertEqual(resumed.current_case.case_id, "case2")
            self.assertEqual(set(read_long_table(resumed.cohort_path)["case_id"]), {"case1"})
        self.delayDisplay("Test passed")


PHANTOM_BODY_SIGNAL = 420.0
PHANTOM_CSF_SIGNAL = 150.0


def make_sagittal_phantom():
    """Sagittal volume with six flat vertebral bodies and a CSF column, plus L1-L4 and CSF landmarks.

    Returns (volume node, markups node); the true VBQ is PHANTOM_BODY_SIGNAL / PHANTOM_CSF_SIGNAL.
    """
    # (K, J, I): K runs left -> right, J superior -> inferior, I anterior -> posterior.
    array = np.full((9, 220, 120), 60.0, dtype=np.float32)
    centres = {}
    for index, level in enumerate(["T12", "L1", "L2", "L3", "L4", "L5"]):
        top = 20 + 33 * index
        array[:, top:top + 26, 20:60] = PHANTOM_BODY_SIGNAL
        centres[level] = (40, top + 13)
    array[:, 5:215, 66:74] = PHANTOM_CSF_SIGNAL
    spacing = np.diag([1.0, 1.0, 3.0])
    ijkToRAS = np.eye(4)
    # I -> posterior (-A), J -> inferior (-S), K -> left (-R) in RAS.
    ijkToRAS[:3, :3] = np.array([[0, 0, -1.0], [-1.0, 0, 0], [0, -1.0, 0]]) @ spacing
    volumeNode = slicer.util.addVolumeFromArray(array, ijkToRAS=ijkToRAS, name="sagittal phantom")
    landmarksNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "levels")
    points = {level: centres[level] for level in ("L1", "L2", "L3", "L4")}
    points["CSF"] = (70, centres["L3"][1])
    for name, (i, j) in points.items():
        ras = ijkToRAS @ np.array([i, j, 4, 1.0])
        landmarksNode.AddControlPoint(float(ras[0]), float(ras[1]), float(ras[2]), name)
    return volumeNode, landmarksNode
