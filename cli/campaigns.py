"""``reprotect campaigns create|list|show|approve|pause|resume|abort|retry|watch``: a set of VMs taken the whole
way home (reprotect, drill, cleanup, failover in waves, commit, reprotect back) through the API."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

from cli import campaign_body, campaigns_view
from cli.campaign_watch import CampaignLines, Quiet, approve_at, follow
from cli.client import api_client, fetch_pages
from cli.output import Output, OutputOption, print_json, render
from cli.problems import EXIT_NOT_ALL_DONE, checked

app = typer.Typer(
    help="Campaigns: take VMs home through a drill, failover in waves, commit and reprotect, with gates.",
    no_args_is_help=True,
)
console = Console()

ApiOption = Annotated[str, typer.Option("--api", envvar="REPROTECT_API_URL", help="The service's base URL.")]
KeyOption = Annotated[str | None, typer.Option("--api-key", envvar="REPROTECT_API_KEY", help="API key (rpk_…).")]
CampaignIdArgument = Annotated[str, typer.Argument(help="The campaign's id (as `campaigns list` shows it).")]
DEFAULT_API = "http://127.0.0.1:8000"


class Approval(StrEnum):
    """Who lets the campaign past the drill's validation gate."""

    MANUAL = "manual"
    AUTO = "auto"


def _client(api: str, key: str | None, timeout: float = 120) -> httpx.Client:
    return api_client(api, key, timeout=timeout)


@app.command()
def create(
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="POST /campaigns' whole body as JSON (- for stdin).")
    ] = None,
    vm: Annotated[
        list[str] | None,
        typer.Option(
            help="VAULT_ID/VM_NAME[:WAVE] (repeatable; wave 1 fails over first), or VM_NAME[:WAVE] with --vault-id."
        ),
    ] = None,
    vault_id: Annotated[str | None, typer.Option(help="The vault of --vm names given without one.")] = None,
    test_network: Annotated[
        list[str] | None,
        typer.Option(
            help="REGION=VIRTUAL_NETWORK_ID (repeatable): the isolated network of the drill's test VMs, "
            "per region the VMs go home to."
        ),
    ] = None,
    drill: Annotated[bool, typer.Option("--drill/--no-drill", help="Run a test failover before failing over.")] = True,
    drill_approval: Annotated[
        Approval, typer.Option(help="The gate after the drill: manual (an operator approves) or auto.")
    ] = Approval.MANUAL,
    name: Annotated[str | None, typer.Option(help="The campaign's name (default: 'way home <time>').")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan and what Azure would refuse now; create nothing.")
    ] = False,
    output: OutputOption = Output.TABLE,
    api: ApiOption = DEFAULT_API,
    api_key: KeyOption = None,
) -> None:
    """Create a campaign (or, with --dry-run, show its plan: exit 2 when a VM would be refused)."""
    flags = bool(vm or test_network or vault_id or not drill or drill_approval is not Approval.MANUAL)
    if file is not None and flags:
        raise typer.BadParameter("give the body with --file, or the VMs with --vm and its flags, not both")
    if file is not None:
        body = campaign_body.from_file(file, name)
    else:
        body = campaign_body.from_flags(
            name=name, vms=vm or [], vault_id=vault_id, test_networks=test_network or [], drill=drill,
            drill_approval=drill_approval.value,
        )  # fmt: skip
    with _client(api, api_key, timeout=600) as http:
        answer: dict[str, Any] = checked(http.post("/campaigns", params={"dry_run": dry_run}, json=body))
    if dry_run:
        render(answer, output, lambda: campaigns_view.print_plan(console, answer))
        raise typer.Exit(EXIT_NOT_ALL_DONE if answer.get("refused") else 0)
    render(answer, output, lambda: _print_created(answer))


def _print_created(campaign: dict[str, Any]) -> None:
    console.print(f"campaign {campaign['id']} created: {len(campaign['vms'])} VM(s)", highlight=False)
    campaigns_view.print_steps(console, campaign["steps"])
    console.print(f"follow it: reprotect campaigns watch {campaign['id']}", markup=False, highlight=False)


