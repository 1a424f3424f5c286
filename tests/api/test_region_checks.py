"""The target region check with the real SDK against the emulator: a region whose reads do not answer once is
retried by the worker (never target_region_unreachable for a blip); the API names a region whose reads did not
answer (503 or a timeout) target_region_unreachable with what was tried; a region Resource Health reports in an
outage is target_region_unavailable with Azure's words, and is accepted again once it has recovered; a VM its
owner deallocated and Resource Health failing are shown, never refused (a Critical fabric: the unit tests)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.cloud.azure_sdk import AzureCloud
from app.db import transaction, utcnow
from app.job.models import Job, ReprotectRequest
from tests.api.worker_support import accept, make_due, row, step, switch_calls
from tests.drive import drive

VM_READ = "get_vm"
HEALTH_READ = "availability"


class Blip:
    """The real (uncached) cloud; the first call of ``method`` meets a real fault from the emulator, the rest pass.

    ``fault``: ``("transient", body)`` for ``/_emulator/faults/transient`` or ``("latency", body)``.
    """

    def __init__(self, inner, emulator, method: str, fault=("transient", {"rate": 1.0, "status": 503})):
        self._inner = inner
        self._emulator = emulator
        self._method = method
        self._fault = fault
        self.blips = 0

    def __getattr__(self, name):
        call = getattr(self._inner, name)
        if name != self._method:
            return call

        def blip(*args, **kwargs):
            if self.blips:
                return call(*args, **kwargs)
            self.blips += 1
            kind, body = self._fault
            self._emulator.put(f"/_emulator/faults/{kind}", json={**body, "methods": ["GET"]}).raise_for_status()
            try:
                return call(*args, **kwargs)
            finally:
                self._emulator.delete("/_emulator/faults").raise_for_status()

        return blip


def _counts(container) -> tuple[int, int]:
    with transaction(container.sessions) as session:
        return (
            session.scalar(select(func.count()).select_from(ReprotectRequest)),
            session.scalar(select(func.count()).select_from(Job)),
        )


def _refused(api, item) -> dict:
    refused = api.post("/reprotect", json={"vms": [{"item_id": item["id"]}]})
    assert refused.status_code == 422, refused.text
    [problem] = refused.json()["vms"]
    assert problem["vm"] == item["id"]
    return problem


def test_one_transient_blip_reading_the_original_vm_while_validating_is_retried_not_failed(
    api, container, emulator, demo
):
    item = demo["committed"][0]
    job_id = accept(api, item)
    drive(container, until_state="validating", job_id=job_id)
    # Accepted long ago: the worker resolves the whole plan again, reading the target region's resources.
    with transaction(container.sessions) as session:
        session.execute(update(Job).where(Job.id == job_id).values(created_at=utcnow() - timedelta(minutes=30)))
    blip = Blip(container.cloud.inner, emulator, VM_READ)

    make_due(container, job_id)
    step(container, job_id, cloud=blip)

    assert blip.blips == 1
    job = row(container, job_id)
    assert (job.state, job.error_code, job.failed_in) == ("validating", None, None)
    assert job.transient_failures == 1
    assert job.recorded_wait >= 1.0  # the emulator's 503 said Retry-After: 1

    make_due(container, job_id)
    step(container, job_id, cloud=blip)  # the region answers now
    passed = row(container, job_id)
    assert passed.state == "submitting"
    assert "plan resolved again" in passed.history[-1][3]
    drive(container)
    assert row(container, job_id).state == "protected"
    assert switch_calls(emulator, item) == 1


def test_resource_health_failing_just_before_submitting_does_not_hold_the_job(api, container, emulator, demo):
    item = demo["committed"][0]
    job_id = accept(api, item)
    drive(container, until_state="validating", job_id=job_id)
    blip = Blip(container.cloud.inner, emulator, HEALTH_READ)

    make_due(container, job_id)
    step(container, job_id, cloud=blip)  # the fresh plan's re-check: item state and Resource Health

    assert blip.blips == 1
    job = row(container, job_id)
    assert (job.state, job.transient_failures) == ("submitting", 0)
    assert "target region re-checked" in job.history[-1][3]


def test_the_api_refuses_a_region_in_an_outage_as_unavailable_and_accepts_it_once_recovered(
    api, container, emulator, demo
):
    item = demo["committed"][0]
    emulator.put("/_emulator/regions/eastasia/outage", json={"down": True}).raise_for_status()

    problem = _refused(api, item)

    assert problem["code"] == "target_region_unavailable"
    assert problem["message"].startswith(
        "Azure Resource Health reports the original VM in the target region East Asia as Unavailable (Unplanned, "
        "Platform Initiated"
    )
    assert "because of an Azure service issue in region 'eastasia'" in problem["message"]
    region = problem["asr_error"]["target_region"]
    assert region["resource_health"]["verdict"] == "outage"
    tried = {r["what"]: r["answer"] for r in region["reads"]}
    assert tried["original VM"].startswith("failed: Azure answered 503: ")
    assert region["fabric_health"] == "Normal"  # what the vault shows is not the signal
    assert _counts(container) == (0, 0)

    emulator.put("/_emulator/regions/eastasia/outage", json={"down": False}).raise_for_status()
    container.cloud = container.cloud.inner  # past the adapter's short cache of the resource group
    accepted = api.post("/reprotect", json={"vms": [{"item_id": item["id"]}]})
    assert accepted.status_code == 202, accepted.text
    drive(container)
    assert api.get(f"/jobs/{accepted.json()['jobs'][0]['id']}").json()["state"] == "protected"


@pytest.mark.parametrize(
    ("fault", "answer"),
    [
        (("transient", {"rate": 1.0, "status": 503}), "failed: Azure answered 503: "),
        (("latency", {"ms": 3000}), "failed: Azure could not be reached: "),
    ],
    ids=["503", "timeout"],
)
def test_the_api_refuses_a_region_whose_reads_did_not_answer_as_unreachable_with_what_was_tried(
    api, container, emulator, demo, fault, answer
):
    item = demo["committed"][0]
    original = container.cloud
    impatient = AzureCloud(container.settings.azure.model_copy(update={"request_timeout_seconds": 1.0}))
    container.cloud = Blip(impatient, emulator, VM_READ, fault)
    try:
        problem = _refused(api, item)
    finally:
        container.cloud = original
        impatient.close()
    assert problem["code"] == "target_region_unreachable"
    assert problem["message"].startswith(
        "The target region East Asia did not answer reads of the resources reprotect writes to (original resource "
        "group "
    )
    reads = problem["asr_error"]["target_region"]["reads"]
    assert [r["what"] for r in reads] == ["original resource group", "original VM"]
    assert reads[0]["answer"] == "found"
    assert reads[1]["answer"].startswith(answer)
    assert problem["asr_error"]["target_region"]["resource_health"]["verdict"] == "available"
    assert _counts(container) == (0, 0)


def test_a_deallocated_original_vm_is_shown_in_the_plan_not_refused(api, container, emulator, demo):
    item = next(i for i in demo["committed"] if i["vm_name"] == "app-01")  # its original VM is deallocated
    answer = api.post("/reprotect", params={"dry_run": "true"}, json={"vms": [{"item_id": item["id"]}]})
    assert answer.status_code == 200, answer.text
    region = answer.json()["plans"][0]["target_region"]
    assert region["resource_health"]["verdict"] == "user_initiated"
    assert region["resource_health"]["state"] == "Unavailable"
    assert any(note.startswith("Resource Health: user_initiated (") for note in region["advisories"])
    assert [r["what"] for r in region["reads"]][:2] == ["original resource group", "original VM"]


def test_a_worker_fails_a_job_whose_target_region_went_down_as_target_region_unavailable(
    api, container, emulator, demo
):
    item = demo["committed"][0]
    job_id = accept(api, item)
    drive(container, until_state="validating", job_id=job_id)
    emulator.put("/_emulator/regions/eastasia/outage", json={"down": True, "fabric_health": "Critical"})
    make_due(container, job_id)
    step(container, job_id, cloud=container.cloud.inner)
    job = row(container, job_id)
    assert (job.state, job.error_code, job.failed_in) == ("failed", "target_region_unavailable", "validating")
    assert switch_calls(emulator, item) == 0
