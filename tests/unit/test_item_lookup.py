"""Finding a replicated item by name: the item's own name first (it survives a move between containers),
the VM's name only when one item has it (under a central vault two VMs of different subscriptions may share a
name, while Azure's item names — PowerShell-hashed like the recorded ``YtSLUmr1…`` — stay unique)."""

from __future__ import annotations

import copy

from app.cloud.cache import CachedCloud
from app.cloud.ids import parse_item_id
from tests.fakes import FakeCloud, sample_item


def _twins() -> tuple[dict, dict]:
    """The recorded item and a second item of the same vault whose VM has the same name."""
    first = sample_item()
    second = copy.deepcopy(first)
    second["name"] = "Zq0other0item0name"
    second["id"] = first["id"].rsplit("/", 1)[0] + "/" + second["name"]
    return first, second


def test_the_item_name_wins_and_an_ambiguous_vm_name_finds_nothing():
    first, second = _twins()
    vault = parse_item_id(first["id"]).vault
    vm_name = first["properties"]["friendlyName"]
    for cloud in (FakeCloud(items=[second, first]), CachedCloud(FakeCloud(items=[second, first]))):
        assert cloud.find_item(vault, first["name"]).ref.name == first["name"]
        assert cloud.find_item(vault, second["name"]).ref.name == second["name"]
        assert cloud.find_item(vault, vm_name) is None  # two VMs answer to it: neither is guessed


def test_a_unique_vm_name_still_finds_its_item():
    first, _ = _twins()
    vault = parse_item_id(first["id"]).vault
    for cloud in (FakeCloud(items=[first]), CachedCloud(FakeCloud(items=[first]))):
        assert cloud.find_item(vault, first["properties"]["friendlyName"].upper()).ref.name == first["name"]
