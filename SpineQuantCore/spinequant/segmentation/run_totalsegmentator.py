"""Optional: run an installed TotalSegmentator (total_mr) and return its label map. Never required."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..errors import InputError
from ..imageio import Volume, read_volume, write_volume


def run_totalsegmentator(image: Volume) -> Volume:
    try:
        from totalsegmentator.python_api import totalsegmentator
    except ImportError:
        raise InputError(
            "totalsegmentator-run",
            "TotalSegmentator is not installed; run it yourself and import its output with "
            "--backend totalsegmentator --labels SEG.nii.gz, or use the built-in backend",
        ) from None
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "image.nii.gz"
        target = Path(folder) / "seg.nii.gz"
        write_volume(image, str(source))
        totalsegmentator(str(source), str(target), ml=True, task="total_mr")
        return read_volume(str(target))
