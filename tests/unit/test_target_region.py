"""The target region check under every plausible Resource Health answer (the spellings of reasonType, context and
healthEventCause are not public), Resource Health failing, and the vault's fabric health (advisory only)."""

from __future__ import annotations

import pytest

from app.cloud import parse
from app.cloud.types import AvailabilityStatus, Fabric
from app.errors import CloudError, CloudPermanent, CloudThrottled, CloudTransient
from app.job.plan import RegionHealth, ReprotectPlan
from app.job.prerequisites import VmCheckFailed, resolve_plan
from app.job.region import judge
from app.job.schemas import VmTarget
from tests.data import load
from tests.fakes import ready_cloud, sample_item

SUB = "/subscriptions/7c943c1b-5122-4097-90c8-861411bdd574"
ORIGINAL_VM = f"{SUB}/resourcegroups/vijami-alertrg/providers/microsoft.compute/virtualmachines/reprotectvm"


@pytest.fixture
def item():
    return sample_item()


@pytest.fixture
def cloud(item):
    return ready_cloud(item)


def _status(state: str, **said: str) -> AvailabilityStatus:
    return AvailabilityStatus(ORIGINAL_VM, state, summary="Azure's summary", **said)


def _target(item) -> VmTarget:
    return VmTarget(item_id=item["id"])


def test_the_spec_example_parses_to_azures_words_and_is_an_outage():
    status = parse.availability_status(load("resourcehealth_availability_status_get_by_resource.json"), ORIGINAL_VM)
    assert status == AvailabilityStatus(
        resource_id=ORIGINAL_VM,
        state="Unavailable",
        title="Unavailable",
        summary="We're sorry, we couldn't automatically recover your virtual machine",
        detailed_status="Disk problems are preventing us from automatically recovering your virtual machine",
        reason_type="Unplanned",
        context="Platform Initiated",
        category="Unplanned",
        occurred_time="2016-03-29T09:12:00Z",
    )
    assert judge(status) == RegionHealth(
        "outage",
        "Unavailable",
        "Unplanned, Platform Initiated",
        "We're sorry, we couldn't automatically recover your virtual machine",
    )


OUTAGES = [
    _status("Unavailable", reason_type="Unplanned"),
    _status("Unavailable", context="Platform Initiated", category="Unplanned"),
    _status("Unavailable", context="PlatformInitiated"),
    _status("Degraded", health_event_cause="PlatformInitiated", health_event_category="Unplanned"),
    _status("Unavailable", reason_type="Outage"),
    _status("unavailable", reason_type="unplanned"),
    _status("Degraded", reason_type="Platform_Initiated"),
]


@pytest.mark.parametrize(
    "status", OUTAGES, ids=lambda s: f"{s.state}:{s.reason_type}:{s.context}:{s.health_event_cause}"
)
@pytest.mark.parametrize("patient", [False, True])
def test_platform_trouble_on_the_original_vm_refuses_as_target_region_unavailable(cloud, item, status, patient):
    cloud.health[ORIGINAL_VM] = status
    with pytest.raises(VmCheckFailed) as failed:
        resolve_plan(cloud, _target(item), patient=patient)
    problem = failed.value.problem
    assert problem.code == "target_region_unavailable"
    assert problem.message.startswith(
        f"Azure Resource Health reports the original VM in the target region UK South as {status.state} ("
    )
    assert "Azure's summary" in problem.message
    assert problem.asr_error is not None
    assert problem.asr_error["target_region"]["resource_health"]["verdict"] == "outage"


@pytest.mark.parametrize("patient", [False, True])
def test_an_outage_wins_over_reads_that_did_not_answer(cloud, item, patient):
    cloud.health[ORIGINAL_VM] = _status("Unavailable", context="Platform Initiated", category="Unplanned")
    cloud.failures["get_vm"] = CloudTransient("Azure answered 503: regional outage", status=503)
    with pytest.raises(VmCheckFailed) as failed:
        resolve_plan(cloud, _target(item), patient=patient)
    assert failed.value.problem.code == "target_region_unavailable"
    reads = failed.value.problem.asr_error["target_region"]["reads"]
    assert reads[1] == {
        "what": "original VM",
        "id": ORIGINAL_VM,
        "answer": "failed: Azure answered 503: regional outage",
    }


