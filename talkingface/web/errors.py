"""One error type for the site: a problem and its fix, shown in the page and returned as the API's JSON."""

from __future__ import annotations

from typing import Dict

from ..core.errors import TalkingfaceError


class WebError(Exception):
    def __init__(self, problem: str, *, fix: str, status: int = 400) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        self.status = status

    def payload(self) -> Dict[str, str]:
        return {"error": self.problem, "fix": self.fix}

    @classmethod
    def from_cli(cls, exc: TalkingfaceError, *, status: int = 400) -> WebError:
        return cls(exc.problem, fix=exc.fix, status=status)


def cli_error_line(text: str) -> WebError | None:
    """The host CLI's own one-line error (``error: P -- fix: F``), the last one it printed."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("error: "):
            problem, _, fix = line[len("error: ") :].partition(" -- fix: ")
            return WebError(problem, fix=fix or "read the job's log")
    return None


def check_http_url(what: str, url: str) -> str:
    """Only http(s): a file: or custom scheme URL would make the site read local files for whoever set it."""
    if url and not url.startswith(("http://", "https://")):
        raise TalkingfaceError(
            f"the {what} URL {url!r} is not http:// or https://", fix=f"give the {what} as http(s)://HOST:PORT"
        )
    return url
