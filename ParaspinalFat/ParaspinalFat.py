# No "from __future__ import annotations" here: @parameterNodeWrapper reads the field annotations at
# class creation, so they must stay real objects (typing.Annotated works on Python 3.9).
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
            "Results go to a table with units, one row per measurement. \"Segment muscles\" draws the "
            "muscles automatically; correct them in the Segment Editor before quantifying. The review "
            "section walks through a folder of cases and appends each accepted case to one cohort file."
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
    waterVolume, fatVolume - optional Dixon water and fat images on the same grid (method "dixon").
    levelLandmarks - optional points labelled "L3", "L4", ... at mid-vertebra, for per-level results.
    vertebraSegmentation - optional vertebra segments named "L3", "L4", ... (instead of landmarks).
    inputSegmentation - the muscle segmentation: one segment per muscle and side, e.g. "multifidus left";
        filled by "Segment muscles", corrected in the Segment Editor, measured by "Quantify".
    method - fat classification method; threshold - intensity for the "threshold" method.
    showFatVoxels - also show the fat voxels of each muscle as segments (fatOverlay).
    caseId - identifier written to the case_id column (the volume name when empty).
    outputTable - table receiving the long-format results.
    fatOverlay - segmentation receiving the fat voxels per muscle.
    reviewFolder - folder of cases (one sub-folder, image file or DICOM series per case).
    reviewOutputFolder - where accepted results go (default: <reviewFolder>/SpineQuantReview).
    cohortFile - the one cohort CSV/XLSX accepted cases are appended to.
    """

    inputVolume: vtkMRMLScalarVolumeNode
    waterVolume: vtkMRMLScalarVolumeNode
    fatVolume: vtkMRMLScalarVolumeNode
    levelLandmarks: vtkMRMLMarkupsFiducialNode
    vertebraSegmentation: vtkMRMLSegmentationNode
    inputSegmentation: vtkMRMLSegmentationNode
    method: Annotated[str, Choice(list(FAT_METHODS)), Default("calibrated")]
    threshold: Annotated[float, WithinRange(-100000.0, 100000.0), Default(0.0)]
    showFatVoxels: Annotated[bool, Default(False)]
    caseId: str
    outputTable: vtkMRMLTableNode
    fatOverlay: vtkMRMLSegmentationNode
    reviewFolder: pathlib.Path
    reviewOutputFolder: pathlib.Path
    cohortFile: pathlib.Path


#
# Widget
#


class ParaspinalFatWidget(PanelMixin, ScriptedLoadableModuleWidget, VTKObservationMixin):
    requester = "ParaspinalFat"

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self.reviewSession = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/ParaspinalFat.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = ParaspinalFatLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.segmentButton.connect("clicked(bool)", self.onSegmentButton)
        self.ui.editButton.connect("clicked(bool)", self.onEditButton)
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.connectReviewButtons()

        self.initializeParameterNode()

    def _checkCanApply(self, caller=None, event=None) -> None:
        parameters = self._parameterNode
        hasVolume = bool(parameters and parameters.inputVolume)
        hasSegmentation = bool(hasVolume and parameters.inputSegmentation)
        ready = hasSegmentation
        if ready and parameters.method == "dixon":
            ready = bool(parameters.waterVolume and parameters.fatVolume)
        self.ui.segmentButton.enabled = hasVolume
        self.ui.editButton.enabled = hasSegmentation
        self.ui.applyButton.enabled = ready
        self.ui.applyButton.toolTip = _("Measure the muscles from the current segments") if ready else _(
            "Select an image and a muscle segmentation (and water/fat images for the Dixon method)")
        self.ui.thresholdSpinBox.enabled = bool(parameters and parameters.method == "threshold")
        self._enableReviewButtons(ready)

    def _options(self) -> dict:
        parameters = self._parameterNode
        return dict(method=parameters.method,
                    threshold=parameters.threshold if parameters.method == "threshold" else None,
                    levels=parameters.levelLandmarks, vertebrae=parameters.vertebraSegmentation,
                    waterNode=parameters.waterVolume, fatNode=parameters.fatVolume)

    # --- segment, edit, quantify

    def onSegmentButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to segment the muscles."), waitCursor=True):
            if not ensureDependencies(self.requester):
                return
            parameters = self._parameterNode
            segmentation = runWithProgress(_("Segmenting muscles"), lambda progress: self.logic.segmentMuscles(
                parameters.inputVolume, parameters.inputSegmentation, waterNode=parameters.waterVolume,
                fatNode=parameters.fatVolume, progress=progress))
            if segmentation is None:
                return
            parameters.inputSegmentation = segmentation
            segmentation.SetReferenceImageGeometryParameterFromVolumeNode(parameters.inputVolume)
            slicer.util.setSliceViewerLayers(background=parameters.inputVolume, fit=True)
            self._markMeasured()
            check = self.logic.sliceCheckTable(segmentation)
            if check is not None:
                self.showTable(check)

    def onEditButton(self) -> None:
        # GUI only: hand the segmentation and its image to Slicer's Segment Editor.
        with slicer.util.tryWithErrorDisplay(_("Failed to open the Segment Editor.")):
            parameters = self._parameterNode
            slicer.util.selectModule("SegmentEditor")
            editor = slicer.modules.segmenteditor.widgetRepresentation().self().editor
            editor.setSegmentationNode(parameters.inputSegmentation)
            if hasattr(editor, "setSourceVolumeNode"):  # Slicer >= 5.4
                editor.setSourceVolumeNode(parameters.inputVolume)
            else:
                editor.setMasterVolumeNode(parameters.inputVolume)

    def onApplyButton(self) -> None:
        failure = _("Failed to quantify the paraspinal muscles.")
        with slicer.util.tryWithErrorDisplay(failure, waitCursor=True):
            if not ensureDependencies(self.requester):
                return
            parameters = self._parameterNode
            if not parameters.outputTable:
                parameters.outputTable = slicer.mrmlScene.AddNewNodeByClass(
                    "vtkMRMLTableNode", _("Paraspinal fat"))
            caseId = parameters.caseId
            if self.reviewSession is not None and not caseId:
                caseId = self.reviewSession.current_case.case_id
            frame = runWithProgress(_("Quantifying muscles"), lambda progress: self.logic.quantify(
                parameters.inputVolume, parameters.inputSegmentation, parameters.outputTable,
                caseId=caseId, progress=progress, **self._options()))
            if frame is None:
                return
            if parameters.showFatVoxels:
                options = self._options()
                parameters.fatOverlay = self.logic.fatVoxelOverlay(
                    parameters.inputVolume, parameters.inputSegmentation, parameters.method,
                    waterNode=options["waterNode"], fatNode=options["fatNode"], threshold=options["threshold"],
                    overlayNode=parameters.fatOverlay)
            self._markMeasured()
            self.showTable(parameters.outputTable)

    def showTable(self, tableNode) -> None:
        # View handling belongs to the GUI: switch to a layout with a table view and show the results.
        layoutManager = slicer.app.layoutManager()
        layoutManager.setLayout(slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpTableView)
        selectionNode = slicer.app.applicationLogic().GetSelectionNode()
        selectionNode.SetActiveTableID(tableNode.GetID())
        slicer.app.applicationLogic().PropagateTableSelection()

    # --- review loop

    def _acceptCase(self, session, replace, progress):
        parameters = self._parameterNode
        return self.logic.acceptReviewCase(
            session, parameters.inputVolume, parameters.inputSegmentation, parameters.outputTable,
            landmarksNode=parameters.levelLandmarks, replace=replace, progress=progress, **self._options())

    def _loadCase(self, index) -> None:
        session = self.reviewSession
        nodes = self.logic.loadReviewCase(session, index)
        parameters = self._parameterNode
        with slicer.util.NodeModify(parameters.parameterNode):
            parameters.inputVolume = nodes["volume"]
            parameters.waterVolume = nodes.get("water")
            parameters.fatVolume = nodes.get("fat")
            parameters.inputSegmentation = nodes.get("segmentation")
            parameters.levelLandmarks = nodes.get("landmarks")
            parameters.vertebraSegmentation = nodes.get("vertebrae")
            parameters.caseId = session.current_case.case_id
            parameters.fatOverlay = None
            if nodes.get("water") is not None and nodes.get("fat") is not None:
                parameters.method = "dixon"
        slicer.util.setSliceViewerLayers(background=nodes["volume"], fit=True)
        self._showCases()

#
# Logic
#


class ParaspinalFatLogic(ReviewLogicMixin, ScriptedLoadableModuleLogic):
    """Scriptable without the GUI: nodes in, nodes out. Never shows dialogs; raises ValueError
    (or spinequant.errors.InputError) with a message that names the faulty input.

    Long operations take ``progress(fraction, message)``; when it returns False they stop with
    spinequant.review.Cancelled.
    """

    MODULE_NAME = "ParaspinalFat"

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)

    def getParameterNode(self):
        return ParaspinalFatParameterNode(super().getParameterNode())

    # --- levels

    @staticmethod
    def _levels(levels, image, vertebrae=None, volumeNode=None):
        """None, {level: [slice, ...]}, 'L4:7-12,L5:15-19' slice ranges, or a markups point list;
        else, from a segmentation with vertebrae named 'L3', 'L4', ... (needs volumeNode)."""
        if levels is None or levels == "" or (hasattr(levels, "GetNumberOfControlPoints")
                                              and levels.GetNumberOfControlPoints() == 0):
            if vertebrae is None:
                return None
            from ParaspinalFatLib.review_nodes import vertebra_label_array
            from spinequant.levels import levels_from_vertebra_map

            codes = vertebra_label_array(vertebrae, volumeNode)
            return levels_from_vertebra_map(image.with_array(codes, vertebrae.GetName()), image)
        if hasattr(levels, "GetNumberOfControlPoints"):
            from ParaspinalFatLib.landmarks import landmarks_lps
            from spinequant.levels import levels_from_points

            return levels_from_points(landmarks_lps(levels), image, source=levels.GetName())
        if isinstance(levels, str):
            from spinequant.levels import levels_from_ranges

            return levels_from_ranges(levels, image.array.shape[0])
        return {str(name): [int(k) for k in slices] for name, slices in dict(levels).items()}

    # --- segment

    @staticmethod
    def defaultSegmenter(backend="builtin"):
        """segmenter(image, water, fat) -> spinequant.segmentation.SegmentationResult (project label
        Volume and per-slice check table)."""
        try:
            from spinequant.segmentation import segment
        except ImportError as exc:
            raise RuntimeError(_("The built-in muscle segmenter is not available in this SpineQuant version; "
                                 "load or draw a muscle segmentation instead.")) from exc

        def run(image, water, fat):
            return segment(image, water, fat, backend=backend)

        return run

    def segmentMuscles(self, volumeNode, segmentationNode=None, waterNode=None, fatNode=None, backend="builtin",
                       progress=None, segmenter=None):
        """Segment the paraspinal muscles into segmentationNode (created if None; its segments are
        replaced): one segment per muscle and side with standard name, colour and terminology.

        A hidden copy of the automatic result is kept and referenced from the node, so accepting the
        case can report how much the user corrected by hand; so is a table with one row per slice
        (flags, confidence, review hints, areas: where to check first, see sliceCheckTable).
        ``segmenter(image, water, fat)`` returning a label Volume (or array, or a result with
        ``labels`` and ``quality``) replaces the built-in method. Returns the segmentation node.
        """
        if volumeNode is None:
            raise ValueError(_("Select the image to segment."))
        from ParaspinalFatLib.review_nodes import case_of, clear_segments, keep_automatic_copy, tag_case_node
        from ParaspinalFatLib.segments import fill_segmentation_from_labels
        from ParaspinalFatLib.volumes import volume_from_node
        from spinequant.review import checked_progress
        from spinequant.segmentation import check_table

        report = checked_progress(progress)
        report(0.0, _("Reading the image"))
        image = volume_from_node(volumeNode)
        water = volume_from_node(waterNode) if waterNode is not None else None
        fat = volume_from_node(fatNode) if fatNode is not None else None
        run = segmenter or self.defaultSegmenter(backend)
        report(0.1, _("Segmenting muscles"))
        result = run(image, water, fat)
        labels = getattr(result, "labels", result)
        array = getattr(labels, "array", labels)
        if tuple(array.shape) != tuple(image.array.shape):
            raise ValueError(f"the segmenter returned a {array.shape} label map for a {image.array.shape} image")
        report(0.8, _("Creating segments"))
        if segmentationNode is None:
            segmentationNode = volumeNode.GetScene().AddNewNodeByClass(
                "vtkMRMLSegmentationNode", f"{volumeNode.GetName()} muscles")
        else:
            clear_segments(segmentationNode)
        segmentationNode.SetReferenceImageGeometryParameterFromVolumeNode(volumeNode)
        fill_segmentation_from_labels(segmentationNode, array, volumeNode)
        automatic = keep_automatic_copy(segmentationNode)
        check = getattr(result, "quality", None)
        checkNode = self._writeSliceCheck(segmentationNode, check if check is not None else check_table(array, image))
        caseId = case_of(volumeNode)
        for node in (segmentationNode, automatic, checkNode):
            tag_case_node(node, caseId)
        report(1.0, _("Done"))
        return segmentationNode

    @staticmethod
    def sliceCheckTable(segmentationNode):
        """The per-slice check of the segmenter's result (a table node), or None where there is none."""
        from ParaspinalFatLib.review_nodes import SLICE_CHECK_REFERENCE

        return segmentationNode.GetNodeReference(SLICE_CHECK_REFERENCE) if segmentationNode is not None else None

    def _writeSliceCheck(self, segmentationNode, check):
        from ParaspinalFatLib.review_nodes import SLICE_CHECK_REFERENCE
        from ParaspinalFatLib.tables import slice_check_to_node

        name = f"{segmentationNode.GetName()} check"
        node = slice_check_to_node(check, self.sliceCheckTable(segmentationNode), name, segmentationNode.GetScene())
        segmentationNode.SetNodeReferenceID(SLICE_CHECK_REFERENCE, node.GetID())
        return node

    # --- quantify

    def quantify(self, volumeNode, segmentationNode, tableNode=None, method="calibrated", levels=None,
                 waterNode=None, fatNode=None, caseId="", threshold=None, vertebrae=None, progress=None):
        """Measure every muscle segment on the volume's grid and write the long table into tableNode.

        method: one name from FAT_METHODS, or a sequence of names (the first is the primary one).
        levels: markups with points 'L3', 'L4', ... (or slice ranges); vertebrae: a segmentation with
        vertebrae named 'L3', ... used when no landmarks are given.
        Returns the long pandas DataFrame that was written (method and software version in every row).
        """
        if volumeNode is None:
            raise ValueError(_("Select the image to measure."))
        if segmentationNode is None:
            raise ValueError(_("Select the muscle segmentation."))
        methods = (method,) if isinstance(method, str) else tuple(method)
        if "dixon" in methods and (waterNode is None or fatNode is None):
            raise ValueError(_("The Dixon method needs both the water and the fat image."))
        if "threshold" in methods and threshold is None:
            raise ValueError(_("The threshold method needs a threshold value."))

        # Imported here so loading the module (and Slicer startup) never depends on the core.
        from ParaspinalFatLib.review_nodes import case_of, tag_case_node
        from ParaspinalFatLib.segments import structure_masks
        from ParaspinalFatLib.tables import long_table_to_node
        from ParaspinalFatLib.volumes import volume_from_node
        from spinequant.measure import measure_muscles
        from spinequant.review import checked_progress

        report = checked_progress(progress)
        report(0.0, _("Reading the image and the segments"))
        image = volume_from_node(volumeNode)
        masks = structure_masks(segmentationNode, volumeNode)
        water = volume_from_node(waterNode) if waterNode is not None else None
        fat = volume_from_node(fatNode) if fatNode is not None else None
        case = caseId or volumeNode.GetName()
        logging.info("ParaspinalFat: measuring %d segments of %s with %s",
                     len(masks), case, ", ".join(methods))

        def measuring(fraction, message):
            report(0.1 + 0.85 * fraction, message)

        frame = measure_muscles(image, masks, case_id=case, methods=methods,
                                levels=self._levels(levels, image, vertebrae, volumeNode), water=water, fat=fat,
                                threshold=threshold, progress=measuring)
        if tableNode is None:
            tableNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode", "Paraspinal fat")
        long_table_to_node(frame, tableNode)
        tableNode.SetAttribute("SpineQuant.case_id", case)
        tag_case_node(tableNode, case_of(volumeNode))
        report(1.0, _("Done"))
        return frame

    def fatVoxelOverlay(self, volumeNode, segmentationNode, method="calibrated", waterNode=None, fatNode=None,
                        threshold=None, overlayNode=None):
        """Segmentation with one segment per muscle holding its fat voxels by the chosen method
        (spinequant.measure.primary_fat_voxels), for checking the fat classification by eye."""
        from ParaspinalFatLib.review_nodes import case_of, segmentation_from_label_array, tag_case_node
        from ParaspinalFatLib.segments import structure_masks
        from ParaspinalFatLib.volumes import volume_from_node
        from spinequant.measure import primary_fat_voxels
        from spinequant.terminology import segment_color, segment_name

        image = volume_from_node(volumeNode)
        water = volume_from_node(waterNode) if waterNode is not None else None
        fat = volume_from_node(fatNode) if fatNode is not None else None
        labels = np.zeros(image.array.shape, dtype=np.uint8)
        segments = {}
        for value, (structure, mask) in enumerate(structure_masks(segmentationNode, volumeNode).items(), start=1):
            # bool masks: primary_fat_voxels indexes with them (a 0/1 uint8 mask would fancy-index)
            voxels = primary_fat_voxels(image, {structure: mask > 0}, method, water, fat, threshold)
            labels[voxels & (labels == 0)] = value
            color = tuple(0.5 + 0.5 * c for c in segment_color(structure))  # lighter shade of the muscle
            segments[value] = (_("{muscle} fat").format(muscle=segment_name(structure)), color)
        overlayNode = segmentation_from_label_array(labels, volumeNode, segments, node=overlayNode,
                                                    name=f"{volumeNode.GetName()} fat voxels")
        return tag_case_node(overlayNode, case_of(volumeNode))

    # --- review loop

    def loadReviewCase(self, session, index, scene=None):
        """Clear the previous case from the scene and load case ``index``: image (or water + fat for a
        Dixon-only case), the accepted segmentation when the case was reviewed (else a .seg.nrrd of
        the case folder), landmarks (.mrk.json) and a vertebra label map if present.
        Returns {"volume", "water", "fat", "segmentation", "landmarks", "vertebrae"} (None when absent)."""
        from ParaspinalFatLib.review_nodes import (
            clear_case_nodes,
            load_markups,
            load_segmentation,
            load_volume,
            tag_case_node,
        )
        from ParaspinalFatLib.volumes import node_from_volume
        from spinequant.imageio import read_volume, require_same_grid, water_plus_fat

        scene = scene or slicer.mrmlScene
        clear_case_nodes(scene)
        case = session.go_to(index)
        caseId = case.case_id
        files = case.files
        nodes = {"volume": None, "water": None, "fat": None, "segmentation": None, "landmarks": None,
                 "vertebrae": None}
        if "water" in files and "fat" in files:
            water = read_volume(files["water"], "axial")
            fat = read_volume(files["fat"], "axial")
            require_same_grid(water, fat)
            nodes["water"] = node_from_volume(water, f"{caseId} water", scene=scene)
            nodes["fat"] = node_from_volume(fat, f"{caseId} fat", scene=scene)
            if "image" not in files:  # in-phase-like, fat-bright image W + F
                combined = water_plus_fat(water, fat, f"{caseId} water+fat")
                nodes["volume"] = node_from_volume(combined, f"{caseId} (water+fat)", scene=scene)
        if "image" in files:
            nodes["volume"] = load_volume(files["image"], caseId, "axial", scene=scene)
        if nodes["volume"] is None:
            raise ValueError(_("Case {case} has no image.").format(case=caseId))
        accepted = session.output_path(caseId, "segmentation")
        segmentationFile = str(accepted) if accepted.exists() else files.get("segmentation")
        if segmentationFile:
            nodes["segmentation"] = load_segmentation(segmentationFile, f"{caseId} muscles", scene=scene)
            automatic = session.output_path(caseId, "automatic_segmentation")
            if automatic.exists():
                from ParaspinalFatLib.review_nodes import AUTOMATIC_REFERENCE

                copy = load_segmentation(str(automatic), f"{caseId} muscles (automatic)", scene=scene)
                copy.GetDisplayNode().SetVisibility(False)
                nodes["segmentation"].SetNodeReferenceID(AUTOMATIC_REFERENCE, copy.GetID())
                tag_case_node(copy, caseId)
        landmarks = session.output_path(caseId, "landmarks")
        landmarksFile = str(landmarks) if landmarks.exists() else files.get("landmarks")
        if landmarksFile and landmarksFile.endswith(".mrk.json"):
            nodes["landmarks"] = load_markups(landmarksFile, f"{caseId} levels", scene=scene)
        elif landmarksFile:  # SpineQuant landmark JSON {"L3": [x, y, z], ...} (LPS, or RAS if it says so)
            from ParaspinalFatLib.review_nodes import set_markups_points
            from spinequant.vbq.landmarks import read_landmarks

            nodes["landmarks"] = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", f"{caseId} levels")
            set_markups_points(nodes["landmarks"], read_landmarks(landmarksFile))
        if "vertebrae" in files:
            from ParaspinalFatLib.review_nodes import segmentation_from_label_array
            from ParaspinalFatLib.volumes import volume_from_node
            from spinequant.levels import VERTEBRA_CODES

            codes = read_volume(files["vertebrae"])
            require_same_grid(volume_from_node(nodes["volume"]), codes)
            segments = {code: (name, (0.9, 0.85, 0.6)) for code, name in VERTEBRA_CODES.items()}
            nodes["vertebrae"] = segmentation_from_label_array(codes.array, nodes["volume"], segments,
                                                               name=f"{caseId} vertebrae")
        for node in nodes.values():
            tag_case_node(node, caseId)
        return nodes

    def acceptReviewCase(self, session, volumeNode, segmentationNode, tableNode=None, method="calibrated",
                         levels=None, vertebrae=None, waterNode=None, fatNode=None, threshold=None,
                         landmarksNode=None, replace=False, progress=None):
        """Accept the current case: measure its current (possibly corrected) segments, save the segmentation
        (.seg.nrrd) and its automatic original, the landmarks (.mrk.json) and the measurements, append the
        rows to the review's cohort file, log Dice/CSA change against the automatic masks, mark the case
        reviewed. Existing files are backed up first. Returns the index of the next case to review."""
        from ParaspinalFatLib.review_nodes import automatic_segmentation, save_node
        from ParaspinalFatLib.segments import structure_masks
        from ParaspinalFatLib.volumes import volume_from_node
        from spinequant.review import annotate_cohort_rows, checked_progress, mask_changes, was_corrected
        from spinequant.tables import write_table_atomic

        report = checked_progress(progress)
        caseId = session.current_case.case_id
        session.check_can_accept(caseId, replace)  # before anything is written
        report(0.0, _("Measuring the accepted segmentation"))

        def measuring(fraction, message):
            report(0.05 + 0.55 * fraction, message)

        frame = self.quantify(volumeNode, segmentationNode, tableNode, method=method, levels=levels,
                              waterNode=waterNode, fatNode=fatNode, caseId=caseId, threshold=threshold,
                              vertebrae=vertebrae, progress=measuring)
        report(0.65, _("Comparing with the automatic segmentation"))
        automatic = automatic_segmentation(segmentationNode)
        reviewRows, corrected = [], None
        if automatic is not None:
            pixelArea = volume_from_node(volumeNode).pixel_area_mm2
            reviewRows = mask_changes(structure_masks(automatic, volumeNode),
                                      structure_masks(segmentationNode, volumeNode), pixelArea)
            corrected = was_corrected(reviewRows)
        report(0.75, _("Saving the segmentation and landmarks"))
        outputs = {"segmentation": save_node(segmentationNode, session.prepare_output(caseId, "segmentation"))}
        if automatic is not None:
            outputs["automatic_segmentation"] = save_node(
                automatic, session.prepare_output(caseId, "automatic_segmentation"))
        if landmarksNode is not None and landmarksNode.GetNumberOfControlPoints() > 0:
            outputs["landmarks"] = save_node(landmarksNode, session.prepare_output(caseId, "landmarks"))
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


