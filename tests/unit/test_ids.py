"""ARM id parsing is strict about shape and relaxed about case, as ARM is."""

import pytest

from app.cloud.ids import parse_item_id, parse_resource_id, parse_vault_id, same_id
from app.errors import InvalidRequest

ITEM = (
    "/Subscriptions/7c943c1b-5122-4097-90c8-861411bdd574/resourceGroups/vijami-alertrg/providers/"
    "Microsoft.RecoveryServices/vaults/vijamireprotecttest/replicationFabrics/asr-a2a-default-uksouth/"
    "replicationProtectionContainers/asr-a2a-default-uksouth-container/replicationProtectedItems/YtSLUmr1"
)


def test_item_id_parts_are_found_whatever_the_casing():
    ref = parse_item_id(ITEM.replace("resourceGroups", "RESOURCEGROUPS"))
    assert ref.vault.name == "vijamireprotecttest"
    assert ref.vault.resource_group == "vijami-alertrg"
    assert ref.fabric == "asr-a2a-default-uksouth"
    assert ref.container == "asr-a2a-default-uksouth-container"
    assert ref.name == "YtSLUmr1"
    assert same_id(ref.id, ITEM)


@pytest.mark.parametrize(
    "bad",
    ["", "not-an-id", "/subscriptions/x", ITEM + "/extra", ITEM.replace("replicationFabrics", "fabrics")],
)
def test_malformed_item_ids_are_refused_with_a_code(bad):
    with pytest.raises(InvalidRequest) as raised:
        parse_item_id(bad)
    assert raised.value.code in {"invalid_item_id", "invalid_resource_id", "invalid_vault_id"}


def test_vault_and_resource_ids():
    vault = parse_vault_id(ITEM.split("/replicationFabrics")[0])
    assert vault.key == vault.id.lower()
    disk = parse_resource_id("/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/disks/d1")
    assert (disk.provider, disk.type_path, disk.name, disk.resource_group_id) == (
        "Microsoft.Compute",
        "disks",
        "d1",
        "/subscriptions/s/resourceGroups/g",
    )
