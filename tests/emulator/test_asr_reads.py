"""The unmodified SDK reads the demo vault: fabrics, containers, mappings both ways, policies, items."""

from __future__ import annotations

import httpx
import pytest
from azure.core.exceptions import ResourceNotFoundError

from tests.data import load


def test_fabrics_are_azure_regions_with_their_containers(client, demo):
    fabrics = {f.name: f for f in client.replication_fabrics.list(demo.rg, demo.vault)}
    east = fabrics[demo.ea_fabric].properties
    assert east.friendly_name == "East Asia"
    assert east.custom_details.instance_type == "Azure"
    assert east.custom_details.location == "eastasia"
    assert [c.lower() for c in east.custom_details.container_ids] == [demo.ea_container_id.lower()]
    assert east.health == "Normal"
    one = client.replication_fabrics.get(demo.rg, demo.vault, demo.sea_fabric)
    assert one.properties.friendly_name == "Southeast Asia"
    containers = list(
        client.replication_protection_containers.list_by_replication_fabrics(demo.rg, demo.vault, demo.ea_fabric)
    )
    assert [c.name for c in containers] == [demo.ea_container]
    container = client.replication_protection_containers.get(demo.rg, demo.vault, demo.ea_fabric, demo.ea_container)
    assert container.properties.pairing_status == "Paired"
    assert len(list(client.replication_protection_containers.list(demo.rg, demo.vault))) == 2


def test_container_mappings_go_both_ways_each_with_its_policy(client, demo):
    mappings = list(client.replication_protection_container_mappings.list(demo.rg, demo.vault))
    pairs = {
        (
            m.id.lower().split("/replicationprotectioncontainermappings/")[0],
            m.properties.target_protection_container_id.lower(),
        ): m
        for m in mappings
    }
    forward = pairs[(demo.ea_container_id.lower(), demo.sea_container_id.lower())].properties
    back = pairs[(demo.sea_container_id.lower(), demo.ea_container_id.lower())].properties
    assert forward.policy_friendly_name == "24-hour-retention-policy"
    assert back.policy_id.lower() == demo.back_policy_id.lower()
    assert back.state == "Paired"
    assert back.provider_specific_details.instance_type == "A2A"
    assert back.target_fabric_friendly_name == "East Asia"
    in_container = list(
        client.replication_protection_container_mappings.list_by_replication_protection_containers(
            demo.rg, demo.vault, demo.sea_fabric, demo.sea_container
        )
    )
    got = client.replication_protection_container_mappings.get(
        demo.rg, demo.vault, demo.sea_fabric, demo.sea_container, in_container[0].name
    )
    assert got.properties.policy_id == back.policy_id


def test_network_mappings_go_both_ways_between_the_vnets(client, demo):
    mappings = list(client.replication_network_mappings.list(demo.rg, demo.vault))
    pairs = {
        (
            m.properties.primary_network_id.rsplit("/", 1)[-1],
            m.properties.recovery_network_id.rsplit("/", 1)[-1],
        )
        for m in mappings
    }
    assert pairs == {("contoso-vnet-ea", "contoso-vnet-sea"), ("contoso-vnet-sea", "contoso-vnet-ea")}
    settings = mappings[0].properties.fabric_specific_settings
    assert settings.instance_type == "AzureToAzure"
    networks = list(client.replication_networks.list_by_replication_fabrics(demo.rg, demo.vault, demo.ea_fabric))
    under = list(
        client.replication_network_mappings.list_by_replication_networks(
            demo.rg, demo.vault, demo.ea_fabric, networks[0].name
        )
    )
    assert [m.properties.primary_fabric_friendly_name for m in under] == ["East Asia"]


def test_policies_are_a2a_with_recovery_point_settings(client, demo):
    policies = {p.name: p for p in client.replication_policies.list(demo.rg, demo.vault)}
    details = policies["24-hour-retention-policy-failback"].properties.provider_specific_details
    assert details.instance_type == "A2A"
    assert details.recovery_point_history == 1440
    assert details.crash_consistent_frequency_in_minutes == 5
    assert details.app_consistent_frequency_in_minutes == 240
    got = client.replication_policies.get(demo.rg, demo.vault, "24-hour-retention-policy")
    assert got.name == "24-hour-retention-policy"


