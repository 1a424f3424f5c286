"""Campaign trials on the real stack: a campaign over the demo's committed VMs (two failover waves, the drill's
gate automatic) runs to completion while the worker and the scheduler are killed at random moments and Azure
answers 429 or 5xx to a share of calls, and while Azure loses the answer to every operation of every phase. The
campaign completes, every invariant holds (those of campaigns too), and each VM saw exactly one ASR operation
per phase per job attempt."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests import invariants
from tests.faults.harness import Trial

pytestmark = [pytest.mark.faults, pytest.mark.timeout(420)]

TIME_SCALE = 10_000  # the emulator's clock: each ASR job lasts a second or so, the service's polls set the pace
# A step whose checks Azure failed or throttled is tried again 30 s later (app.campaign.engine.BLOCKED_RETRY_SECONDS).
CAMPAIGN_TIMEOUT = 300.0
OVER = {"completed", "stopped", "aborted"}
VMS = 3  # of the demo's four committed VMs: two fail over in wave 1, one in wave 2
STEPS = 7  # reprotect, drill, drill_cleanup, failover wave 1, failover wave 2, commit, reprotect_back
# Per VM, the ASR operation each phase sends once: switch protection twice (reprotect, then reprotect_back).
ONE_PER_PHASE = {
    "ReplicationProtectionContainers_SwitchProtection": 2,
    "ReplicationProtectedItems_TestFailover": 1,
    "ReplicationProtectedItems_TestFailoverCleanup": 1,
    "ReplicationProtectedItems_UnplannedFailover": 1,
    "ReplicationProtectedItems_FailoverCommit": 1,
}


# -- the campaign --------------------------------------------------------------------------------------


def _committed_items(t: Trial) -> tuple[str, list[dict[str, Any]]]:
    """The demo vault's id and its committed items whose source VM is still there."""
    vault = t.emulator("GET", "/scenario")["subscriptions"][0]["vaults"][0]
    items = [
        i
        for i in vault["items"]
        if i["protection_state"] == "UnplannedFailoverCommitted" and i["source_vm"] == "present"
    ]
    return vault["id"], items


def _start_campaign(t: Trial, vault_id: str, items: list[dict[str, Any]]) -> str:
    """``POST /campaigns``: the items in two failover waves, a drill in East Asia's test network, gates automatic."""
    subscription = vault_id.split("/resourceGroups/")[0]
    network = (
        f"{subscription}/resourceGroups/contoso-net-rg/providers/Microsoft.Network/virtualNetworks/contoso-vnet-ea-test"
    )
    first_wave = (len(items) + 1) // 2
    vms = [
        {"vault_id": vault_id, "vm_name": item["vm_name"], "wave": 1 if n < first_wave else 2}
        for n, item in enumerate(items)
    ]
    body = {"name": "fault trial", "vms": vms, "test_networks": {"eastasia": network}, "drill_approval": "auto"}
    with t.api() as api:
        created = api.post("/campaigns", json=body)
    assert created.status_code == 201, created.text
    campaign_id = str(created.json()["id"])
    t.say(f"campaign {campaign_id}: {len(vms)} VMs, {len(created.json()['steps'])} steps")
    return campaign_id


def _campaign(t: Trial, campaign_id: str) -> dict[str, Any]:
    with t.api() as api:
        answer = api.get(f"/campaigns/{campaign_id}")
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


def _where(campaign: dict[str, Any]) -> str:
    wave = f" wave {campaign['wave']}" if campaign.get("wave") else ""
    return f"{campaign['state']} {campaign['phase'] or ''}{wave}".rstrip()


def _run_to_the_end(
    t: Trial, campaign_id: str, meanwhile: Callable[[str], None] = lambda where: None
) -> dict[str, Any]:
    """Follow the campaign until it is over, calling ``meanwhile`` (with where it stands) between looks."""
    deadline = time.monotonic() + CAMPAIGN_TIMEOUT
    last = ""
    while True:
        t.revive()  # a child that exited by itself is restarted (and counted), as a supervisor would
        campaign = _campaign(t, campaign_id)
        where = _where(campaign)
        if where != last:
            t.say(f"campaign {where}")
            last = where
        if campaign["state"] in OVER:
            return campaign
        if time.monotonic() > deadline:
            raise AssertionError(
                f"campaign still {where} after {CAMPAIGN_TIMEOUT:.0f}s ({t.reproduce})\n{_dump(t, campaign)}"
            )
        meanwhile(where)
        time.sleep(0.2)


