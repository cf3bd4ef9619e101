"""Errors a user can cause, kept apart from bugs.

A `UserError` carries one clear message naming the thing at fault and the fix; the CLI prints it and exits
with code 2. Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: suite file, option, plug-in, data directory or checkpoint."""

    exit_code = 2

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])

    def __str__(self) -> str:
        head = super().__str__()
        if not self.problems:
            return head
        return head + "\n" + "\n".join(f"  - {p}" for p in self.problems)
