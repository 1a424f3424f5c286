"""``reprotect jobs retry|cancel --filter KEY=VALUE``: bulk actions on the jobs a filter matches (through the API)."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from cli import client

app = typer.Typer(help="Act on many jobs at once, chosen by a filter.", no_args_is_help=True)
console = Console()

# --filter key → (body field, whether it takes several values: repeat the key or separate them by commas)
FILTER_KEYS: dict[str, tuple[str, bool]] = {
    "state": ("states", True),
    "error_code": ("error_codes", True),
    "vault_id": ("vault_ids", True),
    "request_id": ("request_ids", True),
    "subscription_id": ("subscription_id", False),
    "vm_prefix": ("vm_name_prefix", False),
    "created_after": ("created_after", False),
    "created_before": ("created_before", False),
}
EXIT_PROBLEM, EXIT_SOME_NOT_DONE = 1, 2


class Output(StrEnum):
    """How to print the answer."""

    TABLE = "table"
    JSON = "json"


def parse_filter(pairs: list[str]) -> dict[str, Any]:
    """``["state=failed", "error_code=151195,150097"]`` → the request's ``filter`` object."""
    selector: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in FILTER_KEYS or not value.strip():
            known = ", ".join(FILTER_KEYS)
            raise typer.BadParameter(f"{pair!r}: expected KEY=VALUE with KEY one of {known}", param_hint="--filter")
        field, many = FILTER_KEYS[key]
        if many:
            selector.setdefault(field, []).extend(v.strip() for v in value.split(",") if v.strip())
        elif field in selector:
            raise typer.BadParameter(f"{key} given twice", param_hint="--filter")
        else:
            selector[field] = value.strip()
    return selector


def run_action(
    http: httpx.Client, action: str, *, selector: dict[str, Any], dry_run: bool, max_count: int, output: Output
) -> int:
    """Send the bulk action, print the answer; the exit code (a problem, or a job not retried/cancelled)."""
    answer = http.post(
        f"/jobs:{action}", params={"dry_run": dry_run}, json={"filter": selector, "max_count": max_count}
    )
    body = answer.json()
    if answer.status_code >= 400:
        if output == Output.JSON:
            print(json.dumps(body, indent=2))
        else:
            client.print_problem(console, body)
        return EXIT_PROBLEM
    if output == Output.JSON:
        print(json.dumps(body, indent=2))
    else:
        print_outcomes(console, body)
    not_done = body["counts"].get("refused", 0) + body["counts"].get("failed", 0)
    return EXIT_SOME_NOT_DONE if not_done else 0


def print_outcomes(out: Console, body: dict[str, Any]) -> None:
    """Every matched job with its outcome, then the counts."""
    table = Table("job", "VM", "state", "error", "outcome", "detail")
    for job in body["jobs"]:
        problem = job.get("problem")
        detail = f"{problem['status']} {problem['code']}: {problem['detail']}" if problem else job["detail"]
        table.add_row(job["id"][:8], job["vm"], job["state"], job.get("error_code") or "-", job["outcome"], detail)
    out.print(table)
    counts = ", ".join(f"{name} {n}" for name, n in body["counts"].items() if n)
    what = "dry run: " if body["dry_run"] else ""
    out.print(f"{what}{body['matched']} job(s) matched" + (f" ({counts})" if counts else ""))


FilterOption = Annotated[
    list[str],
    typer.Option(
        "--filter",
        help="KEY=VALUE (repeatable): state, error_code, vault_id, request_id (several: repeat or comma-separate), "
        "subscription_id, vm_prefix, created_after, created_before.",
    ),
]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Show what would happen to each job; change nothing.")]
MaxOption = Annotated[int, typer.Option("--max", min=1, max=1000, help="Refuse when more jobs match.")]
OutputOption = Annotated[Output, typer.Option("--output", help="table or json.")]
ApiOption = Annotated[str, typer.Option("--api", envvar="REPROTECT_API_URL", help="The service's base URL.")]
KeyOption = Annotated[str | None, typer.Option("--api-key", envvar="REPROTECT_API_KEY", help="API key (rpk_…).")]


def _command(
    action: str, filters: list[str], dry_run: bool, max_count: int, output: Output, api: str, key: str | None
) -> None:
    selector = parse_filter(filters)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(base_url=api, headers=headers, timeout=600) as http:
        code = run_action(http, action, selector=selector, dry_run=dry_run, max_count=max_count, output=output)
    raise typer.Exit(code)


@app.command()
def retry(
    filters: FilterOption,
    dry_run: DryRunOption = False,
    max_count: MaxOption = 100,
    output: OutputOption = Output.TABLE,
    api: ApiOption = "http://127.0.0.1:8000",
    api_key: KeyOption = None,
) -> None:
    """Retry every failed job the filter matches (other states only with an explicit state=…)."""
    _command("retry", filters, dry_run, max_count, output, api, api_key)


@app.command()
def cancel(
    filters: FilterOption,
    dry_run: DryRunOption = False,
    max_count: MaxOption = 100,
    output: OutputOption = Output.TABLE,
    api: ApiOption = "http://127.0.0.1:8000",
    api_key: KeyOption = None,
) -> None:
    """Cancel every active job the filter matches; each job's refusal is listed."""
    _command("cancel", filters, dry_run, max_count, output, api, api_key)
