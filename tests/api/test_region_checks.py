"""A target region that does not answer once is retried by the worker (never target_region_unreachable for a blip); the API names a region that did not answer target_region_unreachable and a region that is down target_region_unavailable, exactly."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.db import transaction, utcnow
from app.job.models import Job, ReprotectRequest
from tests.api.worker_support import accept, make_due, row, step, switch_calls
from tests.drive import drive


class FabricBlip:
    """The real (uncached) cloud; the first fabric read meets a real 503 from the emulator, the rest pass."""

    def __init__(self, inner, emulator):
        self._inner = inner
        self._emulator = emulator
        self.blips = 0

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def get_fabric(self, vault, fabric):
        if self.blips:
            return self._inner.get_fabric(vault, fabric)
        self.blips += 1
        fault = {"rate": 1.0, "status": 503, "methods": ["GET"]}
        self._emulator.put("/_emulator/faults/transient", json=fault).raise_for_status()
        try:
            return self._inner.get_fabric(vault, fabric)
        finally:
            self._emulator.delete("/_emulator/faults").raise_for_status()


def _counts(container) -> tuple[int, int]:
    with transaction(container.sessions) as session:
        return (
            session.scalar(select(func.count()).select_from(ReprotectRequest)),
            session.scalar(select(func.count()).select_from(Job)),
        )


@pytest.mark.parametrize("plan", ["fresh", "stale"])
def test_one_transient_blip_reading_the_target_region_while_validating_is_retried_not_failed(
    api, container, emulator, demo, plan
):
    item = demo["committed"][0]
    job_id = accept(api, item)
    drive(container, until_state="validating", job_id=job_id)
    if plan == "stale":  # accepted long ago: the worker resolves the whole plan again, not only the light re-check
        with transaction(container.sessions) as session:
            session.execute(update(Job).where(Job.id == job_id).values(created_at=utcnow() - timedelta(minutes=30)))
    blip = FabricBlip(container.cloud.inner, emulator)

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
    path = {"fresh": "item state and target region re-checked", "stale": "plan resolved again"}[plan]
    assert path in passed.history[-1][3]
    drive(container)
    assert row(container, job_id).state == "protected"
    assert switch_calls(emulator, item) == 1


def test_the_api_refuses_a_region_that_is_down_as_target_region_unavailable(api, container, emulator, demo):
    emulator.put("/_emulator/regions/eastasia/outage", json={"down": True}).raise_for_status()
    refused = api.post("/reprotect", json={"vms": [{"item_id": demo["committed"][0]["id"]}]})
    assert refused.status_code == 422, refused.text
    assert [(p["vm"], p["code"]) for p in refused.json()["vms"]] == [
        (demo["committed"][0]["id"], "target_region_unavailable")
    ]
    assert _counts(container) == (0, 0)


def test_the_api_refuses_a_region_that_did_not_answer_as_target_region_unreachable(api, container, emulator, demo):
    original = container.cloud
    container.cloud = FabricBlip(original.inner, emulator)
    try:
        refused = api.post("/reprotect", json={"vms": [{"item_id": demo["committed"][0]["id"]}]})
    finally:
        container.cloud = original
    assert refused.status_code == 422, refused.text
    assert [(p["vm"], p["code"]) for p in refused.json()["vms"]] == [
        (demo["committed"][0]["id"], "target_region_unreachable")
    ]
    assert _counts(container) == (0, 0)


def test_a_worker_fails_a_job_whose_target_region_went_down_as_target_region_unavailable(
    api, container, emulator, demo
):
    item = demo["committed"][0]
    job_id = accept(api, item)
    drive(container, until_state="validating", job_id=job_id)
    emulator.put("/_emulator/regions/eastasia/outage", json={"down": True}).raise_for_status()
    make_due(container, job_id)
    step(container, job_id, cloud=container.cloud.inner)  # past the adapter's short cache of fabric health
    job = row(container, job_id)
    assert (job.state, job.error_code, job.failed_in) == ("failed", "target_region_unavailable", "validating")
    assert switch_calls(emulator, item) == 0