class ParaspinalFatTest(ScriptedLoadableModuleTest):
    """Runs inside Slicer (ctest / Reload and Test); builds its phantoms in memory, no downloads."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_quantify_dixon_phantom()
        self.setUp()
        self.test_segment_and_fat_overlay()
        self.setUp()
        self.test_review_loop_resumes()

    def test_quantify_dixon_phantom(self):
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

    def test_segment_and_fat_overlay(self):
        from ParaspinalFatLib.review_nodes import automatic_segmentation
        from ParaspinalFatLib.volumes import node_from_volume
        from spinequant.phantoms.axial import make_axial_phantom

        phantom = make_axial_phantom(seed=2, spacing=(2.5, 2.5, 4.0), n_slices=6)
        imageNode = node_from_volume(phantom.image, "phantom")
        logic = ParaspinalFatLogic()
        segmentationNode = logic.segmentMuscles(imageNode, segmenter=lambda image, water, fat: phantom.labels)
        self.assertEqual(segmentationNode.GetSegmentation().GetNumberOfSegments(), 8)
        self.assertIsNotNone(automatic_segmentation(segmentationNode))
        check = logic.sliceCheckTable(segmentationNode)
        self.assertEqual(check.GetNumberOfRows(), 6)  # one row per slice: where to look first
        overlay = logic.fatVoxelOverlay(imageNode, segmentationNode, "calibrated")
        self.assertGreater(overlay.GetSegmentation().GetNumberOfSegments(), 0)
        self.delayDisplay("Test passed")

    def test_review_loop_resumes(self):
        import tempfile
        from pathlib import Path

        from spinequant.imageio import write_volume
        from spinequant.phantoms.axial import make_axial_phantom
        from spinequant.tables import read_long_table

        with tempfile.TemporaryDirectory() as folder:
            phantoms = {}
            for index in range(3):
                caseId = f"case{index + 1}"
                phantoms[caseId] = make_axial_phantom(seed=index, spacing=(2.5, 2.5, 4.0), n_slices=6)
                (Path(folder) / caseId).mkdir()
                write_volume(phantoms[caseId].image, str(Path(folder) / caseId / "image.nii.gz"))
            cohort = str(Path(folder) / "cohort.csv")
            logic = ParaspinalFatLogic()
            session = logic.openReview(folder, cohortPath=cohort)
            for _step in range(2):
                caseId = session.current_case.case_id
                nodes = logic.loadReviewCase(session, session.current)
                segmentation = logic.segmentMuscles(
                    nodes["volume"], segmenter=lambda image, water, fat, c=caseId: phantoms[c].labels)
                logic.acceptReviewCase(session, nodes["volume"], segmentation)
            slicer.mrmlScene.Clear()
            resumed = ParaspinalFatLogic().openReview(folder)
            self.assertEqual(resumed.current_case.case_id, "case3")
            self.assertEqual(sorted(set(read_long_table(cohort)["case_id"])), ["case1", "case2"])
        self.delayDisplay("Test passed")
