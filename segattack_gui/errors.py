"""The one exception type for problems a user can fix (bad file, bad parameter)."""

from __future__ import annotations

import os


class SegAttackError(Exception):
    """A user-facing problem: names the file (or parameter) and says what is wrong.

    The CLI prints it as ``segattack: error: <source>: <problem>`` and exits 2;
    the GUI shows the same line in a dialog. Anything else is a bug.
    """

    def __init__(self, source: str | os.PathLike | None, problem: str):
        self.source = None if source is None else os.fspath(source)
        self.problem = problem
        super().__init__(self.one_line())

    def one_line(self) -> str:
        if self.source:
            return f"{self.source}: {self.problem}"
        return self.problem


def first_line(error: BaseException) -> str:
    """The first line of an exception's message ("" when it has none), for one-line reports of
    errors raised by code we do not own (a model, PyTorch): tracebacks stay out of the message."""
    lines = str(error).strip().splitlines()
    return lines[0].strip() if lines else ""
