"""The guided campaign demo: the demo fleet's committed VMs taken the whole way home as one campaign — reprotect,
a drill with its manual gate (approved by the demo, saying so), cleanup, failover in two waves, commit, reprotect
back — with a line per move, then how long it took and where each VM stands."""

from __future__ import annotations

import time
from typing import Any

import httpx
from rich.console import Console

from cli import campaigns_view, client
from cli.campaign_watch import CampaignLines, approve_at, follow
from cli.output import duration
from cli.problems import checked
from cli.stack import Stack

DEMO_REASON = "demo operator: the test VMs came up in the isolated network"
# The demo scenario's isolated network in East Asia, where its VMs go home (emulator/scenarios/demo.yaml): no
# mapping, no peering — the drill's test VMs run there without touching production.
TEST_NETWORK = "/resourceGroups/contoso-net-rg/providers/Microsoft.Network/virtualNetworks/contoso-vnet-ea-test"


def _regions(vault: dict[str, Any]) -> tuple[str, str, str]:
    """The region the VMs go home to (where replication was enabled from: their items' fabric), and the friendly
    names of home and of the other region."""
    home = vault["items"][0]["location"]
    names = {fabric["location"]: fabric["friendly_name"] for fabric in vault["fabrics"]}
    other = next((name for location, name in names.items() if location != home), "the recovery region")
    return home, names.get(home, home), other


def _two_waves(names: list[str]) -> list[dict[str, Any]]:
    """The first half fails over in wave 1, the rest in wave 2."""
    half = (len(names) + 1) // 2
    return [{"name": name, "wave": 1 if index < half else 2} for index, name in enumerate(names)]


def run_campaign_demo(stack: Stack, *, console: Console) -> bool:
    """Take every VM of the demo vault that can go home through a campaign; True when it completed with each of
    them protected in the original direction."""
    scenario = httpx.get(f"{stack.emulator_url}/_emulator/scenario", timeout=10).json()
    vault = scenario["subscriptions"][0]["vaults"][0]
    home, home_name, away_name = _regions(vault)
    names = [item["name"] for item in vault["items"]]
    console.rule(f"[bold]Vault {vault['name']}[/]: {len(names)} replicated VMs, the whole way home as one campaign")
    network = vault["id"].split("/resourceGroups/")[0] + TEST_NETWORK
    base = {"name": f"demo: home to {home_name}", "test_networks": {home: network}}
    with httpx.Client(base_url=stack.api_url, timeout=120, headers=stack.auth_headers) as http:
        console.print("1. Planning (dry run, nothing is created): every VM, the steps, the gates, the refusals…")
        everyone = [{"vault_id": vault["id"], "vm_name": name} for name in names]
        plan = checked(http.post("/campaigns", params={"dry_run": "true"}, json={**base, "vms": everyone}))
        campaigns_view.print_refused(console, plan["refused"])
        refused = {refusal["vm"] for refusal in plan["refused"]}
        waves = _two_waves([name for name in names if name not in refused])
        if not waves:
            console.print("[red]No VM can go home.[/]")
            return False
        body = {**base, "vms": [{"vault_id": vault["id"], "vm_name": w["name"], "wave": w["wave"]} for w in waves]}
        console.print(f"2. The plan for the {len(waves)} VMs that can go home, failing over in two waves:")
        campaigns_view.print_plan(console, checked(http.post("/campaigns", params={"dry_run": "true"}, json=body)))
        scale = httpx.get(f"{stack.emulator_url}/_emulator/time-scale", timeout=10).json()["time_scale"]
        console.print(
            f"   (estimates and ETAs are Azure's durations; the emulator's clock runs {scale:g} times faster)",
            highlight=False,
        )
        started = time.monotonic()
        campaign = checked(http.post("/campaigns", json=body))
        console.print(f"3. Campaign {campaign['id']} runs (a line whenever it moves):", highlight=False)
        view = CampaignLines(console, prefix="  ")

        def announce(waiting: dict[str, Any]) -> None:
            where = campaigns_view.step_name(waiting.get("phase"), waiting.get("wave"))
            view.say(f"approving the {where} gate as the demo operator (in real life: after checking the test VMs)")

        final = follow(
            http, campaign["id"], view=view, approve=approve_at(http, DEMO_REASON, announce=announce),
            poll=1.0, alive=stack.check_alive,
        )  # fmt: skip
    took = time.monotonic() - started
    console.print("4. Where each VM stands, phase by phase:")
    campaigns_view.print_vm_phases(console, final)
    vms, last = client.fetch_vms(stack.api_url, {"vault_id": vault["id"]}, headers=stack.auth_headers)
    console.print("   and in the fleet (GET /vms):")
    client.print_vms(console, [vm for vm in vms if vm["vm_name"] not in refused])
    client.print_unreadable(console, last)
    ok = final["state"] == "completed" and all(
        vm["phases"].get("reprotect_back", {}).get("state") == "protected" for vm in final["vms"]
    )
    console.rule(f"[bold]Campaign {final['state']}[/] in {duration(took)}")
    if ok:
        console.print(
            f"{len(waves)} VMs run in {home_name} again, protected in the original direction ({home_name} → "
            f"{away_name}); refused up front: {len(refused)}.",
            highlight=False,
        )
    else:
        console.print(str(final.get("stop_reason") or final["state"]), style="red", markup=False, highlight=False)
    return ok
