# No "from __future__ import annotations" here: @parameterNodeWrapper reads the field annotations at
# class creation, so they must stay real objects (typing.Annotated works on Python 3.9).
import logging
from typing import Annotated, Optional

import slicer
import vtk
from slicer import (
    vtkMRMLMarkupsFiducialNode,
    vtkMRMLScalarVolumeNode,
    vtkMRMLSegmentationNode,
    vtkMRMLTableNode,
)
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, Default, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

# Same names as spinequant.fat.methods.FAT_METHODS (checked by Testing/structure); kept literal so
# that loading the module never imports the core.
FAT_METHODS = ("calibrated", "gmm2", "gmm3", "kmeans", "otsu", "threshold", "dixon")


#
# ParaspinalFat
#


class ParaspinalFat(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Paraspinal Fat")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Quantification")]
        self.parent.dependencies = ["SpineQuantCore"]
        self.parent.contributors = ["SpineQuant developers"]
        self.parent.helpText = _(
            "Quantifies fat infiltration of the lumbar paraspinal muscles (multifidus, erector spinae, "
            "psoas, quadratus lumborum; left and right) on axial MRI: cross-sectional area, functional "
            "(lean) area, volume and fat infiltration per muscle, side and vertebral level. Fat is found "
            "with a patient-calibrated threshold (default), histogram methods, or Dixon water/fat images. "
            "Results go to a table with units, one row per measurement."
        )
        self.parent.acknowledgementText = _(
            "SpineQuant is built on 3D Slicer (https://www.slicer.org). The scripted module layout follows "
            "the Slicer extension template."
        )


#
# Parameters
#


@parameterNodeWrapper
class ParaspinalFatParameterNode:
    """
    inputVolume - axial T1/T2 (fat-bright) image; the grid that is measured.
    inputSegmentation - one segment per muscle and side, e.g. "multifidus left".
    levelLandmarks - optional points labelled "L3", "L4", ... at mid-vertebra, for per-level results.
    waterVolume, fatVolume - optional Dixon water and fat images on the same grid (method "dixon").
    method - fat classification method.
    caseId - identifier written to the case_id column (the volume name when empty).
    outputTable - table receiving the long-format results.
    """

    inputVolume: vtkMRMLScalarVolumeNode
    inputSegmentation: vtkMRMLSegmentationNode
    levelLandmarks: vtkMRMLMarkupsFiducialNode
    waterVolume: vtkMRMLScalarVolumeNode
    fatVolume: vtkMRMLScalarVolumeNode
    method: Annotated[str, Choice(list(FAT_METHODS)), Default("calibrated")]
    caseId: str
    outputTable: vtkMRMLTableNode


#
# Widget
#


class ParaspinalFatWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/ParaspinalFat.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = ParaspinalFatLogic()

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

    def setParameterNode(self, inputParameterNode: Optional[ParaspinalFatParameterNode]) -> None:
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
        ready = bool(parameters and parameters.inputVolume and parameters.inputSegmentation)
        if ready and parameters.method == "dixon":
            ready = bool(parameters.waterVolume and parameters.fatVolume)
        self.ui.applyButton.enabled = ready
        self.ui.applyButton.toolTip = _("Quantify the muscles") if ready else _(
            "Select an image and a muscle segmentation (and water/fat images for the Dixon method)")

    def onApplyButton(self) -> None:
        failure = _("Failed to quantify the paraspinal muscles.")
        with slicer.util.tryWithErrorDisplay(failure, waitCursor=True):
            parameters = self._parameterNode
            if not parameters.outputTable:
                parameters.outputTable = slicer.mrmlScene.AddNewNodeByClass(
                    "vtkMRMLTableNode", _("Paraspinal fat"))
            self.logic.quantify(
                parameters.inputVolume,
                parameters.inputSegmentation,
                parameters.outputTable,
                method=parameters.method,
                levels=parameters.levelLandmarks,
                waterNode=parameters.waterVolume,
                fatNode=parameters.fatVolume,
                caseId=parameters.caseId,
            )
            self.showTable(parameters.outputTable)

    def showTable(self, tableNode) -> None:
        # View handling belongs to the GUI: switch to a layout with a table view and show the results.
        layoutManager = slicer.app.layoutManager()
        layoutManager.setLayout(slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpTableView)
        selectionNode = slicer.app.applicationLogic().GetSelectionNode()
        selectionNode.SetActiveTableID(tableNode.GetID())
        slicer.app.applicationLogic().PropagateTableSelection()


#
# Logic
#


