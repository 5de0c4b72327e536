"""De-identification of batch outputs: study case ids instead of patient identifiers.

Outputs carry only a case id (the case folder name, or a generated one when that name holds a
patient identifier). DICOM identifiers are read solely to (1) recognise them in names and free text and
remove them, and (2) export them when the user explicitly asks (``--keep-identifiers``). Tags follow
the DICOM PS3.15 Annex E basic confidentiality profile (patient name, ID, birth date, accession).
"""

from __future__ import annotations

import hashlib
import re
from typing import Dict, Iterable, Mapping

IDENTIFYING_TAGS = {
    "0010|0010": "patient_name",
    "0010|0020": "patient_id",
    "0010|0030": "patient_birth_date",
    "0008|0050": "accession_number",
    "0010|1000": "other_patient_ids",
}
REMOVED = "[removed]"
MIN_TOKEN_CHARS = 3  # shorter name parts ("JR", initials) would blank ordinary words


def identifiers_from_metadata(metadata: Mapping[str, str]) -> Dict[str, str]:
    """The identifying DICOM values present in one header (empty ones dropped)."""
    found = {}
    for tag, name in IDENTIFYING_TAGS.items():
        value = str(metadata.get(tag, "")).strip().strip("\x00").strip()
        if value:
            found[name] = value
    return found


def identifier_tokens(identifiers: Mapping[str, str]) -> list:
    """Whole values plus the parts of person names (DOE^JOHN -> DOE^JOHN, DOE, JOHN), longest first."""
    tokens = set()
    for value in identifiers.values():
        tokens.add(value)
        for part in re.split(r"[\^\s,]+", value):
            if len(part) >= MIN_TOKEN_CHARS:
                tokens.add(part)
    return sorted(tokens, key=len, reverse=True)


def scrub_text(text: str, identifiers: Mapping[str, str]) -> str:
    """Replace every identifier (case-insensitively) in a message or note."""
    result = str(text)
    for token in identifier_tokens(identifiers):
        result = re.sub(re.escape(token), REMOVED, result, flags=re.IGNORECASE)
    return result


def contains_identifier(text: str, identifiers: Mapping[str, str]) -> bool:
    return scrub_text(text, identifiers) != str(text)


def generated_case_id(folder_name: str, salt: str = "spinequant") -> str:
    """A stable pseudonym; salted so that it cannot be looked up from a list of names."""
    digest = hashlib.sha256(f"{salt}:{folder_name}".encode()).hexdigest()[:10]
    return f"case-{digest}"


def study_case_id(folder_name: str, identifiers: Mapping[str, str], mode: str = "folder",
                  salt: str = "spinequant") -> str:
    """The folder name unless it contains a patient identifier (or mode is 'generated')."""
    if mode == "generated" or contains_identifier(folder_name, identifiers):
        return generated_case_id(folder_name, salt)
    return folder_name


def merge_identifiers(headers: Iterable[Mapping[str, str]]) -> Dict[str, str]:
    """Identifiers over all series of a case (first non-empty value per field)."""
    merged: Dict[str, str] = {}
    for metadata in headers:
        for name, value in identifiers_from_metadata(metadata).items():
            merged.setdefault(name, value)
    return merged
