"""QC reports a reviewer can scan quickly: per case (overlays at every level, VBQ ROIs, flags, notes)
and per cohort (index.html: one row per case with thumbnails, key numbers and flags).

Plain HTML with relative links to PNG files, no scripts, so the folder can be zipped and opened anywhere.
Texts come from case summaries that were already de-identified by the batch.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
import pandas as pd
import SimpleITK as sitk

from .imageio import Volume
from .levels import LevelSlices, ordered_levels
from .qc import muscle_qc_picture
from .tables import read_long_table

STYLE = ("body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
         "padding:3px 6px;font-size:13px;vertical-align:top}img.thumb{height:110px}.failed{background:#fdd}"
         ".flag{color:#b00;font-weight:bold}figure{display:inline-block;margin:4px}img.full{max-width:480px}")


def _display_slice(image: Volume, k: int) -> int:
    """Index of input slice k in the radiological display orientation that qc.py draws."""
    index = np.broadcast_to(np.arange(image.array.shape[0], dtype=np.int16)[:, None, None], image.array.shape)
    shown = sitk.GetArrayFromImage(sitk.DICOMOrient(image.with_array(np.ascontiguousarray(index)).to_sitk(), "LPS"))
    matches = np.flatnonzero((shown == k).all(axis=(1, 2)))
    return int(matches[0]) if matches.size else int(k)


def write_muscle_pictures(image: Volume, labels: np.ndarray, fat: Optional[np.ndarray], levels: LevelSlices,
                          out: Path) -> List[Dict[str, str]]:
    """One overlay PNG per level (its middle slice), or an overview montage when no level is known."""
    pictures = []
    for level in ordered_levels(levels):
        slices = sorted(levels[level])
        k = slices[len(slices) // 2]
        if not labels[k].any():
            continue
        name = f"muscles_{level}.png"
        muscle_qc_picture(image, labels, fat, str(out / name), slices=[_display_slice(image, k)])
        pictures.append({"level": level, "file": name, "slice": str(k)})
    if not pictures and labels.any():
        muscle_qc_picture(image, labels, fat, str(out / "muscles_overview.png"))
        pictures.append({"level": "overview", "file": "muscles_overview.png", "slice": ""})
    return pictures


def key_numbers(rows: pd.DataFrame) -> Dict[str, str]:
    """A handful of numbers per case: ES/MF fat (primary method, all slices), psoas CSA, VBQ."""
    found: Dict[str, str] = {}
    if rows.empty:
        return found
    everywhere = rows[rows["level"] == "all"]
    fat = everywhere[everywhere["metric"] == "fat_infiltration"]
    if not fat.empty:
        primary = fat["method"].iloc[0]
        for muscle, short in (("multifidus", "MF"), ("erector_spinae", "ES")):
            values = fat[(fat["structure"] == muscle) & (fat["method"] == primary)]["value"]
            if not values.empty:
                found[f"{short} fat %"] = f"{values.mean():.1f}"
    psoas = everywhere[(everywhere["structure"] == "psoas") & (everywhere["metric"] == "csa")
                       & (everywhere["side"] == "both")]["value"]
    if not psoas.empty:
        found["psoas CSA cm2"] = f"{psoas.iloc[0]:.1f}"
    vbq = rows[rows["metric"] == "vbq"]["value"]
    if not vbq.empty:
        found["VBQ"] = f"{vbq.iloc[0]:.2f}"
    return found


def _e(value) -> str:
    return html.escape(str(value))


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_e(title)}</title>"
            f"<style>{STYLE}</style></head><body>{body}</body></html>\n")


def _atomic_write(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.part")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def write_case_report(case_dir: Path, summary: Mapping, rows: pd.DataFrame) -> Path:
    """DIR/cases/<id>/report.html: pictures, key numbers, flags, notes."""
    parts = [f"<h1>{_e(summary.get('case_id', ''))}</h1>",
             f"<p>status: <b>{_e(summary.get('status', ''))}</b> {_e(summary.get('reason', ''))}</p>"]
    facts = {"axial series": summary.get("axial_series", ""), "sagittal series": summary.get("sagittal_series", ""),
             "levels from": summary.get("level_source", ""), "level confidence": summary.get("level_confidence", ""),
             "levels verified": summary.get("levels_verified", ""), "VBQ category": summary.get("vbq_category", "")}
    facts.update(key_numbers(rows))
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts.items())
    parts.append(f"<table>{cells}</table>")
    flags = summary.get("flags") or []
    if flags:
        parts.append("<p class='flag'>flags: " + _e(", ".join(flags)) + "</p>")
    for picture in summary.get("muscle_pictures") or []:
        parts.append(f"<figure><img class='full' src='{_e(picture['file'])}'>"
                     f"<figcaption>{_e(picture['level'])} (slice {_e(picture['slice'])})</figcaption></figure>")
    if summary.get("vbq_picture"):
        parts.append(f"<figure><img class='full' src='{_e(summary['vbq_picture'])}'>"
                     "<figcaption>VBQ ROIs, mid-sagittal</figcaption></figure>")
    notes = summary.get("notes") or []
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    path = case_dir / "report.html"
    _atomic_write(path, _page(str(summary.get("case_id", "case")), "".join(parts)))
    return path


def _case_rows(case_dir: Path) -> pd.DataFrame:
    path = case_dir / "measurements.csv"
    return read_long_table(str(path)) if path.exists() else pd.DataFrame()


def write_cohort_report(out: Path, order: Sequence[str], status: pd.DataFrame,
                        summaries: Mapping[str, Mapping]) -> Path:
    """DIR/index.html: one row per case (status, thumbnails, key numbers, flags) linking to its report."""
    state = dict(zip(status["case"], zip(status["status"], status["reason"])))
    columns = ["MF fat %", "ES fat %", "psoas CSA cm2", "VBQ"]
    head = ("<tr><th>case</th><th>status</th><th>pictures</th><th>levels</th>"
            + "".join(f"<th>{_e(c)}</th>" for c in columns) + "<th>flags</th><th>reason / notes</th></tr>")
    lines = []
    for case_id in order:
        if case_id not in state:
            continue
        case_status, reason = state[case_id]
        summary = dict(summaries.get(case_id, {"case_id": case_id, "status": case_status, "reason": reason}))
        case_dir = out / "cases" / case_id
        rows = _case_rows(case_dir)
        if case_dir.exists():
            write_case_report(case_dir, summary, rows)
        numbers = key_numbers(rows)
        pictures = [p["file"] for p in (summary.get("muscle_pictures") or [])[:2]]
        if summary.get("vbq_picture"):
            pictures.append(summary["vbq_picture"])
        thumbs = "".join(f"<a href='cases/{_e(case_id)}/{_e(p)}'><img class='thumb' src='cases/{_e(case_id)}/{_e(p)}'>"
                         "</a>" for p in pictures)
        levels = summary.get("levels", "")
        if summary.get("level_source"):
            levels = (f"{levels} ({summary['level_source']}, {summary.get('level_confidence', '')}"
                      f"{'' if summary.get('levels_verified') else ', UNVERIFIED'})")
        flags = ", ".join(summary.get("flags") or [])
        detail = reason or "; ".join((summary.get("notes") or [])[:3])
        link = f"<a href='cases/{_e(case_id)}/report.html'>{_e(case_id)}</a>" if case_dir.exists() else _e(case_id)
        lines.append(f"<tr class='{'failed' if case_status == 'failed' else ''}'><td>{link}</td>"
                     f"<td>{_e(case_status)}</td><td>{thumbs}</td><td>{_e(levels)}</td>"
                     + "".join(f"<td>{_e(numbers.get(c, ''))}</td>" for c in columns)
                     + f"<td class='flag'>{_e(flags)}</td><td>{_e(detail)}</td></tr>")
    failed = int((status["status"] == "failed").sum())
    body = (f"<h1>SpineQuant batch report</h1><p>{len(lines)} cases, {failed} failed. Colours: multifidus red, "
            "erector spinae blue, psoas green, quadratus lumborum yellow; fat voxels tinted yellow.</p>"
            f"<table>{head}{''.join(lines)}</table>")
    path = out / "index.html"
    _atomic_write(path, _page("SpineQuant batch report", body))
    return path
