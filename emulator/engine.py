"""Runs reprotect jobs lazily: each request advances every running job and resync to "now".

Item phases: failover committed -> ``SwitchProtectionInProgress`` (job's first tasks, old id) -> moved to
the other region's container as ``UnprotectedStatesBegin`` (during "Reprotecting virtual machine") ->
job done, resync with ``monitoringPercentageCompletion`` -> ``Protected``. A failed or cancelled job rolls
the item back to failover committed, unless it had moved and the leftovers mode says it stays moved.
The jobs of the rest of the cycle (test failover, cleanup, failover, commit) run in ``cycle_engine``.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from typing import Any

from emulator import artifacts, errors, ids
from emulator import simulation as sim
from emulator.builder import COMMITTED_OPERATIONS, PROTECTED_OPERATIONS, guid
from emulator.clock import SimClock
from emulator.cycle_engine import CycleFailureSource, CycleRunner
from emulator.job_finish import finish
from emulator.state import (
    DiskInput,
    Item,
    ItemDisk,
    Job,
    JobError,
    PlannedFailure,
    ReprotectRequest,
    Vault,
    World,
)

# (vm name, item name) -> planned failure for the next job, if any.
FailureSource = Callable[[str, str], PlannedFailure | None]


class Engine:
    """The simulation over one world; deterministic for a given seed and request sequence."""

    def __init__(
        self,
        world: World,
        clock: SimClock,
        rng: random.Random,
        failures: FailureSource,
        leftovers: Callable[[], str] = lambda: "restore",
        cycle_failures: CycleFailureSource = lambda vm, item, operation: None,
    ):
        self.world = world
        self.clock = clock
        self.rng = rng
        self.failures = failures
        self.leftovers = leftovers
        self.cycle = CycleRunner(world, clock, rng, cycle_failures)  # test failover, cleanup, failover, commit

    # -- time -----------------------------------------------------------------------------------

    def advance(self) -> float:
        """Bring every running job and resync up to the simulated now; returns now."""
        now = self.clock.now()
        for vault_key, job_name in sorted(self.world.active_jobs):
            vault = self.world.vaults[vault_key]
            job = vault.jobs[job_name]
            while job.running and job.cursor < len(job.events) and job.events[job.cursor].at <= now:
                event = job.events[job.cursor]
                job.cursor += 1
                self._apply(vault, job, event)
            if not job.running:
                self.world.active_jobs.discard((vault_key, job_name))
        for vault_key, item_name in sorted(self.world.resyncing):
            item = self.world.vaults[vault_key].items[item_name]
            if item.resync_start is not None and now >= item.resync_start + item.resync_s:
                self._protected(item, item.resync_start + item.resync_s)
                self.world.resyncing.discard((vault_key, item_name))
        return now

    # -- submit, cancel, restart ------------------------------------------------------------------

    def submit(self, vault: Vault, item: Item, request: ReprotectRequest) -> Job:
        """Create and queue the reprotect job of ``item``; the item enters switch protection."""
        now = self.clock.now()
        item, resumed = self._base_item(vault, item)
        loads = [sim.DiskLoad(d.changed_gib, d.throughput_mb_s) for d in item.disks]
        est = sim.estimate(item.enable_s, loads, sim.sample_autoscale(self.rng))
        plan = sim.plan_reprotect(est, self.rng)
        name = guid(self.rng)
        job = Job(
            name=name,
            item=item.name,
            scenario_name="ReverseReplicate" if request.legacy else "SwitchProtection",
            request=request,
            plan=plan,
            events=sim.schedule(plan, now),
            created=now,
            guids={"activity": guid(self.rng), "child": guid(self.rng)},
            snapshot=copy.deepcopy(item),
            resumed=resumed,
        )
        self._plan_failure(job, item)
        vault.jobs[name.lower()] = job
        self._enter_switch(vault, item, job, now)
        self.world.active_jobs.add((ids.key(_arm_vault(vault)), name.lower()))
        return job

    def _enter_switch(self, vault: Vault, item: Item, job: Job, now: float) -> None:
        item.scenario_name = job.scenario_name
        item.scenario_job_id = f"{vault.id}/replicationJobs/{job.name}"
        item.scenario_start = now
        item.allowed_operations = []
        item.protection_state = "SwitchProtectionInProgress"
        item.protection_state_description = "Reprotect in progress"
        item.last_job = job.name

    def _base_item(self, vault: Vault, item: Item) -> tuple[Item, bool]:
        """The item a reprotect starts from: an item an earlier attempt left moved starts again from the
        item as it was before that attempt (its failed-over orientation); True when it did."""
        before = item.leftover_snapshot
        if before is None:
            return item, False
        restored = copy.deepcopy(before)
        restored.artifacts, restored.last_job = item.artifacts, item.last_job
        vault.items[item.name.lower()] = restored
        return restored, True

    def _plan_failure(self, job: Job, item: Item) -> None:
        """Take the next injected failure for this job; one part-way through a task gets its own event."""
        planned = job.planned_failure = self.failures(item.vm_name, item.name)
        if planned is None or planned.at_fraction <= 0:
            return
        start = next((e for e in job.events if e.kind == "task_start" and e.task == planned.task), None)
        if start is None:
            return
        at = start.at + planned.at_fraction * job.plan.durations.get(planned.task, 0.0)
        job.events.append(sim.Event(at, "planned_fail", planned.task))
        job.events.sort(key=lambda e: e.at)  # stable: the failure comes after what happens at the same instant

    def cancel(self, vault: Vault, job: Job) -> None:
        """Cancel a running job (Azure offers Cancel until it ends); see ``_rollback`` for what stays."""
        now = self.clock.now()
        for task in job.tasks:
            if task.state == "InProgress":
                task.state, task.end = "Cancelled", now
        finish(vault, job, "Cancelled", now)
        self._rollback(vault, job)

    def restart(self, vault: Vault, job: Job) -> None:
        """Run a failed job again from its first task."""
        now = self.clock.now()
        item, resumed = self._base_item(vault, vault.items[job.item.lower()])
        fresh = Job(
            name=job.name,
            item=job.item,
            scenario_name=job.scenario_name,
            request=job.request,
            plan=job.plan,
            events=sim.schedule(job.plan, now),
            created=job.created,
            guids=job.guids,
            snapshot=copy.deepcopy(item),
            resumed=resumed or job.resumed,
        )
        self._plan_failure(fresh, item)
        vault.jobs[job.name.lower()] = fresh
        self._enter_switch(vault, item, fresh, now)
        self.world.active_jobs.add((ids.key(_arm_vault(vault)), job.name.lower()))

    def outage(self, location: str, down: bool, fabric_health: str = "Normal") -> None:
        """Mark a region down (or up); running reprotects towards it fail at their current task."""
        now = self.advance()
        if not down:
            self.world.outages.discard(location.lower())
            self.world.outage_started.pop(location.lower(), None)
            self.world.outage_fabric_health.pop(location.lower(), None)
            return
        self.world.outages.add(location.lower())
        self.world.outage_started.setdefault(location.lower(), now)
        self.world.outage_fabric_health[location.lower()] = fabric_health
        for vault_key, job_name in sorted(self.world.active_jobs):
            vault = self.world.vaults[vault_key]
            job = vault.jobs[job_name]
            if job.cycle is None and job.running and self._target_location(vault, job).lower() == location.lower():
                current = next((t for t in job.tasks if t.state == "InProgress"), None)
                current = current or next((t for t in job.tasks if t.state == "NotStarted"), job.tasks[0])
                self._fail(vault, job, current.spec.task_id, errors.TARGET_REGION_UNAVAILABLE, None, now)
        self.world.active_jobs = {k for k in self.world.active_jobs if self.world.vaults[k[0]].jobs[k[1]].running}

    # -- events ---------------------------------------------------------------------------------

    def _target_location(self, vault: Vault, job: Job) -> str:
        return vault.fabrics[job.snapshot.fabric.lower()].location

    def _apply(self, vault: Vault, job: Job, event: sim.Event) -> None:
        if job.cycle is not None:
            self.cycle.apply(vault, job, event)
            return
        item = vault.items[job.item.lower()]
        if event.kind == "job_start":
            job.state, job.start = "InProgress", event.at
        elif event.kind == "task_skip":
            task = job.task(str(event.task))
            task.state = "Other"
        elif event.kind == "task_start":
            self._task_start(vault, job, item, str(event.task), event.at)
        elif event.kind == "task_end":
            self._task_end(vault, job, item, str(event.task), event.at)
        elif event.kind == "milestone":
            self._milestone(vault, job, item, str(event.name))
        elif event.kind == "planned_fail" and job.planned_failure is not None:
            job.restartable = job.planned_failure.restartable
            failure = job.planned_failure
            self._fail(vault, job, failure.task, failure.code, failure.message, event.at)
        elif event.kind == "job_end":
            self._succeed(vault, job, item, event.at)

    def _task_start(self, vault: Vault, job: Job, item: Item, task_id: str, at: float) -> None:
        task = job.task(task_id)
        task.state, task.start = "InProgress", at
        if self.world.region_down(self._target_location(vault, job)):
            self._fail(vault, job, task_id, errors.TARGET_REGION_UNAVAILABLE, None, at)
        elif (
            job.planned_failure
            and job.planned_failure.at_fraction <= 0
            and job.planned_failure.task.lower() == task_id.lower()
        ):
            job.restartable = job.planned_failure.restartable
            self._fail(vault, job, task_id, job.planned_failure.code, job.planned_failure.message, at)
        elif task_id == sim.PROTECT:
            if not (job.request.vm_disks if item.unmanaged else job.request.managed_disks) or (
                job.request.legacy and not item.unmanaged
            ):
                self._fail(vault, job, task_id, errors.MANAGED_DISKS_MISSING, None, at)
                return
            artifacts.prepare(self.world, vault, item, job, self.rng)
            self._move(vault, item, job)

    def _task_end(self, vault: Vault, job: Job, item: Item, task_id: str, at: float) -> None:
        task = job.task(task_id)
        if task_id == sim.PREFLIGHT:
            if self.world.region_down(self._target_location(vault, job)):
                self._fail(vault, job, task_id, errors.TARGET_REGION_UNAVAILABLE, None, at)
                return
            # A retry of a reprotect whose earlier attempt deleted the target-side VM itself goes on: the
            # docs' "target VM and disks don't exist" case (a full copy).
            if self.world.get(job.snapshot.source_vm_id) is None and not job.resumed:
                self._fail(vault, job, task_id, errors.SOURCE_VM_MISSING, None, at)
                return
        task.state, task.end = "Succeeded", at

    def _milestone(self, vault: Vault, job: Job, item: Item, name: str) -> None:
        if name == "target_vm_off":
            artifacts.target_vm_off(self.world, item, job)
        elif name == "seed_copied":
            artifacts.seed(self.world, item, job, self.rng)
        elif name == "target_vm_deleted":
            artifacts.delete_target_vm(self.world, item, job)
        elif name == "replicating_from_seed":
            artifacts.replica_disks(self.world, item, self._target_location(vault, job))

    # -- the item moves -------------------------------------------------------------------------

    def _move(self, vault: Vault, item: Item, job: Job) -> None:
        """Same name, new id: the item now lives under the region where the VM runs."""
        old = job.snapshot
        request = job.request
        target_group = artifacts.target_group_id(job)
        item.fabric, item.recovery_fabric = old.recovery_fabric, old.fabric
        policy = request.policy_id.rstrip("/").rsplit("/", 1)[-1]
        item.policy = vault.policies[policy.lower()].name if policy.lower() in vault.policies else policy
        item.active_location = "Primary"
        item.protection_state = "UnprotectedStatesBegin"
        item.protection_state_description = "Reprotect in progress"
        item.source_vm_id = old.running_vm_id or old.source_vm_id
        item.running_vm_id = None
        item.recovery_rg_id = target_group
        item.recovery_avset_id = request.avset_id
        item.recovery_ppg_id = request.ppg_id
        item.scale_set_id = request.scale_set_id
        running_net = old.recovery_network_id
        mapping = next((m for m in vault.network_mappings if ids.same(m.primary_network_id, running_net)), None)
        back_net = mapping.recovery_network_id if mapping else (old.nics[0].network_id if old.nics else None)
        item.recovery_network_id = back_net
        running_vm = self.world.get(old.running_vm_id)
        nic_ids = [
            n["id"]
            for n in (running_vm.body["properties"]["networkProfile"]["networkInterfaces"] if running_vm else [])
        ]
        for index, nic in enumerate(item.nics):
            nic.source_nic_id = nic_ids[index] if index < len(nic_ids) else nic.source_nic_id
            nic.network_id, nic.recovery_network_id = running_net or nic.network_id, back_net
        moved = [self._moved_disk(old, d, target_group, job) for d in request.managed_disks + request.vm_disks]
        item.disks = [d for d in moved if d is not None]
        job.new_item_id = (
            f"/subscriptions/{vault.subscription}/resourceGroups/{vault.group}/providers/{ids.RSV}/{vault.name}"
            f"/replicationFabrics/{item.fabric}/replicationProtectionContainers/"
            f"{vault.fabrics[item.fabric.lower()].container}/replicationProtectedItems/{item.name}"
        )

    def _moved_disk(self, old: Item, wanted: DiskInput, target_group: str, job: Job) -> ItemDisk | None:
        if wanted.disk_uri:
            was = next(
                (
                    d
                    for d in old.disks
                    if d.recovery_disk_uri and d.recovery_disk_uri.lower() == wanted.disk_uri.lower()
                ),
                None,
            )
            if was is None:
                return None
            account = artifacts.target_account_id(job, wanted.disk_uri, wanted.recovery_account_id)
            return ItemDisk(
                name=was.name,
                disk_id="",
                size_gib=was.size_gib,
                disk_type=was.disk_type,
                sku=was.sku,
                changed_gib=was.changed_gib,
                throughput_mb_s=was.throughput_mb_s,
                recovery_rg_id=target_group,
                staging_account_id=wanted.staging_account_id,
                failover_disk_name=was.name,
                disk_uri=wanted.disk_uri,
                primary_account_id=was.recovery_account_id,
                recovery_disk_uri=sim.vhd_uri(account.rsplit("/", 1)[-1], was.name),
                recovery_account_id=account,
            )
        was = next((d for d in old.disks if ids.same(d.recovery_target_disk_id, wanted.disk_id)), None)
        if was is None or wanted.disk_id is None:
            return None
        group = (wanted.recovery_rg_id or target_group).strip("/").split("/")
        in_use = wanted.disk_id.rstrip("/").rsplit("/", 1)[-1]
        return ItemDisk(
            name=in_use,
            disk_id=wanted.disk_id,
            size_gib=was.size_gib,
            disk_type=was.disk_type,
            sku=was.target_sku or was.sku,
            changed_gib=was.changed_gib,
            throughput_mb_s=was.throughput_mb_s,
            recovery_rg_id=wanted.recovery_rg_id or target_group,
            recovery_target_disk_id=ids.resource_id(group[1], group[3], "Microsoft.Compute/disks", was.name),
            recovery_replica_disk_id=ids.resource_id(
                group[1], group[3], "Microsoft.Compute/disks", sim.replica_disk_name(was.name)
            ),
            replica_sku=wanted.replica_sku or was.sku,
            target_sku=wanted.target_sku or was.sku,
            staging_account_id=wanted.staging_account_id,
            failover_disk_name=was.name,
            primary_des_id=was.recovery_des_id,
            recovery_des_id=wanted.des_id,
            **_ade_fields(wanted.encryption or job.request.encryption if was.ade_secret else None),
        )

    # -- endings --------------------------------------------------------------------------------

    def _succeed(self, vault: Vault, job: Job, item: Item, at: float) -> None:
        item.running_vm_id = artifacts.recreate_vm(self.world, vault, item, job)
        job.removed.clear()
        finish(vault, job, "Succeeded", at)
        item.scenario_name, item.scenario_job_id, item.scenario_start = "None", None, None
        item.protection_state_description = "Initial replication in progress"
        item.allowed_operations = ["DisableProtection"]
        item.resync_start, item.resync_s = at, job.plan.resync_s
        item.last_failover_at = None
        item.failover_point_id = None
        self.world.resyncing.add((ids.key(_arm_vault(vault)), item.name.lower()))

    def _protected(self, item: Item, at: float) -> None:
        item.protection_state = item.protection_state_description = "Protected"
        item.allowed_operations = list(PROTECTED_OPERATIONS)
        item.protected_at = at
        item.resync_start = None

    def _fail(self, vault: Vault, job: Job, task_id: str, code: str, message: str | None, at: float) -> None:
        item = vault.items[job.item.lower()]
        ref = ids.parse(job.snapshot.source_vm_id)
        text = errors.job_error_text(
            code,
            message,
            vm=item.vm_name,
            group=ref.group if ref else "",
            location=self._target_location(vault, job),
        )
        error = JobError(code, text.message, text.possible_causes, text.recommended_action, task_id, at)
        task = job.task(task_id)
        task.state, task.end = "Failed", at
        task.start = task.start if task.start is not None else at
        task.errors.append(error)
        job.errors.append(error)
        finish(vault, job, "Failed", at)
        self._rollback(vault, job)

    def _rollback(self, vault: Vault, job: Job) -> None:
        """Back to failover committed with SwitchProtection allowed, under the original container; or, when
        the item had already moved and the leftovers mode says so, left where it is (see ``_leave_moved``)."""
        item = vault.items[job.item.lower()]
        mode = self.leftovers()
        if job.new_item_id is not None and mode != "restore":
            self._leave_moved(item, job, mode)
            return
        artifacts.rollback(self.world, job)
        restored = copy.deepcopy(job.snapshot)
        restored.artifacts, restored.last_job = item.artifacts, job.name
        restored.scenario_name, restored.scenario_job_id, restored.scenario_start = "None", None, None
        restored.protection_state = "UnplannedFailoverCommitted"
        restored.protection_state_description = "Failover committed"
        restored.allowed_operations = list(COMMITTED_OPERATIONS)
        vault.items[job.item.lower()] = restored
        job.new_item_id = None

    def _leave_moved(self, item: Item, job: Job, mode: str) -> None:
        """The item stays under the new container with its new id; what the job made or deleted stays too
        (seed blobs, replica disks, the deleted target-side VM). ``moved_switch``: SwitchProtection is
        allowed again there; ``moved_disable``: only DisableProtection."""
        item.leftover_snapshot = job.snapshot if item.leftover_snapshot is None else item.leftover_snapshot
        item.scenario_name, item.scenario_job_id, item.scenario_start = "None", None, None
        item.protection_state = "UnprotectedStatesBegin"
        item.protection_state_description = "Reprotect failed"
        item.allowed_operations = (
            ["DisableProtection", "SwitchProtection"] if mode == "moved_switch" else ["DisableProtection"]
        )
        item.last_job = job.name
        job.removed.clear()


def _ade_fields(info: dict[str, Any] | None) -> dict[str, str | None]:
    """The item's ADE fields after reprotect: the keys the request named for the way back."""
    dek, kek = (info or {}).get("diskEncryptionKeyInfo") or {}, (info or {}).get("keyEncryptionKeyInfo") or {}
    return {
        "ade_secret": dek.get("secretIdentifier"),
        "ade_vault_id": dek.get("keyVaultResourceArmId"),
        "ade_kek": kek.get("keyIdentifier"),
        "ade_kek_vault_id": kek.get("keyVaultResourceArmId"),
    }


def _arm_vault(vault: Vault) -> str:
    return ids.arm_vault_id(vault.subscription, vault.group, vault.name)
