"""Batch processing of a folder of cases: series selection, per-case pipeline, resumable runner."""

from __future__ import annotations

from .runner import BatchResult, run_batch

__all__ = ["BatchResult", "run_batch"]
