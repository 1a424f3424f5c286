"""Errors as one line: the API's RFC 9457 problems, an unreachable API and anything unexpected become
``error: <code>: <detail>`` on stderr and a non-zero exit code; ``reprotect --debug`` shows the traceback.

Every command's group is an :class:`OneLineErrors` (``typer.Typer(cls=...)``): it catches what a command
raises, so scripts never parse a traceback and people see what to fix.
"""

from __future__ import annotations

import sys
from typing import Any

import httpx
import typer
from typer.core import TyperGroup

EXIT_PROBLEM = 1  # the API answered with a problem, or the command could not do its job
EXIT_NOT_ALL_DONE = 2  # a watched or acted-on job did not end as asked (failed, cancelled, refused)
EXIT_UNREACHABLE = 3  # the API did not answer at all (down, wrong --api, timeout)


class CliError(Exception):
    """A failure the CLI itself names (``code``) and explains; no traceback helps with it."""

    code = "cli_error"


class ApiProblem(Exception):
    """An answer of 400 or more from the API, as its problem+json body says (or as close as it gets)."""

    def __init__(self, status: int, code: str, detail: str, body: dict[str, Any] | None = None):
        super().__init__(f"{code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.body = body or {}

    @classmethod
    def from_response(cls, answer: httpx.Response) -> ApiProblem:
        """The problem an error answer carries; a non-problem body (a proxy's HTML) becomes ``http_<status>``."""
        try:
            body = answer.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("code"):
            detail = str(body.get("detail") or body.get("title") or answer.reason_phrase)
            return cls(answer.status_code, str(body["code"]), detail, body)
        return cls(answer.status_code, f"http_{answer.status_code}", answer.reason_phrase or "error")


def checked(answer: httpx.Response) -> Any:
    """The answer's JSON body; raises :class:`ApiProblem` for a 4xx/5xx answer."""
    if answer.status_code >= 400:
        raise ApiProblem.from_response(answer)
    return answer.json()


def one_line(exc: BaseException) -> tuple[str, int]:
    """The line to print for ``exc`` and the exit code."""
    if isinstance(exc, ApiProblem):
        return f"error: {exc.code}: {_flat(exc.detail)}", EXIT_PROBLEM
    if isinstance(exc, httpx.TransportError):
        where = _url_of(exc)
        reason = _flat(str(exc)) or type(exc).__name__
        return f"error: api_unreachable: cannot reach the API{where}: {reason}", EXIT_UNREACHABLE
    if isinstance(exc, CliError):
        return f"error: {exc.code}: {_flat(str(exc))}", EXIT_PROBLEM
    name = type(exc).__name__
    return f"error: {name}: {_flat(str(exc)) or name} (reprotect --debug shows the traceback)", EXIT_PROBLEM


def refusal_lines(exc: ApiProblem) -> list[str]:
    """The per-VM refusals a prerequisites problem lists, one indented line each (after the error line)."""
    return [
        f"  {str(vm.get('vm', '?')).rsplit('/', 1)[-1]}: {vm.get('code')}: {_flat(str(vm.get('message', '')))}"
        for vm in exc.body.get("vms") or []
        if isinstance(vm, dict)
    ]


def _flat(text: str) -> str:
    return " ".join(text.split())


def _url_of(exc: httpx.TransportError) -> str:
    try:
        request = exc.request
    except RuntimeError:  # raised outside a request (no .request set)
        return ""
    return f" at {request.url.scheme}://{request.url.netloc.decode()}"


def _passes_through(exc: Exception) -> bool:
    """Typer's and Click's own exceptions (exit codes, usage errors) are theirs to print."""
    return isinstance(exc, typer.Exit | typer.Abort) or type(exc).__module__.startswith(("typer", "click"))


class OneLineErrors(TyperGroup):
    """A command group that prints what its commands raise as one line (unless ``--debug``)."""

    def invoke(self, ctx: Any) -> Any:
        """Run the command; on an error print one line to stderr and exit non-zero."""
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if _passes_through(exc) or _debugging(ctx):
                raise
            line, code = one_line(exc)
            print(line, file=sys.stderr, flush=True)
            if isinstance(exc, ApiProblem):
                for extra in refusal_lines(exc):
                    print(extra, file=sys.stderr, flush=True)
            raise typer.Exit(code) from None


def _debugging(ctx: Any) -> bool:
    """``--debug`` on the root command (or ``REPROTECT_DEBUG=1``)."""
    root = ctx.find_root() if ctx is not None else None
    return bool(root is not None and root.params.get("debug"))
