"""A batch run stopped after a number of cases (as by Ctrl-C), then resumed: for the resume tests."""

from __future__ import annotations

from typing import List, Tuple

import pytest

from spinequant.batch import run_batch


def interrupted_then_resumed(folder, out_dir, stop_after: int) -> Tuple[List[str], object]:
    """(case ids finished before the interruption, BatchResult of the resumed run)."""
    finished: List[str] = []

    def interrupt(outcome):
        finished.append(outcome.case_id)
        if len(finished) == stop_after:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(str(folder), str(out_dir), report=False, after_case=interrupt)
    return finished, run_batch(str(folder), str(out_dir), resume=True, report=False)
