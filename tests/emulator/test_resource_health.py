"""Resource Health's ``availabilityStatuses/current`` for VMs, read with the real ``azure-mgmt-resourcehealth``
client: the spec example's shape (``AvailabilityStatus_GetByResource.json``), Available for a running VM,
Unavailable (customer initiated) for a deallocated one, Unavailable (platform, unplanned) in a regional outage
while the region's own Compute reads answer 503, and the vault's fabric health only as the outage declares it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.resourcehealth import ResourceHealthMgmtClient

from tests.data import load
from tests.emulator.support import ARM_SCOPE, LocalBearerTokenPolicy, StaticToken, arm_get

VM = "providers/Microsoft.Compute/virtualMachines"


@pytest.fixture
def health(emu_url, demo) -> Iterator[ResourceHealthMgmtClient]:
    credential = StaticToken()
    client = ResourceHealthMgmtClient(
        credential,
        demo.sub,
        base_url=emu_url,
        authentication_policy=LocalBearerTokenPolicy(credential, ARM_SCOPE),
        retry_total=0,
    )
    yield client
    client.close()


def _vm(demo, group: str, name: str) -> str:
    return f"{demo.group_id(group)}/{VM}/{name}"


def _current(health: ResourceHealthMgmtClient, vm_id: str) -> dict:
    return health.availability_statuses.get_by_resource(vm_id.lstrip("/")).as_dict()


def _shape(value):
    """Keys, recursively (lists by their first element): what a JSON body looks like without its values."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def test_a_running_vm_is_available_in_the_spec_examples_envelope(health, demo):
    vm_id = _vm(demo, "contoso-web-rg", "web-01")
    body = _current(health, vm_id)
    example = load("resourcehealth_availability_status_get_by_resource.json")
    assert set(body) == set(example)  # id, name, type, location, properties
    assert (body["id"], body["name"], body["type"]) == (
        f"{vm_id}/providers/Microsoft.ResourceHealth/availabilityStatuses/current",
        "current",
        example["type"],
    )
    assert body["location"] == "eastasia"
    assert body["properties"]["availabilityState"] == "Available"
    assert set(body["properties"]) <= set(example["properties"])


def test_a_deallocated_vm_is_unavailable_by_its_owner_not_the_platform(health, demo):
    props = _current(health, _vm(demo, "contoso-app-rg", "app-01"))["properties"]
    assert props["availabilityState"] == "Unavailable"
    assert (props["context"], props["healthEventCause"]) == ("Customer Initiated", "UserInitiated")
    assert "deallocated" in props["summary"]


def test_an_outage_makes_vms_unavailable_for_the_platform_reads_503_and_recovery_ends_it(health, demo, admin, client):
    example = load("resourcehealth_availability_status_get_by_resource.json")["properties"]
    admin.put("/_emulator/regions/eastasia/outage", json={"down": True}).raise_for_status()

    props = _current(health, _vm(demo, "contoso-web-rg", "web-01"))["properties"]
    said = {k: props[k] for k in ("availabilityState", "reasonType", "context", "category")}
    assert said == {k: example[k] for k in said}  # the spec example's own words for platform trouble
    assert props["healthEventCause"] == "PlatformInitiated"
    assert _shape({k: props[k] for k in example if k in props}) == _shape(
        {k: example[k] for k in props if k in example}
    )
    # Even a VM its owner deallocated shows the outage.
    assert _current(health, _vm(demo, "contoso-app-rg", "app-01"))["properties"]["context"] == "Platform Initiated"
    # The region's own Compute provider does not answer; Resource Health (global) did.
    read = arm_get(client, _vm(demo, "contoso-web-rg", "web-01"))
    assert (read.status_code, read.json()["error"]["code"]) == (503, "ServiceUnavailable")
    # Fabric health is not said to change (not public): Normal unless the outage declares otherwise.
    assert client.replication_fabrics.get(demo.rg, demo.vault, demo.ea_fabric).properties.health == "Normal"

    admin.put("/_emulator/regions/eastasia/outage", json={"down": False}).raise_for_status()
    assert _current(health, _vm(demo, "contoso-web-rg", "web-01"))["properties"]["availabilityState"] == "Available"
    assert arm_get(client, _vm(demo, "contoso-web-rg", "web-01")).status_code == 200


def test_an_outage_can_declare_the_fabric_critical(admin, client, demo):
    admin.put("/_emulator/regions/eastasia/outage", json={"down": True, "fabric_health": "Critical"}).raise_for_status()
    fabric = client.replication_fabrics.get(demo.rg, demo.vault, demo.ea_fabric).properties
    assert fabric.health == "Critical"
    assert fabric.health_error_details
    assert admin.put("/_emulator/regions/eastasia/outage", json={"fabric_health": "Bad"}).status_code == 400


def test_a_vm_that_does_not_exist_has_no_status(health, demo):
    with pytest.raises(ResourceNotFoundError):
        _current(health, _vm(demo, "contoso-web-rg", "nope-01"))
