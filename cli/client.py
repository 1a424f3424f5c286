"""Client commands' HTTP calls and their tables (the live view of a request is in :mod:`cli.watching`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from rich.console import Console
from rich.table import Column, Table

from cli import watching
from cli.problems import checked


def api_client(api: str, key: str | None, *, timeout: float) -> httpx.Client:
    """An HTTP client of the API at ``api``, sending ``key`` as its bearer token when given."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=api, headers=headers, timeout=timeout)


def fetch_pages(
    http: httpx.Client, path: str, params: dict[str, Any], *, cursor: str | None, all_pages: bool
) -> tuple[list[dict[str, Any]], str | None]:
    """The items of a cursor-paged list from ``cursor`` on (one page, or every page with ``all_pages``) and the
    cursor of the page after them (None at the end)."""
    items: list[dict[str, Any]] = []
    while True:
        page = checked(http.get(path, params={**params, **({"cursor": cursor} if cursor else {})}))
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor or not all_pages:
            return items, cursor


def watch_request(
    api: str,
    request_id: str,
    *,
    console: Console,
    headers: dict[str, str],
    poll: float = 1.0,
    alive: Callable[[], None] | None = None,
    silent: bool = False,
) -> dict[str, Any]:
    """Show every VM of the request (live on a terminal, lines elsewhere) until all are done; the final request."""
    view = watching.view_for(console, silent=silent)
    return watching.follow(api, request_id, view=view, headers=headers, poll=poll, alive=alive)


def print_problem(console: Console, body: dict[str, Any]) -> None:
    """A problem+json answer, with its per-VM refusals as a table."""
    console.print(f"[bold red]{body.get('status')} {body.get('code')}[/]: {body.get('detail')}")
    vms = body.get("vms") or []
    if vms:
        table = Table("VM", "code", "what to do", show_lines=True)
        for problem in vms:
            table.add_row(str(problem["vm"]).rsplit("/", 1)[-1], problem["code"], problem["message"])
        console.print(table)


def print_plans(console: Console, plans: list[dict[str, Any]]) -> None:
    """The dry run's plan per VM, like the portal's review blade."""
    table = Table("VM", "direction", "target group", "cache storage", "avail. set", "disks")
    for plan in plans:
        direction = f"{plan['direction']['source_location']} → {plan['direction']['target_location']}"

        def mark(resolved: dict[str, Any] | None) -> str:
            if not resolved:
                return "-"
            return f"{resolved['name']}{' (new)' if resolved['status'] == 'new' else ''}"

        new_disks = sum(1 for d in plan["disks"] if d["status"] == "new")
        disks = f"{len(plan['disks'])} ({new_disks} new)" if new_disks else str(len(plan["disks"]))
        table.add_row(
            plan["vm"],
            direction,
            mark(plan["target_resource_group"]),
            mark(plan["cache_storage_account"]),
            mark(plan["availability_set"]),
            disks,
        )
    console.print(table)


SELECTOR_LISTS = {"vault_id": "vault_ids", "vault_ids": "vault_ids", "subscription_id": "subscription_ids"}
SELECTOR_FIELDS = {"source_region", "target_region", "resource_group", "name_prefix", "status", "subscription_ids"}


def parse_selector(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs (vault_id and subscription_id repeatable, or comma-separated) as a selector body."""
    selector: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().lower().replace("-", "_")
        if not sep or not value.strip():
            raise ValueError(f"'{pair}' is not key=value")
        if key in SELECTOR_LISTS:
            selector.setdefault(SELECTOR_LISTS[key], []).extend(v.strip() for v in value.split(",") if v.strip())
        elif key in SELECTOR_FIELDS - {"subscription_ids"}:
            selector[key] = value.strip()
        else:
            known = sorted({*SELECTOR_LISTS, *SELECTOR_FIELDS} - {"vault_ids", "subscription_ids"})
            raise ValueError(f"unknown selector key '{key}' (known: {', '.join(known)})")
    return selector


def fetch_vms(
    api: str, params: dict[str, Any], *, headers: dict[str, str], everything: bool = True
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``GET /vms`` page by page (only the first unless ``everything``); the VMs and the last page's answer."""
    vms: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        answer = httpx.get(f"{api}/vms", params=query, headers=headers, timeout=120)
        body: dict[str, Any] = checked(answer)  # a problem raises: printed as one line by the command group
        vms += body["items"]
        cursor = body.get("next_cursor")
        if not cursor or not everything:
            return vms, body


def print_vms(console: Console, vms: list[dict[str, Any]]) -> None:
    """The inventory as a table (the vault column only when the VMs span several vaults)."""
    several = len({vm["vault_id"].lower() for vm in vms}) > 1
    columns = ["VM", *(["vault"] if several else []), "runs in → other"]
    folded = [Column("reprotect status", overflow="fold"), Column("Azure state", overflow="fold")]
    table = Table(*columns, *folded, "our job")
    for vm in vms:
        job = vm.get("job") or {}
        progress = f" {job['progress_percent']}%" if job.get("progress_percent") is not None else ""
        status = vm["reprotect_status"] + (f"\n{vm['reason_code']}" if vm.get("reason_code") else "")
        table.add_row(
            vm["vm_name"],
            *([vm["vault_id"].rsplit("/", 1)[-1]] if several else []),
            f"{vm['source_region']} → {vm['target_region']}",
            status,
            vm["protection_state"],
            f"{job['state']}{progress}" if job else "",
        )
    console.print(table)


def print_unreadable(console: Console, body: dict[str, Any]) -> None:
    """Vaults Azure would not list (the answer is partial)."""
    for gap in body.get("unreadable") or []:
        where = gap.get("vault_id") or f"/subscriptions/{gap.get('subscription_id')}"
        console.print(f"[yellow]partial:[/] {where}: {gap['code']}: {gap['message']}")


def print_selector_result(console: Console, body: dict[str, Any]) -> None:
    """What a selector resolved to, and the requests it became (or, dry run, the VMs)."""
    console.print(f"selector matched {body['matched']} VM(s)")
    if body["dry_run"]:
        for vm in body["vms"]:
            console.print(f"  {vm['vm_name']}  ({vm['vault_id'].rsplit('/', 1)[-1]}, {vm['reprotect_status']})")
    for request in body["requests"]:
        console.print(f"request {request['request_id']}: {request['vm_count']} job(s) accepted")
    for refused in body["refused"]:
        console.print(f"[red]refused[/] {refused['vm'].rsplit('/', 1)[-1]}: {refused['code']}: {refused['message']}")
    print_unreadable(console, body)
