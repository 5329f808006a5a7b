"""One error type whose message always names the problem and its fix."""

from __future__ import annotations


class TalkingfaceError(Exception):
    """A user-facing failure: printed as one line, exit status ``exit_code``."""

    def __init__(self, problem: str, *, fix: str, exit_code: int = 2) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        self.exit_code = exit_code

    def one_line(self) -> str:
        return f"error: {self.problem} -- fix: {self.fix}"
