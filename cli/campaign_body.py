"""The body of ``POST /campaigns`` from ``campaigns create``'s flags (the common case) or from a JSON file."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer


def parse_vm(value: str, vault_id: str | None) -> dict[str, Any]:
    """``VAULT_ID/NAME[:WAVE]`` (or ``NAME[:WAVE]`` with ``--vault-id``) → a campaign VM."""
    where, sep, wave_text = value.rpartition(":")
    if not sep or not wave_text.isdigit():
        where, wave_text = value, "1"
    vault, slash, name = where.rpartition("/")
    if not slash:
        vault, name = vault_id or "", where
    if not vault or not name or not 1 <= int(wave_text) <= 20:
        raise typer.BadParameter(
            f"{value!r}: expected VAULT_ID/VM_NAME[:WAVE] (wave 1-20), or VM_NAME[:WAVE] with --vault-id",
            param_hint="--vm",
        )
    return {"vault_id": vault, "vm_name": name, "wave": int(wave_text)}


def parse_networks(pairs: list[str]) -> dict[str, str]:
    """``["eastasia=/subscriptions/…/virtualNetworks/vnet-test"]`` → ``test_networks``."""
    networks: dict[str, str] = {}
    for pair in pairs:
        region, sep, network = pair.partition("=")
        if not sep or not region.strip() or not network.strip():
            raise typer.BadParameter(f"{pair!r}: expected REGION=VIRTUAL_NETWORK_ID", param_hint="--test-network")
        networks[region.strip()] = network.strip()
    return networks


def from_flags(
    *,
    name: str | None,
    vms: list[str],
    vault_id: str | None,
    test_networks: list[str],
    drill: bool,
    drill_approval: str,
) -> dict[str, Any]:
    """The body for the common case: listed VMs with their waves, the drill's networks and its gate."""
    if not vms:
        raise typer.BadParameter("name the VMs with --vm (repeatable), or give the whole body with --file")
    body: dict[str, Any] = {
        "name": name or f"way home {datetime.now(UTC):%Y-%m-%d %H:%MZ}",
        "vms": [parse_vm(vm, vault_id) for vm in vms],
        "drill": drill,
    }
    if drill:
        body["test_networks"] = parse_networks(test_networks)
        body["drill_approval"] = drill_approval
    return body


def from_file(path: Path, name: str | None) -> dict[str, Any]:
    """The body as a JSON file holds it (``-``: standard input); ``--name`` replaces its name."""
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text()
        body = json.loads(text)
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"{path}: {exc}", param_hint="--file") from None
    if not isinstance(body, dict):
        raise typer.BadParameter(f"{path}: expected a JSON object (POST /campaigns' body)", param_hint="--file")
    return {**body, **({"name": name} if name else {})}
