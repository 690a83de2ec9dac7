"""The errors of harness.stack: terraform that cannot be read, and checks that cannot run."""
from __future__ import annotations


class StackError(ValueError):
    """The terraform cannot be read or resolved."""


class CheckNotRun(RuntimeError):
    """A check's tool or input is missing; `why` says what, `fix` how to get it."""

    def __init__(self, why: str, fix: str, tool: str | None = None) -> None:
        super().__init__(f"{why} — {fix}")
        self.why = why
        self.fix = fix
        self.tool = tool
