"""Plain ARM reads through the SDK's pipeline: locations, groups, VMs (with power state), disks, storage,
availability sets and networks, with ARM's own not-found codes."""

from __future__ import annotations

from tests.emulator.support import arm_get


def _vm_path(demo, group, name):
    return f"/subscriptions/{demo.sub}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachines/{name}"


def test_locations_have_display_names(client, demo):
    body = arm_get(client, f"/subscriptions/{demo.sub}/locations").json()
    names = {loc["name"]: loc for loc in body["value"]}
    assert names["eastasia"]["displayName"] == "East Asia"
    assert names["southeastasia"]["regionalDisplayName"] == "(Asia Pacific) Southeast Asia"


def test_resource_groups_exist_or_are_not_found(client, demo):
    group = arm_get(client, f"/subscriptions/{demo.sub}/resourcegroups/contoso-web-rg")
    assert group.status_code == 200
    assert group.json()["location"] == "eastasia"
    missing = arm_get(client, f"/subscriptions/{demo.sub}/resourcegroups/nope-rg")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ResourceGroupNotFound"


def test_a_vm_shows_its_disks_availability_set_and_power_state_on_request(client, demo):
    vm = arm_get(client, _vm_path(demo, "contoso-web-rg", "web-01"), **{"$expand": "instanceView"}).json()
    props = vm["properties"]
    assert vm["location"] == "eastasia"
    assert props["vmId"]
    assert props["provisioningState"] == "Succeeded"
    assert props["availabilitySet"]["id"].endswith("/availabilitySets/web-avset")
    os_disk = props["storageProfile"]["osDisk"]["managedDisk"]["id"]
    assert "PowerState/running" in [s["code"] for s in props["instanceView"]["statuses"]]
    assert "instanceView" not in arm_get(client, _vm_path(demo, "contoso-web-rg", "web-01")).json()["properties"]
    disk = arm_get(client, os_disk).json()
    assert disk["sku"]["name"] == "Premium_LRS"
    assert disk["managedBy"].lower() == vm["id"].lower()
    app = arm_get(client, _vm_path(demo, "contoso-app-rg", "app-01") + "/instanceView").json()
    assert "PowerState/deallocated" in [s["code"] for s in app["statuses"]]


def test_a_missing_vm_is_resource_not_found_and_a_moved_one_is_found_by_listing(client, demo):
    missing = arm_get(client, _vm_path(demo, "contoso-app-rg", "crm-01"))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ResourceNotFound"
    everywhere = arm_get(client, f"/subscriptions/{demo.sub}/providers/Microsoft.Compute/virtualMachines").json()
    crm = [vm for vm in everywhere["value"] if vm["name"] == "crm-01"]
    assert {(vm["id"].split("/")[4], vm["location"]) for vm in crm} == {
        ("contoso-archive-rg", "eastasia"),
        ("contoso-app-rg-asr", "southeastasia"),
    }
    in_group = arm_get(
        client,
        f"/subscriptions/{demo.sub}/resourceGroups/contoso-web-rg/providers/Microsoft.Compute/virtualMachines",
    ).json()
    assert {vm["name"] for vm in in_group["value"]} == {"web-01", "api-01", "intranet-01"}


def test_storage_accounts_availability_sets_and_vnets_are_readable(client, demo):
    accounts = arm_get(
        client,
        f"/subscriptions/{demo.sub}/resourceGroups/contoso-db-rg-asr/providers/Microsoft.Storage/storageAccounts",
    ).json()["value"]
    assert [a["name"] for a in accounts] == ["k3v9qpcontosodrvasrcache"]
    assert arm_get(client, accounts[0]["id"]).json()["location"] == "southeastasia"
    avset = arm_get(
        client,
        f"/subscriptions/{demo.sub}/resourceGroups/contoso-web-rg/providers/"
        "Microsoft.Compute/availabilitySets/web-avset",
    )
    assert avset.status_code == 200
    vnet = arm_get(
        client,
        f"/subscriptions/{demo.sub}/resourceGroups/contoso-net-rg-asr/providers/"
        "Microsoft.Network/virtualNetworks/contoso-vnet-sea",
    ).json()
    assert vnet["properties"]["subnets"][0]["name"] == "default"
