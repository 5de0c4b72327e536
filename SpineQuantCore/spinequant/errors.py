"""Errors raised for bad input. Each message names the file (or input) and the problem."""

from __future__ import annotations


class SpineQuantError(Exception):
    """Base class for errors a user can act on (bad input, missing data)."""


class InputError(SpineQuantError, ValueError):
    """An input file or array cannot be used; the message says which and why."""

    def __init__(self, source: str, problem: str):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class CohortError(SpineQuantError):
    """A cohort table cannot be updated without losing or silently overwriting rows."""
