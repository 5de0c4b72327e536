"""What the ParaspinalFat and VBQScore panels share: installing missing packages on first use, the
parameter-node lifecycle of Slicer's scripted-module template, and the case-by-case review loop.

Only slicer and vtk are imported here (both come with the application), so a module file can import this
at load time; the core and pandas are imported by the logic when a button is pressed.
"""

from __future__ import annotations

import pathlib

import slicer
import vtk

from .review_panel import fillCaseTable, reviewStatusText, runWithProgress, tr

# Python packages Slicer does not bundle: installed on first use (after asking), never at import.
REQUIREMENTS = (("pandas", "pandas>=2.0"), ("skimage", "scikit-image>=0.22"), ("openpyxl", "openpyxl>=3.1"))


def missingRequirements():
    import importlib.util

    return [requirement for module, requirement in REQUIREMENTS if importlib.util.find_spec(module) is None]


def ensureDependencies(requester: str) -> bool:
    """Install missing packages after asking the user; True when everything is importable.

    Called by the button handlers before any logic runs (never at import or module construction).
    """
    missing = missingRequirements()
    if not missing:
        return True
    packaging = getattr(slicer, "packaging", None)
    if packaging is not None and hasattr(packaging, "pip_ensure"):  # Slicer >= 5.12 asks the user itself
        packaging.pip_ensure(missing, requester=requester)
    else:
        question = tr("SpineQuant needs these Python packages: {packages}. Install them now?").format(
            packages=", ".join(missing))
        if not slicer.util.confirmOkCancelDisplay(question, windowTitle=requester):
            return False
        slicer.util.pip_install(missing)
    return not missingRequirements()


def pathOrNone(path):
    """Unset ctkPathLineEdit values arrive as Path('.'); treat them as None."""
    return None if path is None or str(path).strip() in ("", ".") else str(path)


class ReviewLogicMixin:
    """Review-loop steps of a logic whose class sets MODULE_NAME (the module column of the review log)."""

    MODULE_NAME = ""

    def openReview(self, folder, outputFolder=None, cohortPath=None):
        """Start or resume the review of a folder of cases (spinequant.review.ReviewSession)."""
        from spinequant.review import ReviewSession

        return ReviewSession.open(folder, self.MODULE_NAME, outputFolder, cohortPath)

    def noteMeasured(self, session, caseId=None):
        session.mark_measured(caseId or session.current_case.case_id)

    def caseInCohort(self, session, caseId=None) -> bool:
        """True when the cohort file already holds rows of the case (the GUI then asks to replace)."""
        from spinequant.errors import CohortError

        try:
            session.check_can_accept(caseId or session.current_case.case_id)
        except CohortError:
            return bool(session.cohort_path)
        return False


class PanelMixin:
    """Parameter-node lifecycle and review-loop buttons of a SpineQuant panel.

    The panel sets self.logic, self.ui, self._parameterNode, self._parameterNodeGuiTag, self.reviewSession
    and defines _checkCanApply(), _loadCase(index) and _acceptCase(session, replace, progress) -> next index.
    """

    requester = "SpineQuant"

    def connectReviewButtons(self) -> None:
        self.ui.openFolderButton.connect("clicked(bool)", self.onOpenFolderButton)
        self.ui.previousButton.connect("clicked(bool)", self.onPreviousButton)
        self.ui.nextButton.connect("clicked(bool)", self.onNextButton)
        self.ui.acceptButton.connect("clicked(bool)", self.onAcceptButton)
        self.ui.caseTable.connect("cellDoubleClicked(int,int)", self.onCaseDoubleClicked)

    # --- parameter node (as in Slicer's scripted-module template)

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

    def setParameterNode(self, inputParameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
            self._checkCanApply()

    def _enableReviewButtons(self, ready: bool) -> None:
        reviewing = self.reviewSession is not None
        self.ui.previousButton.enabled = reviewing
        self.ui.nextButton.enabled = reviewing
        self.ui.acceptButton.enabled = reviewing and ready

    # --- review loop

    def onOpenFolderButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(tr("Failed to open the case folder."), waitCursor=True):
            if not ensureDependencies(self.requester):
                return
            parameters = self._parameterNode
            folder = pathOrNone(parameters.reviewFolder)
            if folder is None:
                raise ValueError(tr("Choose the folder of cases first."))
            self.reviewSession = self.logic.openReview(folder, pathOrNone(parameters.reviewOutputFolder),
                                                       pathOrNone(parameters.cohortFile))
            if self.reviewSession.cohort_path:
                parameters.cohortFile = pathlib.Path(self.reviewSession.cohort_path)
            self._loadCase(self.reviewSession.current)

    def onPreviousButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(tr("Failed to load the case."), waitCursor=True):
            self._loadCase(self.reviewSession.current - 1)

    def onNextButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(tr("Failed to load the case."), waitCursor=True):
            self._loadCase(self.reviewSession.current + 1)

    def onCaseDoubleClicked(self, row, column) -> None:
        with slicer.util.tryWithErrorDisplay(tr("Failed to load the case."), waitCursor=True):
            self._loadCase(row)

    def onAcceptButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(tr("Failed to accept the case."), waitCursor=True):
            if not ensureDependencies(self.requester):
                return
            session = self.reviewSession
            if not session.cohort_path:
                cohort = pathOrNone(self._parameterNode.cohortFile)
                if cohort is None:
                    raise ValueError(tr("Choose the cohort file (CSV or XLSX) before accepting."))
                session.cohort_path = str(pathlib.Path(cohort).resolve())
                session.save()
            replace = False
            if self.logic.caseInCohort(session):
                question = tr("Case {case} is already in the cohort file. Replace its rows? (A backup of the "
                              "file is kept.)").format(case=session.current_case.case_id)
                if not slicer.util.confirmYesNoDisplay(question):
                    return
                replace = True
            nextIndex = runWithProgress(tr("Accepting case"),
                                        lambda progress: self._acceptCase(session, replace, progress))
            if nextIndex is None:
                return
            if session.finished:
                slicer.util.infoDisplay(tr("All cases are reviewed. The cohort is in {path}.").format(
                    path=session.cohort_path))
            self._loadCase(nextIndex)

    def _markMeasured(self) -> None:
        if self.reviewSession is not None:
            self.reviewSession.mark_measured(self.reviewSession.current_case.case_id)
            self._showCases()

    def _showCases(self) -> None:
        fillCaseTable(self.ui.caseTable, self.reviewSession)
        self.ui.reviewStatusLabel.text = reviewStatusText(self.reviewSession)
        self._checkCanApply()
