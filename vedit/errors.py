"""Errors a user sees: each names the file and the problem in one line."""
from __future__ import annotations

from os import PathLike


class VeditError(Exception):
    """Base of every error vedit reports to a user.

    Args:
        path: the file the problem is about (None when it is about no file).
        problem: what is wrong, in words an editor understands.
    """

    def __init__(self, path: str | PathLike[str] | None, problem: str) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class InputError(VeditError):
    """An input file is missing, unreadable, corrupt or unusable."""


class OutputError(VeditError):
    """An output cannot be written (folder missing or read-only, unknown codec...)."""


class ConfigError(VeditError):
    """An option, preset or shot list is invalid."""
