"""ASR JSON for fabrics, containers, mappings, networks and policies, as SDK 2.0.0 parses them."""

from __future__ import annotations

from typing import Any

from emulator.clock import SimClock, iso
from emulator.state import ContainerMapping, Fabric, NetworkMapping, Policy, Vault, World

T_FABRIC = "Microsoft.RecoveryServices/vaults/replicationFabrics"
T_CONTAINER = f"{T_FABRIC}/replicationProtectionContainers"
T_CONTAINER_MAPPING = f"{T_CONTAINER}/replicationProtectionContainerMappings"
T_NETWORK = f"{T_FABRIC}/replicationNetworks"
T_NETWORK_MAPPING = f"{T_NETWORK}/replicationNetworkMappings"
T_POLICY = "Microsoft.RecoveryServices/vaults/replicationPolicies"
NETWORK_NAME = "azureNetwork"  # A2A fabrics expose one replication network with this name


def fabric_id(vault: Vault, fabric: Fabric) -> str:
    """A fabric id."""
    return f"{vault.id}/replicationFabrics/{fabric.name}"


def container_id(vault: Vault, fabric: Fabric) -> str:
    """The id of the fabric's protection container."""
    return f"{fabric_id(vault, fabric)}/replicationProtectionContainers/{fabric.container}"


def network_id(vault: Vault, fabric: Fabric) -> str:
    """The id of the fabric's replication network."""
    return f"{fabric_id(vault, fabric)}/replicationNetworks/{NETWORK_NAME}"


def policy_id(vault: Vault, policy: str) -> str:
    """A policy id."""
    return f"{vault.id}/replicationPolicies/{policy}"


def health_errors(world: World, location: str, clock: SimClock) -> list[dict[str, Any]]:
    """Fabric health errors: one while the region is in an outage."""
    if not world.region_down(location):
        return []
    return [
        {
            "errorSource": "Fabric",
            "errorType": "RegionUnavailable",
            "errorLevel": "Error",
            "errorCategory": "FabricInfrastructure",
            "errorCode": "150020",
            "summaryMessage": f"The region '{location}' is unavailable.",
            "errorMessage": f"The Azure region '{location}' is experiencing an outage. Resources cannot be "
            "created or read there.",
            "possibleCauses": "A regional outage.",
            "recommendedAction": "Wait until the region has recovered. Check Azure Service Health.",
            "creationTimeUtc": iso(clock.at(clock.now())),
            "customerResolvability": "NotAllowed",
            "innerHealthErrors": [],
            "entityId": location,
        }
    ]


def fabric_health(world: World, location: str, clock: SimClock) -> tuple[str, list[dict[str, Any]]]:
    """A fabric's health: what the outage was declared to show (not public what Azure shows; Normal by default)."""
    shown = world.outage_fabric_health.get(location.lower(), "Normal") if world.region_down(location) else "Normal"
    return shown, (health_errors(world, location, clock) if shown != "Normal" else [])


def fabric(world: World, vault: Vault, f: Fabric, clock: SimClock) -> dict[str, Any]:
    """A replication fabric; ``health`` during an outage of its region is what the outage declared."""
    health, errors = fabric_health(world, f.location, clock)
    return {
        "id": fabric_id(vault, f),
        "name": f.name,
        "type": T_FABRIC,
        "location": None,
        "properties": {
            "friendlyName": f.friendly_name,
            "encryptionDetails": {"kekState": "None", "kekCertThumbprint": None},
            "rolloverEncryptionDetails": {"kekState": "None", "kekCertThumbprint": None},
            "internalIdentifier": f.internal_id,
            "bcdrState": "Valid",
            "customDetails": {
                "instanceType": "Azure",
                "location": f.location,
                "containerIds": [container_id(vault, f)],
                "zones": [],
            },
            "healthErrorDetails": errors,
            "health": health,
        },
    }