NOT_BLOCKING = [
    (_status("Unavailable", reason_type="UserInitiated"), "user_initiated"),
    (_status("Unavailable", reason_type="User Initiated"), "user_initiated"),
    (_status("Unavailable", context="Customer Initiated"), "user_initiated"),
    (_status("Unavailable", health_event_cause="UserInitiated"), "user_initiated"),
    (_status("Unavailable", context="VM Initiated"), "user_initiated"),
    # A stopped VM's answer that also names the platform's category field: the user's action wins.
    (_status("Unavailable", context="Customer Initiated", category="Unplanned"), "user_initiated"),
    (_status("Unavailable", context="Platform Initiated", category="Planned"), "planned"),
    (_status("Unavailable", reason_type="Planned"), "planned"),
    (_status("Unavailable"), "unexplained"),
    (_status("Unknown"), "unknown"),
    (_status("Unknown", reason_type="Unplanned"), "unknown"),
    (_status("Available"), "available"),
]


@pytest.mark.parametrize(("status", "verdict"), NOT_BLOCKING, ids=lambda v: str(v)[:60])
def test_what_is_not_platform_trouble_never_refuses_and_is_shown(cloud, item, status, verdict):
    cloud.health[ORIGINAL_VM] = status
    region = resolve_plan(cloud, _target(item)).target_region
    assert region is not None
    assert region.resource_health is not None
    assert (region.resource_health.verdict, region.resource_health.state) == (verdict, status.state)
    if verdict != "available":
        assert any(note.startswith(f"Resource Health: {verdict} (") for note in region.advisories)


def test_no_status_for_the_original_vm_is_unknown():
    assert judge(None) == RegionHealth("unknown", None, None, "Resource Health has no status for the original VM.")


@pytest.mark.parametrize(
    "fault",
    [
        CloudTransient("Azure answered 503: try later", status=503),
        CloudTransient("Azure could not be reached: read timed out"),
        CloudPermanent(
            "The subscription is not registered to use namespace 'Microsoft.ResourceHealth'.",
            code="MissingSubscriptionRegistration",
            status=409,
        ),
        CloudPermanent("does not have authorization", code="AuthorizationFailed", status=403),
        CloudError("something else"),
    ],
)
@pytest.mark.parametrize("patient", [False, True])
def test_resource_health_failing_or_not_registered_is_shown_not_blocking(cloud, item, fault, patient):
    cloud.failures["availability"] = fault
    region = resolve_plan(cloud, _target(item), patient=patient).target_region
    assert region is not None
    assert region.resource_health == RegionHealth(
        "unread", None, None, f"Resource Health could not be read: {fault.message}"
    )
    assert f"Resource Health could not be read: {fault.message}" in " ".join(region.advisories)


def test_resource_health_throttled_reaches_the_caller(cloud, item):
    fault = CloudThrottled("slow down", retry_after=3)
    cloud.failures["availability"] = fault
    with pytest.raises(CloudThrottled) as raised:
        resolve_plan(cloud, _target(item))
    assert raised.value is fault


@pytest.mark.parametrize("health", ["Critical", "Warning", "Normal"])
def test_fabric_health_is_shown_and_never_refuses(cloud, item, health):
    cloud.fabrics["asr-a2a-default-uksouth"] = Fabric(
        "asr-a2a-default-uksouth", "UK South", "uksouth", health, ("Region outage", "")
    )
    region = resolve_plan(cloud, _target(item)).target_region
    assert region is not None
    assert (region.fabric_health, region.fabric_health_errors) == (health, ("Region outage",))
    shown = [n for n in region.advisories if "fabric" in n]
    expected = (
        []
        if health == "Normal"
        else [f"The vault reports the target region's fabric as {health} (Region outage); shown only."]
    )
    assert shown == expected


def test_the_check_survives_storage_with_the_plan_and_old_plans_have_none(cloud, item):
    cloud.health[ORIGINAL_VM] = _status("Unavailable", reason_type="User Initiated")
    plan = resolve_plan(cloud, _target(item))
    assert ReprotectPlan.from_json(plan.to_json()) == plan
    stored = plan.to_json()
    del stored["target_region"]
    assert ReprotectPlan.from_json(stored).target_region is None
