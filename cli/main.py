"""``reprotect`` commands. Each is thin: it builds settings or a stack and calls one thing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

from cli import campaigns, client, configuration, jobs, keys, sealing
from cli.output import Output, OutputOption, print_json
from cli.problems import EXIT_NOT_ALL_DONE, checked
from cli.problems import OneLineErrors as _OneLineErrors
from cli.stack import StackConfig, running_stack

app = typer.Typer(
    help="Reprotect Azure VMs after a failover, at fleet scale.", no_args_is_help=True, cls=_OneLineErrors
)
app.add_typer(keys.app, name="keys")
app.add_typer(jobs.app, name="jobs")
app.add_typer(campaigns.app, name="campaigns")
app.add_typer(configuration.app, name="config")
app.add_typer(sealing.app, name="secrets")
console = Console()
ApiOption = Annotated[str, typer.Option("--api", envvar="REPROTECT_API_URL", help="The service's base URL.")]
KeyOption = Annotated[
    str | None,
    typer.Option("--api-key", envvar="REPROTECT_API_KEY", help="API key (rpk_…); `reprotect dev` prints one."),
]


def _auth(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


@app.callback()
def _global_options(
    debug: Annotated[
        bool,
        typer.Option("--debug", envvar="REPROTECT_DEBUG", help="Show the traceback of an error instead of one line."),
    ] = False,
) -> None:
    """Options before the command: ``reprotect --debug jobs show ID``."""


@app.command()
def api(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
) -> None:
    """Serve the HTTP API."""
    configuration.refuse_unsafe_configuration()  # production refuses SQLite, the emulator, unknown variables
    import uvicorn

    from app.api.context import logging_config
    from app.metrics.registry import shared_directory_for
    from app.settings import get_settings

    shared_directory_for(workers)  # several workers: /metrics sums them all (a directory of their own if none set)

    uvicorn.run(
        "app.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        log_config=logging_config(),
        forwarded_allow_ips=get_settings().api.forwarded_allow_ips,  # the real client address behind an ingress
    )


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(help="Tasks run at once.")] = 8,
    pool: Annotated[str, typer.Option(help="Celery pool: threads, prefork, solo…")] = "threads",
    loglevel: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
    supervise: Annotated[bool, typer.Option(help="Restart the Celery worker whenever it exits on its own.")] = True,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Serve the worker's metrics (all its processes) at /metrics on this port, from the supervisor: "
            "for hosts with no exporter beside the worker (docker-compose; Kubernetes runs a sidecar).",
        ),
    ] = None,
    metrics_host: Annotated[str, typer.Option(help="Address the metrics port listens on.")] = "0.0.0.0",
) -> None:
    """Run a Celery worker that advances jobs and delivers webhooks (one queue each), kept alive."""
    configuration.refuse_unsafe_configuration()
    args = [f"--concurrency={concurrency}", f"--pool={pool}", f"--loglevel={loglevel}"]
    if metrics_port is not None and not supervise:
        raise typer.BadParameter("needs the supervisor (drop --no-supervise)", param_hint="--metrics-port")
    if supervise:
        if metrics_port is not None:
            from cli import worker_metrics

            worker_metrics.serve(host=metrics_host, port=metrics_port)
        raise typer.Exit(supervised([sys.executable, "-m", "cli", "worker", "--no-supervise", *args]))
    from app.queue import JOBS_QUEUE, WEBHOOKS_QUEUE
    from workers.celery_app import celery
    from workers.signals import serve_as

    quiet = serve_as("worker")  # JSON or text lines (app.logs) and the worker's heartbeat (app.health)
    args.append(worker_node_name())  # two workers on one host never share a Celery node name
    celery.worker_main([*quiet, "worker", *args, f"--queues={JOBS_QUEUE},{WEBHOOKS_QUEUE}"])


def worker_node_name() -> str:
    """``--hostname`` for this Celery worker: unique per process (``reprotect-<pid>-<random>@<host>``)."""
    import os
    import secrets

    return f"--hostname=reprotect-{os.getpid()}-{secrets.token_hex(2)}@%h"


def supervised(command: list[str]) -> int:
    """Run ``command``, starting it again whenever it exits unasked; SIGTERM/SIGINT stop it for good.

    Celery's worker can exit on a broker connection loss while it holds unacknowledged messages (seen
    with celery/kombu 5.7 on a Redis restart): a worker nobody restarts would stall every job.
    """
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    import logging

    from app.logs import setup as log_setup
    from app.settings import get_settings

    log_setup.configure(get_settings(), process="worker")  # its lines are the worker's: the same JSON schema
    log = logging.getLogger("reprotect.supervisor")
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        child = subprocess.Popen(command)  # noqa: S603 - our own interpreter and module
        code = child.wait()
        if stopping:
            return code
        log.warning("worker exited unasked (code %s); starting it again in 1 s", code)
        time.sleep(1)
        if stopping:  # asked to stop while waiting: never start another one
            return code


@app.command()
def scheduler(loglevel: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO") -> None:
    """Run Celery beat: the sweeper that rings for due and abandoned jobs."""
    configuration.refuse_unsafe_configuration()
    from workers.celery_app import celery
    from workers.signals import serve_as

    quiet = serve_as("scheduler")  # JSON or text lines (app.logs) and the scheduler's heartbeat (app.health)
    celery.start([*quiet, "beat", f"--loglevel={loglevel}"])


@app.command()
def emulator(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 8900,
    scenario: Annotated[
        str, typer.Option(help="Built-in name (demo, fleet:N[:S][:central]) or a YAML/JSON file.")
    ] = "demo",
    time_scale: Annotated[float | None, typer.Option(help="Simulated seconds per real second.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the scenario's random choices (same seed, same run).")] = 1,
) -> None:
    """Serve the Azure Site Recovery emulator."""
    from emulator.server import serve

    serve(host=host, port=port, scenario=scenario, time_scale=time_scale, seed=seed)


@app.command()
def migrate() -> None:
    """Create or upgrade the job database schema (Alembic)."""
    configuration.refuse_unsafe_configuration(uses_broker=False)  # migrate rings no worker
    from alembic import command
    from alembic.config import Config

    here = Path("alembic.ini")
    config = Config(str(here if here.exists() else Path(__file__).resolve().parent.parent / "alembic.ini"))
    command.upgrade(config, "head")


@app.command()
def recount() -> None:
    """Rebuild the summaries' terminal job counts from the jobs (after a rolling deploy in which workers of a
    release before issue 12 still finished jobs, or to repair them; safe while the service runs)."""
    from sqlalchemy.orm import sessionmaker

    from app.db import build_engine, transaction
    from app.job import counts
    from app.settings import get_settings

    engine = build_engine(get_settings().database.url)
    try:
        with transaction(sessionmaker(engine)) as session:
            counts.recount(session)
    finally:
        engine.dispose()
    console.print("terminal job counts rebuilt from the jobs")


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="The API's port on 127.0.0.1 (refused when busy).")] = 8000,
    scenario: Annotated[
        str, typer.Option(help="Emulator scenario: demo, fleet:N[:S][:central] or a YAML/JSON file.")
    ] = "demo",
    time_scale: Annotated[float | None, typer.Option(help="Simulated seconds per real second.")] = None,
    var_dir: Annotated[Path, typer.Option(help="Where the SQLite files and the logs go.")] = Path("var"),
) -> None:
    """The embedded default: emulator, API, worker and scheduler on this machine, no servers."""
    from cli.stack import refuse_busy_port

    refuse_busy_port(port)
    config = StackConfig(var_dir=var_dir, api_port=port, scenario=scenario, time_scale=time_scale, quiet=True)
    with running_stack(config) as stack:
        console.print(f"[bold green]Reprotect API[/] on {stack.api_url}  (docs: {stack.api_url}/docs)")
        console.print(f"Emulator on {stack.emulator_url}; logs in {var_dir}/. Ctrl-C stops everything.")
        console.print("A local admin key for this machine (scope '*'); send it as 'Authorization: Bearer <key>':")
        print(stack.api_key)
        _wait_for_interrupt(stack)
    console.print("stopped.")


def _wait_for_interrupt(stack: Any) -> None:
    try:
        while True:
            stack.check_alive()
            time.sleep(0.5)
    except KeyboardInterrupt:
        console.print("stopping…")


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="The API's port (0: any free port).")] = 0,
    var_dir: Annotated[Path, typer.Option(help="Where the SQLite files and the logs go.")] = Path("var/demo"),
    campaign: Annotated[
        bool,
        typer.Option(
            "--campaign",
            help="Instead: take the VMs the whole way home as one campaign (reprotect, "
            "drill and its gate, failover in two waves, commit, reprotect back).",
        ),
    ] = False,
    time_scale: Annotated[
        float | None, typer.Option(help="Simulated seconds per real second (default: the scenario's, 500).")
    ] = None,
) -> None:
    """Start the embedded stack, reprotect the demo's committed VMs, show progress and refusals, stop (--campaign:
    take them the whole way home instead)."""
    from cli.demo import run_demo
    from cli.demo_campaign import run_campaign_demo
    from cli.stack import free_port

    if var_dir.exists():
        for name in ("reprotect.sqlite3", "broker.sqlite3"):
            for path in var_dir.glob(f"{name}*"):
                path.unlink()
    config = StackConfig(var_dir=var_dir, api_port=port or free_port(), time_scale=time_scale, quiet=True)
    with running_stack(config) as stack:
        ok = (run_campaign_demo if campaign else run_demo)(stack, console=console)
    raise typer.Exit(0 if ok else 1)


@app.command()
def submit(
    api: ApiOption = "http://127.0.0.1:8000",
    api_key: KeyOption = None,
    vault_id: Annotated[str | None, typer.Option(help="Vault ARM id (with --vm).")] = None,
    vm: Annotated[list[str] | None, typer.Option(help="VM name in the vault (repeatable).")] = None,
    item_id: Annotated[list[str] | None, typer.Option(help="Replicated item ARM id (repeatable).")] = None,
    dry_run: Annotated[bool, typer.Option(help="Check and show the plan per VM; submit nothing.")] = False,
    watch: Annotated[
        bool, typer.Option(help="Follow the jobs until done (exit 2 if one failed or was cancelled).")
    ] = True,
    selector: Annotated[
        list[str] | None,
        typer.Option(
            help="Instead of VMs: key=value (repeatable): vault_id, subscription_id, source_region, target_region, "
            "resource_group, name_prefix, status (default needs_reprotect). Split into requests of 100."
        ),
    ] = None,
    output: OutputOption = Output.TABLE,
) -> None:
    """Ask for a reprotect of VMs (by vault + name, item id, or a selector) and watch it."""
    if selector:
        _submit_selector(api, api_key, selector, dry_run=dry_run, watch=watch, output=output)
        return
    targets: list[dict[str, str]] = [{"item_id": i} for i in item_id or []]
    targets += [{"vault_id": vault_id, "vm_name": name} for name in vm or []] if vault_id else []
    if not targets:
        raise typer.BadParameter("name at least one VM: --item-id, or --vault-id with --vm (or give --selector)")
    answer = httpx.post(
        f"{api}/reprotect", params={"dry_run": dry_run}, json={"vms": targets}, headers=_auth(api_key), timeout=120
    )
    body = checked(answer)
    if output == Output.JSON and (dry_run or not watch):
        print_json(body)
        return
    if dry_run:
        client.print_plans(console, body["plans"])
        return
    if output == Output.TABLE:
        console.print(f"request {body['request_id']}: {len(body['jobs'])} job(s) accepted")
    if watch:
        _watch_all(api, api_key, [body["request_id"]], output)


def _submit_selector(
    api: str, api_key: str | None, pairs: list[str], *, dry_run: bool, watch: bool, output: Output = Output.TABLE
) -> None:
    try:
        selector = client.parse_selector(pairs)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--selector") from None
    answer = httpx.post(
        f"{api}/reprotect",
        params={"dry_run": dry_run},
        json={"selector": selector},
        headers=_auth(api_key),
        timeout=600,
    )
    body = checked(answer)
    if output == Output.JSON and (dry_run or not watch):
        print_json(body)
        return
    if output == Output.TABLE:
        client.print_selector_result(console, body)
    if watch and not dry_run:
        _watch_all(api, api_key, [request["request_id"] for request in body["requests"]], output)


def _watch_all(api: str, api_key: str | None, request_ids: list[str], output: Output) -> None:
    """Follow each request until done; exit 2 when a job failed or was cancelled (JSON: the final requests)."""
    from cli.watching import not_all_done

    finals = []
    for request_id in request_ids:
        final = client.watch_request(
            api, request_id, console=console, headers=_auth(api_key), silent=output == Output.JSON
        )
        finals.append(final)
    if output == Output.JSON:
        print_json(finals[0] if len(finals) == 1 else finals)
    if any(not_all_done(final) for final in finals):
        raise typer.Exit(EXIT_NOT_ALL_DONE)


@app.command()
def vms(
    api: ApiOption = "http://127.0.0.1:8000",
    api_key: KeyOption = None,
    vault_id: Annotated[list[str] | None, typer.Option(help="Vault ARM id (repeatable).")] = None,
    subscription_id: Annotated[list[str] | None, typer.Option(help="The VMs' subscription (repeatable).")] = None,
    source_region: Annotated[str | None, typer.Option(help="Where the VMs run now.")] = None,
    target_region: Annotated[str | None, typer.Option(help="The other region.")] = None,
    resource_group: Annotated[str | None, typer.Option(help="The VMs' resource group.")] = None,
    status: Annotated[
        str | None, typer.Option(help="needs_reprotect, not_eligible, in_progress, protected or failed.")
    ] = None,
    name_prefix: Annotated[str | None, typer.Option(help="VM names starting with this.")] = None,
    limit: Annotated[int, typer.Option(help="VMs per page.")] = 500,
    all_pages: Annotated[bool, typer.Option("--all/--first-page", help="Follow every page.")] = True,
    output: OutputOption = Output.TABLE,
) -> None:
    """The inventory: replicated VMs of the watched vaults with their reprotect status."""
    params: dict[str, Any] = {
        "vault_id": vault_id or None,
        "subscription_id": subscription_id or None,
        "source_region": source_region,
        "target_region": target_region,
        "resource_group": resource_group,
        "status": status,
        "name_prefix": name_prefix,
        "limit": limit,
    }
    found, last = client.fetch_vms(
        api, {k: v for k, v in params.items() if v is not None}, headers=_auth(api_key), everything=all_pages
    )
    if output == "json":
        print(json.dumps({"items": found, "partial": last["partial"], "unreadable": last["unreadable"]}, indent=2))
        return
    client.print_vms(console, found)
    client.print_unreadable(console, last)
    console.print(f"{len(found)} VM(s)" + (" (more: --all)" if last.get("next_cursor") else ""))


@app.command()
def watch(
    request_id: Annotated[str, typer.Argument(help="The reprotect request's id (submit prints it).")],
    api: ApiOption = "http://127.0.0.1:8000",
    api_key: KeyOption = None,
    output: OutputOption = Output.TABLE,
) -> None:
    """Follow every VM of a request until all are done: status, ETA and an aggregate line (jobs per state, the
    fleet's ETA); live on a terminal, a line per change otherwise. Exit 2 when a job failed or was cancelled."""
    _watch_all(api, api_key, [request_id], output)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="reprotect")


if __name__ == "__main__":
    main()