@app.command("list")
def list_campaigns(
    state: Annotated[
        str | None,
        typer.Option(help="running, paused, waiting_gate, stopped, aborting, completed or aborted."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help="Campaigns per page (the API's limit).")] = 50,
    cursor: Annotated[str | None, typer.Option(help="Start at this page (a previous answer's next_cursor).")] = None,
    all_pages: Annotated[
        bool, typer.Option("--all/--first-page", help="Follow every page, or only the first.")
    ] = False,
    output: OutputOption = Output.TABLE,
    api: ApiOption = DEFAULT_API,
    api_key: KeyOption = None,
) -> None:
    """Campaigns, newest first (those whose every VM lies in the key's scopes)."""
    params: dict[str, Any] = {"limit": limit, **({"state": state} if state else {})}
    with _client(api, api_key) as http:
        items, cursor = fetch_pages(http, "/campaigns", params, cursor=cursor, all_pages=all_pages)
    if output == Output.JSON:
        print_json({"items": items, "next_cursor": cursor})
        return
    campaigns_view.print_campaigns(console, items)
    more = f" (more: --all, or --cursor {cursor})" if cursor else ""
    console.print(f"{len(items)} campaign(s){more}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def show(
    campaign_id: CampaignIdArgument,
    output: OutputOption = Output.TABLE,
    api: ApiOption = DEFAULT_API,
    api_key: KeyOption = None,
) -> None:
    """One campaign: state, step, ETA, why it stopped, every step with its counts and gate, every VM per phase."""
    with _client(api, api_key) as http:
        campaign = checked(http.get(f"/campaigns/{campaign_id}"))
    render(campaign, output, lambda: campaigns_view.print_campaign(console, campaign))


def _act(campaign_id: str, action: str, body: dict[str, Any] | None, done: str, output: Output, api: str,
         key: str | None) -> None:  # fmt: skip
    with _client(api, key) as http:
        campaign = checked(http.post(f"/campaigns/{campaign_id}/{action}", json=body))
    render(campaign, output, lambda: campaigns_view.print_acted(console, done, campaign))


@app.command()
def approve(
    campaign_id: CampaignIdArgument,
    reason: Annotated[str, typer.Option(help="Why the campaign may go on (kept with the gate, audited).")],
    output: OutputOption = Output.TABLE,
    api: ApiOption = DEFAULT_API,
    api_key: KeyOption = None,
) -> None:
    """Pass the manual gate the campaign waits at."""
    _act(campaign_id, "approve", {"reason": reason}, "gate approved", output, api, api_key)


@app.command()
def pause(
    campaign_id: CampaignIdArgument,
    output: OutputOption = Output.TABLE,
    api: ApiOption = DEFAULT_API,
    api_key: KeyOption = None,
) -> None:
    """Start no new step; operations already sent to Azure finish."""
    _act(campaign_id, "pause", None, "paused", output, api, api_key)


@app.command()
def resume(
    campaign_id: CampaignIdArgument,
    output: OutputOption = Output.TABLE,
    api: ApiOption = DEFAULT_API,
    api_key: KeyOption = None,
) -> None:
    """Go on after a pause, or after a stop once its cause is dealt with."""
    _act(campaign_id, "resume", None, "resumed", output, api, api_key)


@app.command()
def abort(
    campaign_id: CampaignIdArgument,
    reason: Annotated[str, typer.Option(help="Why (kept as the campaign's stop reason).")] = "",
    output: OutputOption = Output.TABLE,
    api: ApiOption = DEFAULT_API,
    api_key: KeyOption = None,
) -> None:
    """End the campaign at the next safe point (a started drill is cleaned up first)."""
    _act(campaign_id, "abort", {"reason": reason}, "abort asked", output, api, api_key)


@app.command()
def retry(
    campaign_id: CampaignIdArgument,
    vm: Annotated[str, typer.Option("--vm", help="The VM (its name) that failed or was refused in this step.")],
    output: OutputOption = Output.TABLE,
    api: ApiOption = DEFAULT_API,
    api_key: KeyOption = None,
) -> None:
    """Run the current step again for one VM; a stopped campaign goes on."""
    _act(campaign_id, "retry", {"vm_name": vm}, f"{vm} retried", output, api, api_key)


@app.command()
def watch(
    campaign_id: CampaignIdArgument,
    approve_gates: Annotated[
        bool,
        typer.Option(
            "--approve-gates",
            help="Approve every manual gate on the way (audited with --reason); "
            "without it the watch says what to do and waits.",
        ),
    ] = False,
    reason: Annotated[
        str, typer.Option(help="The reason recorded with gates --approve-gates passes.")
    ] = "approved by `reprotect campaigns watch --approve-gates`",
    poll: Annotated[float, typer.Option(min=0.2, help="Seconds between two looks at the campaign.")] = 2.0,
    output: OutputOption = Output.TABLE,
    api: ApiOption = DEFAULT_API,
    api_key: KeyOption = None,
) -> None:
    """Follow a campaign until it ends: a line per move, what to do at a gate; exit 0 if completed, else 2."""
    view = Quiet(console) if output == Output.JSON else CampaignLines(console)

    def announce(campaign: dict[str, Any]) -> None:
        where = campaigns_view.step_name(campaign.get("phase"), campaign.get("wave"))
        view.say(f"approving the gate after {where} (--approve-gates)")

    with _client(api, api_key) as http:
        approver = approve_at(http, reason, announce=announce) if approve_gates else None
        final = follow(http, campaign_id, view=view, approve=approver, poll=poll)
    if output == Output.JSON:
        print_json(final)
    raise typer.Exit(0 if final["state"] == "completed" else EXIT_NOT_ALL_DONE)