# -- the verdict ---------------------------------------------------------------------------------------


def _dump(t: Trial, campaign: dict[str, Any]) -> str:
    """The evidence of a failed trial: the campaign, each job's history and the emulator's per-item calls."""
    histories = {}
    with t.api() as api:
        for vm in campaign["vms"]:
            for phase, job in vm["phases"].items():
                if job.get("href"):
                    body = api.get(job["href"]).json()
                    histories[f"{vm['vm_name']}/{phase}"] = [
                        (h["attempt"], h["from_state"], h["to_state"], h.get("reason")) for h in body.get("history", [])
                    ]
    calls = t.emulator("GET", "/stats")["calls_by_item"]
    return json.dumps({"campaign": campaign, "histories": histories, "calls_by_item": calls}, indent=1, default=str)


def _verify(t: Trial, campaign: dict[str, Any], items: list[dict[str, Any]]) -> None:
    """The campaign completed; every invariant holds; each VM got exactly one ASR operation per phase."""
    assert campaign["state"] == "completed", f"campaign {_where(campaign)} ({t.reproduce})\n{_dump(t, campaign)}"
    jobs = t.wait_terminal()
    t.wait_for(lambda: t.pending_deliveries() == 0, what="webhook deliveries settled", timeout=30)
    stats = t.emulator("GET", "/stats")
    delivered = {r.headers.get("webhook-id", "") for r in t.receiver.received}
    with Session(t.engine) as session:
        found = invariants.check(session, stall_after=timedelta(seconds=30), delivered_event_ids=delivered)
        found += invariants.check_campaigns(session, calls_by_item=stats["calls_by_item"], exclusive=True)
    t.ledger.outcomes[t.name] = Counter(j.state for j in jobs.values())
    t.ledger.deadlocks[t.name] = t.deadlocks()
    t.ledger.violations += [(t.name, v) for v in found]
    t.say(f"invariants checked (campaigns included): {len(found)} violation(s)")
    assert not found, "invariant violations:\n" + "\n".join(map(str, found)) + f"\n{t.reproduce}\n{_dump(t, campaign)}"
    attempts = Counter(j.attempt for j in jobs.values())
    assert attempts == {1: len(items) * sum(ONE_PER_PHASE.values())}, f"jobs by attempt: {attempts} ({t.reproduce})"
    calls = {
        i["name"]: {op: stats["calls_by_item"].get(i["name"], {}).get(op, 0) for op in ONE_PER_PHASE} for i in items
    }
    wrong = {name: ops for name, ops in calls.items() if ops != ONE_PER_PHASE}
    assert not wrong, f"ASR operations per VM, expected {ONE_PER_PHASE}: {wrong} ({t.reproduce})"


# -- the trials ----------------------------------------------------------------------------------------


class Reaper:
    """Kills the worker, the scheduler or both (SIGKILL) at a random moment of some of the campaign's steps and
    starts them again a little later, as a supervisor would; remembers where each kill fell."""

    def __init__(self, t: Trial, *, steps: int, kills: int):
        self.t = t
        self.doomed = set(t.rng.sample(range(steps), kills))  # the steps (in order) a kill falls in
        self.seen: list[str] = []
        self.kill_at: float | None = None
        self.down: list[tuple[float, str]] = []
        self.where: list[str] = []

    def __call__(self, where: str) -> None:
        now = time.monotonic()
        for entry in [d for d in self.down if d[0] <= now]:
            self.t.stack.respawn(entry[1])
            self.down.remove(entry)
        if where not in self.seen:
            self.seen.append(where)
            if len(self.seen) - 1 in self.doomed:
                self.kill_at = now + self.t.rng.uniform(0.0, 2.5)
        if self.kill_at is not None and now >= self.kill_at and not self.down:
            self.kill_at = None
            for name in self.t.rng.choice([["worker"], ["scheduler"], ["worker", "scheduler"]]):
                self.t.stack.kill(name)
                self.t.fault(f"{name}_sigkill", f"campaign {where}; jobs by state: {dict(self.t.states())}")
                self.down.append((now + self.t.rng.uniform(0.0, 1.0), name))
            self.where.append(where)

    def restart_all(self) -> None:
        for _, name in self.down:
            self.t.stack.respawn(name)
        self.down.clear()


