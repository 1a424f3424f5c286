"""``reprotect jobs list|show|cancel|retry``: jobs as ``GET /jobs`` lists them, one job with its steps and
history, and cancel/retry of one job by id or of every job a ``--filter`` matches (through the API)."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from cli import jobs_view
from cli.client import api_client, fetch_pages
from cli.output import Output, OutputOption, print_json, render
from cli.problems import EXIT_NOT_ALL_DONE, EXIT_PROBLEM, checked

app = typer.Typer(
    help="Jobs: list them, show one, cancel or retry one by id or many chosen by a filter.", no_args_is_help=True
)
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
EXIT_SOME_NOT_DONE = EXIT_NOT_ALL_DONE
__all__ = ["EXIT_PROBLEM", "EXIT_SOME_NOT_DONE", "Output", "app", "parse_filter", "run_action"]


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
    """Send the bulk action, print the answer; the exit code (a job not retried/cancelled). A problem answer
    raises :class:`ApiProblem` (printed as one line by the command group)."""
    answer = http.post(
        f"/jobs:{action}", params={"dry_run": dry_run}, json={"filter": selector, "max_count": max_count}
    )
    body = checked(answer)
    render(body, output, lambda: print_outcomes(console, body))
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
    list[str] | None,
    typer.Option(
        "--filter",
        help="KEY=VALUE (repeatable): state, error_code, vault_id, request_id (several: repeat or comma-separate), "
        "subscription_id, vm_prefix, created_after, created_before.",
    ),
]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Show what would happen to each job; change nothing.")]
MaxOption = Annotated[int, typer.Option("--max", min=1, max=1000, help="Refuse when more jobs match.")]
ApiOption = Annotated[str, typer.Option("--api", envvar="REPROTECT_API_URL", help="The service's base URL.")]
KeyOption = Annotated[str | None, typer.Option("--api-key", envvar="REPROTECT_API_KEY", help="API key (rpk_…).")]


JobIdArgument = Annotated[
    str | None, typer.Argument(help="One job's id (as `jobs list` shows it); or choose jobs with --filter.")
]


def _client(api: str, key: str | None, timeout: float = 60) -> httpx.Client:
    return api_client(api, key, timeout=timeout)


def _command(
    action: str,
    job_id: str | None,
    filters: list[str] | None,
    dry_run: bool,
    max_count: int,
    output: Output,
    api: str,
    key: str | None,
) -> None:
    if bool(job_id) == bool(filters):
        raise typer.BadParameter(f"give one job id, or --filter to {action} many jobs (not both)")
    if job_id:
        if dry_run:
            raise typer.BadParameter("--dry-run works with --filter only", param_hint="--dry-run")
        with _client(api, key) as http:
            job = checked(http.post(f"/jobs/{job_id}/{action}"))
        render(job, output, lambda: jobs_view.print_acted(console, action, job))
        return
    selector = parse_filter(filters or [])
    with _client(api, key, timeout=600) as http:
        code = run_action(http, action, selector=selector, dry_run=dry_run, max_count=max_count, output=output)
    raise typer.Exit(code)


@app.command()
def retry(
    job_id: JobIdArgument = None,
    filters: FilterOption = None,
    dry_run: DryRunOption = False,
    max_count: MaxOption = 100,
    output: OutputOption = Output.TABLE,
    api: ApiOption = "http://127.0.0.1:8000",
    api_key: KeyOption = None,
) -> None:
    """Retry one failed job by id, or every failed job the filter matches (other states only with state=…)."""
    _command("retry", job_id, filters, dry_run, max_count, output, api, api_key)


@app.command()
def cancel(
    job_id: JobIdArgument = None,
    filters: FilterOption = None,
    dry_run: DryRunOption = False,
    max_count: MaxOption = 100,
    output: OutputOption = Output.TABLE,
    api: ApiOption = "http://127.0.0.1:8000",
    api_key: KeyOption = None,
) -> None:
    """Cancel one job by id, or every active job the filter matches (each job's refusal is listed)."""
    _command("cancel", job_id, filters, dry_run, max_count, output, api, api_key)


@app.command("list")
def list_jobs(
    state: Annotated[
        str | None,
        typer.Option(help="accepted, validating, submitting, reprotecting, syncing, protected, failed or cancelled."),
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(help="reprotect, drill, drill_cleanup, failover, commit or reprotect_back."),
    ] = None,
    vault_id: Annotated[str | None, typer.Option(help="Only jobs of this vault (ARM id).")] = None,
    subscription_id: Annotated[str | None, typer.Option(help="Only jobs of VMs in this subscription.")] = None,
    vm: Annotated[str | None, typer.Option(help="Only jobs of this VM (its name or replicated item id).")] = None,
    request_id: Annotated[str | None, typer.Option(help="Only jobs of this reprotect request.")] = None,
    error_code: Annotated[str | None, typer.Option(help="Only failed jobs with this error code.")] = None,
    created_after: Annotated[str | None, typer.Option(help="ISO 8601 time, e.g. 2026-12-01T04:00:00Z.")] = None,
    created_before: Annotated[str | None, typer.Option(help="ISO 8601 time, e.g. 2026-12-01T05:00:00Z.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help="Jobs per page (the API's limit).")] = 50,
    cursor: Annotated[str | None, typer.Option(help="Start at this page (a previous answer's next_cursor).")] = None,
    all_pages: Annotated[
        bool, typer.Option("--all/--first-page", help="Follow every page, or only the first.")
    ] = False,
    view: Annotated[
        str, typer.Option(help="compact rows, or full (history, steps, ASR tasks, plan, customisation).")
    ] = "compact",
    output: OutputOption = Output.TABLE,
    api: ApiOption = "http://127.0.0.1:8000",
    api_key: KeyOption = None,
) -> None:
    """Jobs, newest first, filtered as GET /jobs filters them."""
    params: dict[str, Any] = {
        "state": state,
        "kind": kind,
        "vault_id": vault_id,
        "subscription_id": subscription_id,
        "vm": vm,
        "request_id": request_id,
        "error_code": error_code,
        "created_after": created_after,
        "created_before": created_before,
        "limit": limit,
        "view": view,
    }
    params = {key: value for key, value in params.items() if value is not None}
    with _client(api, api_key) as http:
        items, cursor = fetch_pages(http, "/jobs", params, cursor=cursor, all_pages=all_pages)
    if output == Output.JSON:
        print_json({"items": items, "next_cursor": cursor})
        return
    jobs_view.print_jobs(console, items)
    more = f" (more: --all, or --cursor {cursor})" if cursor else ""
    console.print(f"{len(items)} job(s){more}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def show(
    job_id: Annotated[str, typer.Argument(help="The job's id (as `jobs list` shows it).")],
    output: OutputOption = Output.TABLE,
    api: ApiOption = "http://127.0.0.1:8000",
    api_key: KeyOption = None,
) -> None:
    """One job: state, ETA, error with Azure's possible causes and recommended action, steps, ASR tasks, history."""
    with _client(api, api_key) as http:
        job = checked(http.get(f"/jobs/{job_id}"))
    render(job, output, lambda: jobs_view.print_job(console, job))
