# No "from __future__ import annotations" here: @parameterNodeWrapper reads the field annotations at
# class creation, so they must stay real objects.
import logging
from typing import Optional

import numpy as np
import slicer
import vtk
from slicer import (
    vtkMRMLLabelMapVolumeNode,
    vtkMRMLMarkupsFiducialNode,
    vtkMRMLScalarVolumeNode,
    vtkMRMLTableNode,
)
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

#
# VBQScore
#


class VBQScore(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("VBQ Score")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Quantification")]
        # ParaspinalFat provides the MRML adapters (ParaspinalFatLib) used by the logic.
        self.parent.dependencies = ["SpineQuantCore", "ParaspinalFat"]
        self.parent.contributors = ["SpineQuant developers"]
        self.parent.helpText = _(
            "Computes the MRI vertebral bone quality (VBQ) score on a non-contrast T1-weighted sagittal "
            "lumbar image: the median signal intensity of the L1-L4 vertebral bodies divided by the signal "
            "intensity of the cerebrospinal fluid at L3. Higher scores go with lower bone mineral density. "
            "Vertebrae are found automatically, or from points labelled L1 ... L4 (and optionally CSF) "
            "placed at the centre of each vertebral body."
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
    levelLandmarks - optional points "L1" ... "L4" (and "CSF"); automatic detection when empty.
    caseId - identifier written to the case_id column (the volume name when empty).
    outputTable - table receiving the long-format results.
    outputRois - optional label map receiving the measured regions (for review).
    """

    inputVolume: vtkMRMLScalarVolumeNode
    levelLandmarks: vtkMRMLMarkupsFiducialNode
    caseId: str
    outputTable: vtkMRMLTableNode
    outputRois: vtkMRMLLabelMapVolumeNode


#
# Widget
#


class VBQScoreWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/VBQScore.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = VBQScoreLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)

        self.initializeParameterNode()

    def cleanup(self) -> None:
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)

    def onSceneStartClose(self, caller, event) -> None:
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            firstVolumeNode = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if firstVolumeNode:
                self._parameterNode.inputVolume = firstVolumeNode

    def setParameterNode(self, inputParameterNode: Optional[VBQScoreParameterNode]) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
            self._checkCanApply()

    def _checkCanApply(self, caller=None, event=None) -> None:
        parameters = self._parameterNode
        ready = bool(parameters and parameters.inputVolume)
        self.ui.applyButton.enabled = ready
        self.ui.applyButton.toolTip = _("Compute the VBQ score") if ready else _("Select a sagittal T1 image")

    def onApplyButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to compute the VBQ score."), waitCursor=True):
            parameters = self._parameterNode
            if not parameters.outputTable:
                parameters.outputTable = slicer.mrmlScene.AddNewNodeByClass(
                    "vtkMRMLTableNode", _("VBQ score"))
            self.logic.compute(parameters.inputVolume, parameters.outputTable,
                               landmarksNode=parameters.levelLandmarks, caseId=parameters.caseId,
                               roiNode=parameters.outputRois)
            layoutManager = slicer.app.layoutManager()
            layoutManager.setLayout(slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpTableView)
            selectionNode = slicer.app.applicationLogic().GetSelectionNode()
            selectionNode.SetActiveTableID(parameters.outputTable.GetID())
            slicer.app.applicationLogic().PropagateTableSelection()


#
# Logic
#


class VBQScoreLogic(ScriptedLoadableModuleLogic):
    """Scriptable without the GUI; never shows dialogs, raises ValueError on bad input."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)

    def getParameterNode(self):
        return VBQScoreParameterNode(super().getParameterNode())

    def compute(self, volumeNode, tableNode=None, landmarksNode=None, caseId="", exclude=(), roiNode=None):
        """VBQ score of a sagittal T1 volume; writes the long table into tableNode (created if None).

        landmarksNode: optional markups with points labelled L1 ... L4 (and CSF); detection otherwise.
        exclude: levels to leave out (e.g. fractured or instrumented vertebrae).
        roiNode: optional labelmap volume node that receives the measured regions.
        Returns the long pandas DataFrame that was written.
        """
        if volumeNode is None:
            raise ValueError(_("Select the sagittal T1 image."))
        # Imported here so loading the module (and Slicer startup) never depends on the core.
        from ParaspinalFatLib.landmarks import landmarks_lps
        from ParaspinalFatLib.tables import long_table_to_node
        from ParaspinalFatLib.volumes import update_node_from_volume, volume_from_node
        from spinequant.tables import long_table
        from spinequant.vbq import measure_vbq
        from spinequant.vbq.report import result_rows

        image = volume_from_node(volumeNode)
        landmarks = None
        if landmarksNode is not None and landmarksNode.GetNumberOfControlPoints() > 0:
            landmarks = {name: np.asarray(point, dtype=float)
                         for name, point in landmarks_lps(landmarksNode).items()}
        case = caseId or volumeNode.GetName()
        logging.info("VBQScore: computing %s (%s)", case, "landmarks" if landmarks else "automatic detection")
        result = measure_vbq(image, landmarks=landmarks, exclude=tuple(exclude))
        frame = long_table(result_rows(result, case))
        if tableNode is None:
            tableNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode", "VBQ score")
        long_table_to_node(frame, tableNode)
        if roiNode is not None:
            update_node_from_volume(roiNode, image.with_array(np.asarray(result.roi_labels, dtype=np.int16)))
            if roiNode.GetDisplayNode() is None:
                roiNode.CreateDefaultDisplayNodes()
        for warning in result.warnings:
            logging.warning("VBQScore %s: %s", case, warning)
        return frame


#
# Test
#


class VBQScoreTest(ScriptedLoadableModuleTest):
    """Runs inside Slicer; builds a sagittal phantom in memory (no downloads)."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_vbq_phantom()

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
