"""A dependency-free text progress bar for long CLI work (stderr, only when it is a terminal)."""

from __future__ import annotations

import sys
from typing import Iterable, Iterator, Optional, TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], label: str, total: Optional[int] = None, stream=None) -> Iterator[T]:
    stream = stream or sys.stderr
    items = list(items) if total is None else items
    total = len(items) if total is None else total
    show = hasattr(stream, "isatty") and stream.isatty()
    for index, item in enumerate(items, start=1):
        yield item
        if show:
            filled = int(30 * index / max(total, 1))
            stream.write(f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {index}/{total}")
            stream.flush()
    if show:
        stream.write("\n")
