"""Never lose a file: time-stamped backups before anything is replaced."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Optional, Tuple

COMPOUND_SUFFIXES = (".seg.nrrd", ".mrk.json", ".nii.gz", ".schema.tsv")


def split_suffix(path: Path) -> Tuple[str, str]:
    """('case', '.seg.nrrd') for case.seg.nrrd: compound suffixes stay whole."""
    name = path.name
    for suffix in COMPOUND_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)], name[-len(suffix):]
    return path.stem, path.suffix


def backup_existing(path) -> Optional[Path]:
    """Copy an existing file to '<name>.backup-<time><suffix>' before it is replaced; None if absent."""
    target = Path(path)
    if not target.exists():
        return None
    stem, suffix = split_suffix(target)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup = target.with_name(f"{stem}.backup-{stamp}{suffix}")
    counter = 1
    while backup.exists():
        backup = target.with_name(f"{stem}.backup-{stamp}-{counter}{suffix}")
        counter += 1
    shutil.copy2(target, backup)
    return backup