def test_a_committed_item_is_listed_per_vault_and_per_container_and_looks_like_the_recording(client, demo):
    listed = {i.name: i for i in client.replication_protected_items.list(demo.rg, demo.vault)}
    in_container = {
        i.name
        for i in client.replication_protected_items.list_by_replication_protection_containers(
            demo.rg, demo.vault, demo.ea_fabric, demo.ea_container
        )
    }
    assert set(listed) == in_container
    item = client.replication_protected_items.get(demo.rg, demo.vault, demo.ea_fabric, demo.ea_container, "web-01")
    props = item.properties
    assert props.protection_state == "UnplannedFailoverCommitted"
    assert props.protection_state_description == "Failover committed"
    assert props.active_location == "Recovery"
    assert "SwitchProtection" in props.allowed_operations
    assert props.current_scenario.scenario_name == "None"
    a2a = props.provider_specific_details
    assert a2a.instance_type == "A2A"
    assert a2a.fabric_object_id.endswith(
        "/resourcegroups/contoso-web-rg/providers/microsoft.compute/virtualmachines/web-01"
    )
    assert "/contoso-web-rg-asr/" in a2a.recovery_fabric_object_id
    assert (a2a.primary_fabric_location, a2a.recovery_fabric_location) == ("eastasia", "southeastasia")
    disk = a2a.protected_managed_disks[0]
    assert "/contoso-web-rg/" in disk.disk_id
    assert "/contoso-web-rg-asr/" in disk.recovery_target_disk_id
    assert disk.disk_type == "OperatingSystem"
    assert a2a.vm_nics[0].v_m_network_name.endswith("contoso-vnet-ea")
    assert a2a.recovery_availability_set.endswith("web-avset-asr")
    sample = load("a2a_rpi_after_failover_commit.json")
    ours = item.as_dict()
    assert set(sample["properties"]) <= set(ours["properties"])
    assert set(sample["properties"]["providerSpecificDetails"]) <= set(ours["properties"]["providerSpecificDetails"])
    sample_disk = sample["properties"]["providerSpecificDetails"]["protectedManagedDisks"][0]
    assert set(sample_disk) <= set(ours["properties"]["providerSpecificDetails"]["protectedManagedDisks"][0])


def test_an_unknown_item_is_not_found(client, demo):
    with pytest.raises(ResourceNotFoundError) as caught:
        client.replication_protected_items.get(demo.rg, demo.vault, demo.ea_fabric, demo.ea_container, "nope")
    assert caught.value.error.code == "NotFound"


def test_arm_requests_need_a_bearer_token_and_an_api_version(emu_url, demo, admin):
    path = f"{emu_url}/subscriptions/{demo.sub}/resourceGroups/{demo.rg}/providers/Microsoft.RecoveryServices/vaults/{demo.vault}/replicationFabrics"
    anonymous = httpx.get(path, params={"api-version": "2025-08-01"})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "AuthenticationFailed"
    versionless = httpx.get(path, headers={"Authorization": "Bearer x"})
    assert versionless.status_code == 400
    assert versionless.json()["error"]["code"] == "MissingApiVersionParameter"
    assert admin.get("/_emulator/stats").status_code == 200  # the admin API needs no token


def test_paths_match_whatever_their_case_and_answers_carry_arm_headers(emu_url, demo):
    path = (
        f"{emu_url}/SUBSCRIPTIONS/{demo.sub.upper()}/resourcegroups/{demo.rg.upper()}/providers/"
        f"microsoft.recoveryservices/VAULTS/{demo.vault}/replicationfabrics/{demo.ea_fabric.upper()}"
    )
    answer = httpx.get(path, params={"api-version": "anything"}, headers={"Authorization": "Bearer x"})
    assert answer.status_code == 200
    assert answer.json()["id"].startswith("/Subscriptions/")
    assert answer.headers["x-ms-request-id"]
    assert int(answer.headers["x-ms-ratelimit-remaining-subscription-reads"]) > 0