def test_a_campaign_completes_through_worker_and_scheduler_kills_and_azure_429s_and_5xx(trial):
    with trial(scenario="demo", time_scale=TIME_SCALE) as t:
        vault_id, items = _committed_items(t)
        campaign_id = _start_campaign(t, vault_id, items[:VMS])  # its checks read Azure before the faults
        rate = t.rng.uniform(0.05, 0.12)  # each fault in a step's checks costs 30 s (BLOCKED_RETRY_SECONDS)
        statuses: Counter[int] = Counter()
        reaper = Reaper(t, steps=STEPS, kills=t.rng.randint(2, 3))

        def meanwhile(where: str) -> None:
            if where not in reaper.seen:  # each step, another answer: 429 (never carried out) or a 5xx
                status = t.rng.choice([429, 500, 502, 503, 504])
                t.emulator("PUT", "/faults/transient", {"rate": rate, "status": status})
                t.fault("arm_transient", f"campaign {where}: {rate:.0%} of every ARM call answered {status}")
                statuses[status] += 1
            reaper(where)

        campaign = _run_to_the_end(t, campaign_id, meanwhile)
        reaper.restart_all()
        t.emulator("DELETE", "/faults")
        t.say(f"kills fell in: {reaper.where}")
        _verify(t, campaign, items[:VMS])
        served = t.emulator("GET", "/stats")["statuses"]
        assert any(served.get(str(status), 0) for status in statuses), served


def test_a_campaign_whose_every_operation_answer_is_lost_sends_each_operation_once(trial):
    with trial(scenario="demo", time_scale=TIME_SCALE) as t:
        vault_id, items = _committed_items(t)
        # The only POSTs the service sends are the phases' operations: each one is carried out, its answer lost.
        status = t.rng.choice([500, 502, 503, 504])
        t.emulator("PUT", "/faults/transient", {"rate": 1.0, "status": status, "methods": ["POST"], "after": True})
        t.fault("arm_lost_answer", f"every POST answered {status} after it was carried out")
        campaign = _run_to_the_end(t, _start_campaign(t, vault_id, items[:VMS]))
        t.emulator("DELETE", "/faults")
        stats = t.emulator("GET", "/stats")
        _verify(t, campaign, items[:VMS])
        sent = sum(stats["calls"].get(op, 0) for op in ONE_PER_PHASE)
        assert stats["statuses"].get(str(status), 0) == sent == VMS * sum(ONE_PER_PHASE.values()), (
            f"{sent} operations sent, answers by status {stats['statuses']}: each answer should have been lost"
        )


# -- the campaign rules can fail ---------------------------------------------------------------------------


def _job(job_id: str, *steps: tuple[str | None, str]) -> invariants._JobFacts:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return invariants._JobFacts(
        id=job_id, request_id=uuid.uuid4(), vm_key="v/web-01", item_name="web-01", state=steps[-1][1], attempt=1,
        finished_at=at, deadline_at=at, next_due_at=None, lease_until=None, error_code=None,
        steps=tuple(invariants.Step(1, before, after, at) for before, after in steps),
    )  # fmt: skip


def test_the_operation_rule_catches_an_operation_sent_twice_or_never():
    sent = _job("a", (None, "accepted"), ("accepted", "validating"), ("validating", "submitting"),
                ("submitting", "reprotecting"), ("reprotecting", "syncing"), ("syncing", "protected"))  # fmt: skip
    kinds = {"a": "failover"}
    failover = "ReplicationProtectedItems_UnplannedFailover"
    assert invariants.check_operations([sent], kinds, {"web-01": {failover: 1}}) == []
    assert [v.code for v in invariants.check_operations([sent], kinds, {"web-01": {failover: 2}})] == [
        "operation_repeated"
    ]
    assert [v.code for v in invariants.check_operations([sent], kinds, {"web-01": {}})] == ["operation_missing"]


def test_the_step_rule_catches_a_vm_counted_twice_or_left_out():
    assert invariants.check_step_vms("s", {"a", "b"}, {"a": "1"}, {"b"}, set()) == []
    assert invariants.check_step_vms("s", {"a", "b"}, {"a": "1", "b": "2"}, {"b"}, set())[0].code == "campaign_step_vms"
    assert invariants.check_step_vms("s", {"a", "b"}, {"a": "1"}, set(), set())[0].code == "campaign_step_vms"
