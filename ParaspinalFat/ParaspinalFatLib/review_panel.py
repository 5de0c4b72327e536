"""GUI helpers shared by the ParaspinalFat and VBQScore widgets: the progress dialog around long logic
calls and the case list of the review loop. Qt is imported at call time only (the application provides
it), so importing this file never needs a GUI.
"""

from __future__ import annotations

import logging


def tr(text: str) -> str:
    """Slicer translation of text; the text itself outside the application."""
    try:
        from slicer.i18n import tr as slicer_tr
    except ImportError:  # outside the application
        return text
    return slicer_tr(text)


def runWithProgress(title, work):
    """Run work(progress) under Slicer's progress dialog; None when the user cancelled.

    progress(fraction, message) returns False once Cancel was pressed, which makes the logic raise
    spinequant.review.Cancelled at its next step.
    """
    import slicer

    from spinequant.review import Cancelled

    dialog = slicer.util.createProgressDialog(windowTitle=title, labelText=title, maximum=100)

    def progress(fraction, message=""):
        dialog.labelText = message or title
        dialog.value = int(round(100 * fraction))
        slicer.app.processEvents()
        return not dialog.wasCanceled

    try:
        return work(progress)
    except Cancelled:
        logging.info("%s: cancelled by the user", title)
        return None
    finally:
        dialog.close()


def fillCaseTable(tableWidget, session) -> None:
    """Case list with status per case; the current case is selected."""
    import qt

    statuses = session.statuses()
    tableWidget.setRowCount(len(statuses))
    tableWidget.setColumnCount(2)
    tableWidget.setHorizontalHeaderLabels([tr("Case"), tr("Status")])
    for row, (caseId, status) in enumerate(statuses):
        tableWidget.setItem(row, 0, qt.QTableWidgetItem(caseId))
        tableWidget.setItem(row, 1, qt.QTableWidgetItem(tr(status)))
    tableWidget.selectRow(session.current)


def reviewStatusText(session) -> str:
    """One line: where the user is in the review and how many cases are done."""
    counts = session.counts()
    return tr("Case {index} of {total}: {case} ({status}). Reviewed {reviewed}, measured {measured}, "
               "not started {todo}.").format(
        index=session.current + 1, total=len(session.cases), case=session.current_case.case_id,
        status=tr(session.status(session.current_case.case_id)), reviewed=counts["reviewed"],
        measured=counts["measured"], todo=counts["not started"])
