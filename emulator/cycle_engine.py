"""Runs the jobs of the rest of the way home (test failover, cleanup, unplanned failover, commit) on the
engine's clock: their tasks one after the other, the ARM effects at the end of each task, injected failures
at any task, and the item's properties before, during and after (``cycle_states``). The engine owns a runner
and hands it the events of the cycle's jobs; the runner knows nothing of the engine."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable

from emulator import cycle_artifacts as art
from emulator import cycle_plan as cp
from emulator import cycle_states, errors, ids
from emulator import simulation as sim
from emulator.builder import guid
from emulator.clock import SimClock
from emulator.job_finish import finish
from emulator.state import (
    CycleRequest,
    Item,
    Job,
    JobError,
    PlannedFailure,
    ReprotectRequest,
    Task,
    Vault,
    World,
)

# (vm name, item name, operation) -> planned failure for the next job of that operation, if any.
CycleFailureSource = Callable[[str, str, str], PlannedFailure | None]
_NO_REPROTECT = ReprotectRequest("", "", None, None, None, [], [])


class CycleRunner:
    """The cycle's jobs over the engine's world, clock and random source."""

    def __init__(self, world: World, clock: SimClock, rng: random.Random, failures: CycleFailureSource):
        self.world = world
        self.clock = clock
        self.rng = rng
        self.failures = failures

    def submit(self, vault: Vault, item: Item, request: CycleRequest, point_id: str | None) -> Job:
        """Queue the operation's job; the item enters its scenario at once."""
        now = self.clock.now()
        operation = request.operation
        shut_down = (request.source_site_operations or "NotRequired").lower() == "required"
        plan = cp.plan(operation, self.rng, shut_down_source=shut_down)
        name = guid(self.rng)
        job = Job(
            name=name,
            item=item.name,
            scenario_name=cp.KINDS[operation].scenario,
            request=_NO_REPROTECT,
            plan=plan,
            events=cp.schedule(operation, plan, now),
            created=now,
            guids={"activity": guid(self.rng), "child": guid(self.rng), "point": point_id or ""},
            snapshot=copy.deepcopy(item),
            tasks=[Task(spec) for spec in cp.KINDS[operation].tasks],
            cycle=request,
        )
        self._plan_failure(job, item, operation)
        vault.jobs[name.lower()] = job
        cycle_states.enter(item, operation, f"{vault.id}/replicationJobs/{name}", now)
        item.last_job = name
        if operation == cp.TEST_FAILOVER:
            item.test_network_id = request.network_id
        vault_key = ids.key(ids.arm_vault_id(vault.subscription, vault.group, vault.name))
        self.world.active_jobs.add((vault_key, name.lower()))
        return job

    def _plan_failure(self, job: Job, item: Item, operation: str) -> None:
        planned = job.planned_failure = self.failures(item.vm_name, item.name, operation)
        if planned is None or planned.at_fraction <= 0:
            return
        start = next((e for e in job.events if e.kind == "task_start" and e.task == planned.task), None)
        if start is None:
            return
        at = start.at + planned.at_fraction * job.plan.durations.get(planned.task, 0.0)
        job.events.append(sim.Event(at, "planned_fail", planned.task))
        job.events.sort(key=lambda e: e.at)

    # -- events ---------------------------------------------------------------------------------

    def apply(self, vault: Vault, job: Job, event: sim.Event) -> None:
        """One event of a cycle job."""
        item = vault.items[job.item.lower()]
        if event.kind == "job_start":
            job.state, job.start = "InProgress", event.at
        elif event.kind == "task_skip":
            job.task(str(event.task)).state = "Other"
        elif event.kind == "task_start":
            self._task_start(vault, job, str(event.task), event.at)
        elif event.kind == "task_end":
            job.task(str(event.task)).state, job.task(str(event.task)).end = "Succeeded", event.at
            self._effect(vault, job, item, str(event.task))
        elif event.kind == "planned_fail" and job.planned_failure is not None:
            failure = job.planned_failure
            self.fail(vault, job, failure.task, failure.code, failure.message, event.at)
        elif event.kind == "job_end":
            assert job.cycle is not None
            cycle_states.succeed(item, job.cycle.operation, event.at, job.guids.get("point") or None)
            finish(vault, job, "Succeeded", event.at)

    def _task_start(self, vault: Vault, job: Job, task_id: str, at: float) -> None:
        task = job.task(task_id)
        task.state, task.start = "InProgress", at
        planned = job.planned_failure
        if self.world.region_down(_recovery_location(vault, job)):
            self.fail(vault, job, task_id, errors.TARGET_REGION_UNAVAILABLE, None, at)
        elif planned and planned.at_fraction <= 0 and planned.task.lower() == task_id.lower():
            self.fail(vault, job, task_id, planned.code, planned.message, at)

    def _effect(self, vault: Vault, job: Job, item: Item, task_id: str) -> None:
        world = self.world
        if task_id == cp.TFO_CREATE and job.cycle and job.cycle.network_id:
            art.create_test_vm(world, vault, item, job.cycle.network_id)
            art.power(world, item.test_vm_id, "deallocated")
        elif task_id == cp.TFO_START:
            art.power(world, item.test_vm_id, "running")
        elif task_id == cp.CLEANUP_DELETE:
            art.delete_test_vm(world, item)
        elif task_id == cp.FO_SHUTDOWN:
            art.power(world, item.source_vm_id, "deallocated")
        elif task_id == cp.FO_START:
            art.ensure_recovery_vm(world, vault, item)
        elif task_id == cp.FO_BOOT:
            art.power(world, item.running_vm_id, "running")

    # -- failure ----------------------------------------------------------------------------------

    def fail(self, vault: Vault, job: Job, task_id: str, code: str, message: str | None, at: float) -> None:
        """Fail the job at ``task_id`` with an ASR error; the item goes back to where the job found it."""
        assert job.cycle is not None
        item = vault.items[job.item.lower()]
        text = errors.job_error_text(
            code,
            message,
            vm=item.vm_name,
            operation=cp.KINDS[job.cycle.operation].display_name,
            location=_recovery_location(vault, job),
        )
        error = JobError(code, text.message, text.possible_causes, text.recommended_action, task_id, at)
        task = job.task(task_id)
        task.state, task.end = "Failed", at
        task.start = task.start if task.start is not None else at
        task.errors.append(error)
        job.errors.append(error)
        job.restartable = False  # the operation is submitted again instead (README "The whole cycle")
        finish(vault, job, "Failed", at)
        self._rollback(vault, job, item)

    def _rollback(self, vault: Vault, job: Job, item: Item) -> None:
        """Back to the item as the job found it. A test VM a failed test failover created is removed; a source
        VM a failed failover shut down stays shut down; a recovery VM it created stays, deallocated."""
        assert job.cycle is not None
        world = self.world
        if job.cycle.operation == cp.TEST_FAILOVER:
            art.delete_test_vm(world, item)
        if job.cycle.operation == cp.FAILOVER:
            art.power(world, item.running_vm_id, "deallocated")
        restored = copy.deepcopy(job.snapshot)
        restored.artifacts, restored.last_job = item.artifacts, job.name
        restored.running_vm_id = item.running_vm_id
        restored.test_vm_id = item.test_vm_id
        vault.items[job.item.lower()] = restored


def _recovery_location(vault: Vault, job: Job) -> str:
    return vault.fabrics[job.snapshot.recovery_fabric.lower()].location