class ParaspinalFatLogic(ScriptedLoadableModuleLogic):
    """Scriptable without the GUI: nodes in, table node out. Never shows dialogs; raises ValueError
    (or spinequant.errors.InputError) with a message that names the faulty input."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)

    def getParameterNode(self):
        return ParaspinalFatParameterNode(super().getParameterNode())

    @staticmethod
    def _levels(levels, image):
        """None, {level: [slice, ...]}, 'L4:7-12,L5:15-19' slice ranges, or a markups point list."""
        if levels is None or levels == "":
            return None
        if hasattr(levels, "GetNumberOfControlPoints"):
            if levels.GetNumberOfControlPoints() == 0:
                return None
            from ParaspinalFatLib.landmarks import landmarks_lps
            from spinequant.levels import levels_from_points

            return levels_from_points(landmarks_lps(levels), image, source=levels.GetName())
        if isinstance(levels, str):
            from spinequant.levels import levels_from_ranges

            return levels_from_ranges(levels, image.array.shape[0])
        return {str(name): [int(k) for k in slices] for name, slices in dict(levels).items()}

    def quantify(self, volumeNode, segmentationNode, tableNode=None, method="calibrated", levels=None,
                 waterNode=None, fatNode=None, caseId="", threshold=None):
        """Measure every muscle segment on the volume's grid and write the long table into tableNode.

        method: one name from FAT_METHODS, or a sequence of names (the first is the primary one).
        Returns the long pandas DataFrame that was written.
        """
        if volumeNode is None:
            raise ValueError(_("Select the image to measure."))
        if segmentationNode is None:
            raise ValueError(_("Select the muscle segmentation."))
        methods = (method,) if isinstance(method, str) else tuple(method)
        if "dixon" in methods and (waterNode is None or fatNode is None):
            raise ValueError(_("The Dixon method needs both the water and the fat image."))

        # Imported here so loading the module (and Slicer startup) never depends on the core.
        from ParaspinalFatLib.segments import structure_masks
        from ParaspinalFatLib.tables import long_table_to_node
        from ParaspinalFatLib.volumes import volume_from_node
        from spinequant.measure import measure_muscles

        image = volume_from_node(volumeNode)
        masks = structure_masks(segmentationNode, volumeNode)
        water = volume_from_node(waterNode) if waterNode is not None else None
        fat = volume_from_node(fatNode) if fatNode is not None else None
        case = caseId or volumeNode.GetName()
        logging.info("ParaspinalFat: measuring %d segments of %s with %s",
                     len(masks), case, ", ".join(methods))

        frame = measure_muscles(image, masks, case_id=case, methods=methods,
                                levels=self._levels(levels, image), water=water, fat=fat,
                                threshold=threshold)
        if tableNode is None:
            tableNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode", "Paraspinal fat")
        long_table_to_node(frame, tableNode)
        tableNode.SetAttribute("SpineQuant.case_id", case)
        return frame


#
# Test
#


class ParaspinalFatTest(ScriptedLoadableModuleTest):
    """Runs inside Slicer (ctest / Reload and Test); builds its phantom in memory, no downloads."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_quantify_dixon_phantom()

    def test_quantify_dixon_phantom(self):
        import numpy as np

        from ParaspinalFatLib.segments import segmentation_from_labels
        from ParaspinalFatLib.volumes import node_from_volume
        from spinequant.phantoms.axial import make_axial_phantom

        self.delayDisplay("Building a Dixon phantom")
        phantom = make_axial_phantom(seed=3, spacing=(2.5, 2.5, 4.0), n_slices=6)
        imageNode = node_from_volume(phantom.image, "phantom")
        waterNode = node_from_volume(phantom.water, "water")
        fatNode = node_from_volume(phantom.fat, "fat")
        segmentationNode = segmentation_from_labels(phantom.labels.array, imageNode, name="muscles")
        tableNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode", "results")

        frame = ParaspinalFatLogic().quantify(imageNode, segmentationNode, tableNode, method="dixon",
                                              waterNode=waterNode, fatNode=fatNode, caseId="phantom")

        self.assertEqual(tableNode.GetNumberOfRows(), len(frame))
        rows = frame[(frame.metric == "fat_infiltration") & (frame.level == "all")]
        for key, expected in phantom.true_fat_infiltration.items():
            name, side = key.rsplit("_", 1)
            found = rows[(rows.structure == name) & (rows.side == side)]["value"]
            self.assertEqual(len(found), 1, key)
            self.assertTrue(np.isclose(float(found.iloc[0]), expected, atol=0.5), key)
        self.delayDisplay("Test passed")