def container(vault: Vault, f: Fabric) -> dict[str, Any]:
    """A protection container; ``role`` says whether it holds items today."""
    count = sum(1 for i in vault.items.values() if i.fabric.lower() == f.name.lower())
    return {
        "id": container_id(vault, f),
        "name": f.container,
        "type": T_CONTAINER,
        "location": None,
        "properties": {
            "fabricFriendlyName": f.friendly_name,
            "friendlyName": f.container,
            "fabricType": "Azure",
            "protectedItemCount": count,
            "pairingStatus": "Paired",
            "role": "Primary" if count else "Recovery",
            "fabricSpecificDetails": None,
        },
    }


def container_mapping(world: World, vault: Vault, m: ContainerMapping, clock: SimClock) -> dict[str, Any]:
    """A protection container mapping (id under its source container)."""
    source, target = vault.fabrics[m.source_fabric.lower()], vault.fabrics[m.target_fabric.lower()]
    health, errors = fabric_health(world, target.location, clock)
    return {
        "id": f"{container_id(vault, source)}/replicationProtectionContainerMappings/{m.name}",
        "name": m.name,
        "type": T_CONTAINER_MAPPING,
        "location": None,
        "properties": {
            "targetProtectionContainerId": container_id(vault, target),
            "targetProtectionContainerFriendlyName": target.container,
            "providerSpecificDetails": {
                "instanceType": "A2A",
                "agentAutoUpdateStatus": "Disabled",
                "automationAccountAuthenticationType": "RunAsAccount",
                "automationAccountArmId": None,
                "scheduleName": None,
                "jobScheduleName": None,
            },
            "health": health,
            "healthErrorDetails": errors,
            "policyId": policy_id(vault, vault.policies[m.policy.lower()].name),
            "state": "Paired",
            "sourceProtectionContainerFriendlyName": source.container,
            "sourceFabricFriendlyName": source.friendly_name,
            "targetFabricFriendlyName": target.friendly_name,
            "policyFriendlyName": vault.policies[m.policy.lower()].name,
        },
    }


def network(vault: Vault, f: Fabric) -> dict[str, Any]:
    """The fabric's replication network."""
    return {
        "id": network_id(vault, f),
        "name": NETWORK_NAME,
        "type": T_NETWORK,
        "location": None,
        "properties": {
            "fabricType": "Azure",
            "friendlyName": NETWORK_NAME,
            "networkType": "AzureNetwork",
            "subnets": [],
        },
    }


def network_mapping(vault: Vault, m: NetworkMapping) -> dict[str, Any]:
    """A network mapping (id under the primary fabric's replication network)."""
    primary, recovery = vault.fabrics[m.primary_fabric.lower()], vault.fabrics[m.recovery_fabric.lower()]
    return {
        "id": f"{network_id(vault, primary)}/replicationNetworkMappings/{m.name}",
        "name": m.name,
        "type": T_NETWORK_MAPPING,
        "location": None,
        "properties": {
            "state": "Paired",
            "primaryNetworkFriendlyName": m.primary_network_id.rsplit("/", 1)[-1],
            "primaryNetworkId": m.primary_network_id,
            "primaryFabricFriendlyName": primary.friendly_name,
            "recoveryNetworkFriendlyName": m.recovery_network_id.rsplit("/", 1)[-1],
            "recoveryNetworkId": m.recovery_network_id,
            "recoveryFabricArmId": fabric_id(vault, recovery),
            "recoveryFabricFriendlyName": recovery.friendly_name,
            "fabricSpecificSettings": {
                "instanceType": "AzureToAzure",
                "primaryFabricLocation": primary.location,
                "recoveryFabricLocation": recovery.location,
            },
        },
    }


def policy(vault: Vault, p: Policy) -> dict[str, Any]:
    """An A2A replication policy."""
    return {
        "id": policy_id(vault, p.name),
        "name": p.name,
        "type": T_POLICY,
        "location": None,
        "properties": {
            "friendlyName": p.name,
            "providerSpecificDetails": {
                "instanceType": "A2A",
                "recoveryPointThresholdInMinutes": 0,
                "recoveryPointHistory": p.recovery_point_history_minutes,
                "appConsistentFrequencyInMinutes": p.app_consistent_minutes,
                "multiVmSyncStatus": "Disabled",
                "crashConsistentFrequencyInMinutes": p.crash_consistent_minutes,
            },
        },
    }
