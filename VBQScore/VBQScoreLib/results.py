"""The VBQ result as a typed table node (long format) and in plain words for the panel."""

from __future__ import annotations

from ParaspinalFatLib.review_nodes import case_of, tag_case_node
from ParaspinalFatLib.review_panel import tr
from ParaspinalFatLib.tables import long_table_to_node
from spinequant.vbq.pipeline import VBQ_LEVELS

from .level_points import LANDMARK_ORDER


def write_result_table(result, case_id: str, volume_node, table_node=None):
    """Long-format rows of the result into table_node (created when None). Returns (DataFrame, node)."""
    from spinequant.tables import long_table
    from spinequant.vbq.report import result_rows

    frame = long_table(result_rows(result, case_id))
    table_node = long_table_to_node(frame, table_node, name="VBQ score", scene=volume_node.GetScene())
    table_node.SetAttribute("SpineQuant.case_id", case_id)
    return frame, tag_case_node(table_node, case_of(volume_node))


def result_summary(result) -> str:
    """Score, category against the cut-off, exclusions, CSF fallback and warnings, in plain words."""
    lines = [tr("VBQ score {vbq:.2f} (median marrow signal {marrow:.1f} of {levels} / CSF signal {csf:.1f} "
                "at {csfLevel}).").format(vbq=result.vbq, marrow=result.numerator,
                                          levels=", ".join(result.levels_used), csf=result.csf_signal,
                                          csfLevel=result.csf_level)]
    relation = tr("at or above") if result.vbq >= result.cutoff.value else tr("below")
    lines.append(tr("This is {relation} the cut-off {cutoff:.2f} ({reference}): {category}.").format(
        relation=relation, cutoff=result.cutoff.value, reference=result.cutoff.reference,
        category=result.category))
    for level, reason in sorted(result.excluded.items()):
        if level in VBQ_LEVELS:
            lines.append(tr("{level} left out: {reason}.").format(level=level, reason=reason))
    if result.csf_level != "L3":
        lines.append(tr("The CSF could not be measured at L3; it was measured at {level} instead.").format(
            level=result.csf_level))
    lines += [tr("CSF: {note}.").format(note=note) for note in result.csf_notes]
    lines += [tr("Warning: {warning}.").format(warning=warning) for warning in result.warnings]
    return "\n".join(lines)


def detection_summary(result) -> str:
    """Which points were placed, what to do next, and any warning (e.g. sacrum not in view)."""
    if result is None:
        return ""
    found = [name for name in LANDMARK_ORDER if name in result.landmarks_lps]
    lines = [tr("Placed {points}. Drag a point to correct it, then Compute VBQ.").format(points=", ".join(found))]
    lines += [tr("Warning: {warning}.").format(warning=warning) for warning in result.warnings]
    return "\n".join(lines)
