"""The guided demo: discover the demo fleet, show the plan and the refusals, reprotect, watch, show what is left."""

from __future__ import annotations

from typing import Any

import httpx
from rich.console import Console

from cli import client
from cli.stack import Stack


def run_demo(stack: Stack, *, console: Console) -> bool:
    """Reprotect every committed VM of the demo vault; True when all of them reach ``protected``."""
    scenario = httpx.get(f"{stack.emulator_url}/_emulator/scenario", timeout=10).json()
    vault = scenario["subscriptions"][0]["vaults"][0]
    names = [item["name"] for item in vault["items"]]
    console.rule(f"[bold]Vault {vault['name']}[/]: {len(names)} replicated VMs")
    targets = [{"vault_id": vault["id"], "vm_name": name} for name in names]
    with httpx.Client(base_url=stack.api_url, timeout=120, headers=stack.auth_headers) as http:
        console.print("1. Checking every VM (dry run, nothing is submitted)…")
        check = http.post("/reprotect", params={"dry_run": "true"}, json={"vms": targets})
        refused: set[str] = set()
        if check.status_code != 200:
            body = check.json()
            client.print_problem(console, body)
            refused = {str(p["vm"]).rsplit("/", 1)[-1] for p in body.get("vms", [])}
        ready = [t for t in targets if t["vm_name"] not in refused]
        if not ready:
            console.print("[red]No VM can be reprotected.[/]")
            return False
        plan = http.post("/reprotect", params={"dry_run": "true"}, json={"vms": ready}).json()
        console.print(f"2. The plan for the {len(ready)} VMs that can be reprotected:")
        client.print_plans(console, plan["plans"])
        accepted = http.post("/reprotect", json={"vms": ready})
        if accepted.status_code != 202:
            client.print_problem(console, accepted.json())
            return False
        request: dict[str, Any] = accepted.json()
    console.print(f"3. Reprotecting (request {request['request_id']}):")
    final = client.watch_request(
        stack.api_url, str(request["request_id"]), console=console, headers=stack.auth_headers, alive=stack.check_alive
    )
    counts = {state: n for state, n in final["counts"].items() if n}
    console.print("4. What is left in the fleet (GET /vms: Azure's replicated items joined with our jobs):")
    vms, last = client.fetch_vms(stack.api_url, {"vault_id": vault["id"]}, headers=stack.auth_headers)
    client.print_vms(console, vms)
    client.print_unreadable(console, last)
    console.rule(f"[bold]Done[/]: {counts}; refused up front: {len(refused)}")
    console.print(
        "Next, the whole way home (drill with its gate, failover in waves, commit, protect again) as one "
        "campaign: [bold]reprotect demo --campaign[/]"
    )
    return bool(counts.get("protected", 0) == len(ready))
