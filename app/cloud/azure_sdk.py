"""The ``Cloud`` over the Azure SDK's management clients: turns SDK calls into typed answers.

Site Recovery calls go to the vault's subscription; reads of a VM, its disks, resource group and storage
go to the subscription in the resource's own id, through that provider's client (``app.cloud.clients``).
Real Azure (Entra ID credentials) and the local emulator (a static token over plain http) go through
the same code path; only the endpoint and the credential differ. Every SDK error leaves this module
as one of ``app.errors.CloudError``'s subclasses (``app.cloud.errors``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient
from azure.mgmt.storage.models import StorageAccountCheckNameAvailabilityParameters, StorageAccountCreateParameters

from app.cloud import drill_calls, failover_calls, listing, parse
from app.cloud.budget import ReadBudget
from app.cloud.clients import ManagementClients, build_credential
from app.cloud.errors import translated
from app.cloud.ids import (
    ItemRef,
    VaultRef,
    is_resource_group_id,
    name_of,
    parse_resource_id,
    resource_group_id_of,
    subscription_of,
)
from app.cloud.types import (
    AsrJob,
    AvailabilityStatus,
    ContainerMapping,
    Disk,
    DiskEncryptionSet,
    Fabric,
    NameAvailability,
    NetworkMapping,
    RecoveryPoint,
    ReplicatedItem,
    Resource,
    StorageAccount,
    StorageAccountSpec,
    SwitchProtectionSpec,
    TestFailoverSpec,
    UnplannedFailoverSpec,
    VirtualMachine,
    pick_item,
)
from app.errors import CloudPermanent, InvalidRequest
from app.settings import AzureSettings

# api-version for reads of resource types no dedicated client covers (generic ``resources.get_by_id``).
_GENERIC_API_VERSIONS = {"microsoft.network": "2024-05-01", "microsoft.keyvault": "2023-07-01"}
_DEFAULT_API_VERSION = "2021-04-01"


class AzureCloud:
    """``Cloud`` over the Azure SDK (one client per provider and subscription, built lazily)."""

    def __init__(self, settings: AzureSettings, *, retry_total: int = 0):
        self._settings = settings
        budget = ReadBudget(
            share=settings.read_budget_share,
            burst=settings.read_budget_burst,
            per_second=settings.read_budget_per_second,
        )
        self.clients = ManagementClients(
            settings, build_credential(settings), retry_total=retry_total, read_budget=budget
        )

    def client(self, subscription_id: str) -> SiteRecoveryManagementClient:
        """The Site Recovery client for one subscription."""
        return self.clients.site_recovery(subscription_id)

    def close(self) -> None:
        """Close every client's HTTP session."""
        self.clients.close()

    # -- Site Recovery --------------------------------------------------------------------------

    def get_item(self, ref: ItemRef) -> ReplicatedItem | None:
        ops = self.client(ref.vault.subscription_id).replication_protected_items
        with translated():
            try:
                model = ops.get(ref.vault.resource_group, ref.vault.name, ref.fabric, ref.container, ref.name)
            except ResourceNotFoundError:
                return None
        return parse.item(model.as_dict())

    def find_item(self, vault: VaultRef, vm_name: str) -> ReplicatedItem | None:
        return pick_item(self.list_items(vault), vm_name)

    def list_items(self, vault: VaultRef) -> list[ReplicatedItem]:
        ops = self.client(vault.subscription_id).replication_protected_items
        with translated():
            return [parse.item(model.as_dict()) for model in ops.list(vault.resource_group, vault.name)]

    def get_fabric(self, vault: VaultRef, fabric: str) -> Fabric | None:
        ops = self.client(vault.subscription_id).replication_fabrics
        with translated():
            try:
                model = ops.get(vault.resource_group, vault.name, fabric)
            except ResourceNotFoundError:
                return None
        return parse.fabric(model.as_dict())

    def container_mappings(self, vault: VaultRef) -> list[ContainerMapping]:
        ops = self.client(vault.subscription_id).replication_protection_container_mappings
        with translated():
            return [parse.container_mapping(m.as_dict()) for m in ops.list(vault.resource_group, vault.name)]

    def network_mappings(self, vault: VaultRef) -> list[NetworkMapping]:
        ops = self.client(vault.subscription_id).replication_network_mappings
        with translated():
            return [parse.network_mapping(m.as_dict()) for m in ops.list(vault.resource_group, vault.name)]

    def switch_protection(self, spec: SwitchProtectionSpec) -> str:
        ref = spec.item
        ops = self.client(ref.vault.subscription_id).replication_protection_containers
        captured: dict[str, str] = {}

        def remember_operation(response: Any) -> None:
            headers = response.http_response.headers
            captured["operation"] = headers.get("Azure-AsyncOperation") or headers.get("Location") or ""

        with translated():
            ops.begin_switch_protection(
                ref.vault.resource_group,
                ref.vault.name,
                ref.fabric,
                ref.container,
                parse.switch_protection_body(spec),
                polling=False,  # never block on Azure: the job's own steps poll the ASR job
                raw_response_hook=remember_operation,
            )
        try:
            return name_of(urlparse(captured.get("operation", "")).path)
        except InvalidRequest as exc:  # no Azure-AsyncOperation or Location header, or not an ARM path
            raise CloudPermanent(
                "Azure accepted switch protection but named no operation.", code="no_operation"
            ) from exc

    def test_failover(self, spec: TestFailoverSpec) -> str:
        return drill_calls.test_failover(self.client(spec.item.vault.subscription_id), spec)

    def test_failover_cleanup(self, item: ItemRef, comments: str) -> str:
        return drill_calls.test_failover_cleanup(self.client(item.vault.subscription_id), item, comments)

    def unplanned_failover(self, spec: UnplannedFailoverSpec) -> str:
        return failover_calls.unplanned_failover(self.client(spec.item.vault.subscription_id), spec)

    def failover_commit(self, item: ItemRef) -> str:
        return failover_calls.failover_commit(self.client(item.vault.subscription_id), item)

    def list_recovery_points(self, item: ItemRef) -> list[RecoveryPoint]:
        return drill_calls.recovery_points(self.client(item.vault.subscription_id), item)

    def get_job(self, vault: VaultRef, job_name: str) -> AsrJob | None:
        ops = self.client(vault.subscription_id).replication_jobs
        with translated():
            try:
                model = ops.get(vault.resource_group, vault.name, job_name)
            except ResourceNotFoundError:
                return None
        return parse.job(model.as_dict())

    def list_jobs(self, vault: VaultRef) -> list[AsrJob]:
        ops = self.client(vault.subscription_id).replication_jobs
        with translated():
            jobs = [parse.job(model.as_dict()) for model in ops.list(vault.resource_group, vault.name)]
        return sorted(jobs, key=lambda j: j.start_time or "", reverse=True)

    def cancel_job(self, vault: VaultRef, job_name: str) -> None:
        ops = self.client(vault.subscription_id).replication_jobs
        with translated():
            ops.begin_cancel(vault.resource_group, vault.name, job_name, polling=False)

    def restart_job(self, vault: VaultRef, job_name: str) -> None:
        ops = self.client(vault.subscription_id).replication_jobs
        with translated():
            ops.begin_restart(vault.resource_group, vault.name, job_name, polling=False)

    def list_vault_ids(self, subscription_id: str) -> list[str]:
        return listing.list_vault_ids(self.clients, subscription_id)

    # -- ARM reads, each through its provider's client in the resource's own subscription --------

    def get_resource(self, arm_id: str) -> Resource | None:
        if is_resource_group_id(arm_id):
            groups = self.clients.resources(subscription_of(arm_id)).resource_groups
            found = self._or_none(lambda: groups.get(name_of(arm_id)))
            return None if found is None else parse.resource(found)
        rid = parse_resource_id(arm_id)
        sub, group, name = rid.subscription_id, rid.resource_group, rid.name
        kind = f"{rid.provider}/{rid.type_path}".lower()
        if kind == "microsoft.storage/storageaccounts":
            found = self._or_none(lambda: self.clients.storage(sub).storage_accounts.get_properties(group, name))
        elif kind == "microsoft.compute/availabilitysets":
            found = self._or_none(lambda: self.clients.compute(sub).availability_sets.get(group, name))
        elif kind == "microsoft.compute/proximityplacementgroups":
            found = self._or_none(lambda: self.clients.compute(sub).proximity_placement_groups.get(group, name))
        elif kind == "microsoft.compute/disks":
            found = self._or_none(lambda: self.clients.compute(sub).disks.get(group, name))
        elif kind == "microsoft.compute/diskencryptionsets":
            found = self._or_none(lambda: self.clients.compute(sub).disk_encryption_sets.get(group, name))
        else:
            version = _GENERIC_API_VERSIONS.get(rid.provider.lower(), _DEFAULT_API_VERSION)
            found = self._or_none(lambda: self.clients.resources(sub).resources.get_by_id(arm_id, api_version=version))
        return None if found is None else parse.resource(found)

    def get_vm(self, arm_id: str) -> VirtualMachine | None:
        rid = parse_resource_id(arm_id)
        vms = self.clients.compute(rid.subscription_id).virtual_machines
        found = self._or_none(lambda: vms.get(rid.resource_group, rid.name))
        return None if found is None else parse.virtual_machine(found)

    def get_disk(self, arm_id: str) -> Disk | None:
        rid = parse_resource_id(arm_id)
        disks = self.clients.compute(rid.subscription_id).disks
        found = self._or_none(lambda: disks.get(rid.resource_group, rid.name))
        return None if found is None else parse.managed_disk(found)

    def get_disk_encryption_set(self, arm_id: str) -> DiskEncryptionSet | None:
        rid = parse_resource_id(arm_id)
        sets = self.clients.compute(rid.subscription_id).disk_encryption_sets
        found = self._or_none(lambda: sets.get(rid.resource_group, rid.name))
        return None if found is None else parse.disk_encryption_set(found)

    def list_vms(self, subscription_id: str) -> list[VirtualMachine]:
        vms = self.clients.compute(subscription_id).virtual_machines
        with translated():
            return [parse.virtual_machine(_json(vm)) for vm in vms.list_all()]

    def list_storage_accounts(self, resource_group_id: str) -> list[StorageAccount]:
        accounts = self.clients.storage(subscription_of(resource_group_id)).storage_accounts
        group = name_of(resource_group_id_of(resource_group_id))
        with translated():
            return [parse.storage_account(_json(a)) for a in accounts.list_by_resource_group(group)]

    def get_storage_account(self, arm_id: str) -> StorageAccount | None:
        rid = parse_resource_id(arm_id)
        accounts = self.clients.storage(rid.subscription_id).storage_accounts
        found = self._or_none(lambda: accounts.get_properties(rid.resource_group, rid.name))
        return None if found is None else parse.storage_account(found)

    def check_storage_account_name(self, subscription_id: str, name: str) -> NameAvailability:
        accounts = self.clients.storage(subscription_id).storage_accounts
        body = StorageAccountCheckNameAvailabilityParameters(name=name)
        with translated():
            return parse.name_availability(_json(accounts.check_name_availability(body)))

    def create_storage_account(self, spec: StorageAccountSpec) -> StorageAccount | None:
        rid = parse_resource_id(spec.id)
        accounts = self.clients.storage(rid.subscription_id).storage_accounts
        answered: dict[str, Any] = {}

        def remember_answer(response: Any) -> None:
            http = response.http_response
            answered["status"] = http.status_code
            answered["body"] = http.text() if http.status_code == 200 else ""

        with translated():
            # Storage answers 202 (Location, Retry-After) while it creates; the job reads the account again later.
            accounts.begin_create(
                rid.resource_group,
                rid.name,
                StorageAccountCreateParameters(parse.storage_account_body(spec)),
                polling=False,
                raw_response_hook=remember_answer,
            )
        if answered.get("status") == 200 and answered.get("body"):
            return parse.storage_account(json.loads(answered["body"]))
        return None

    def availability(self, arm_id: str) -> AvailabilityStatus | None:
        """Resource Health's current status of a resource, read in the resource's own subscription."""
        statuses = self.clients.resource_health(subscription_of(arm_id)).availability_statuses
        found = self._or_none(lambda: statuses.get_by_resource(arm_id.lstrip("/")))
        return None if found is None else parse.availability_status(found, arm_id)

    # -- Whole lists for fleet-scale reads (``app.cloud.snapshots``): one paged call each -------------

    def list_vault_items_for_checks(self, vault: VaultRef) -> list[ReplicatedItem]:
        """Every replicated item of the vault, every page (the SDK follows ``nextLink``)."""
        return self.list_items(vault)

    def list_subscription_vms(self, subscription_id: str) -> list[VirtualMachine]:
        """Every virtual machine of a subscription (``VirtualMachines_ListAll``), every page."""
        return self.list_vms(subscription_id)

    def list_subscription_availability(self, subscription_id: str) -> dict[str, AvailabilityStatus]:
        """Resource Health's current status of every resource of the subscription, by lowercase resource id."""
        statuses = self.clients.resource_health(subscription_id).availability_statuses
        found: dict[str, AvailabilityStatus] = {}
        with translated():
            for model in statuses.list_by_subscription_id():
                raw = _json(model)
                resource_id = _resource_of_status(str(raw.get("id") or ""))
                if resource_id:
                    found[resource_id.lower()] = parse.availability_status(raw, resource_id)
        return found

    def list_vault_jobs_started_since(self, vault: VaultRef, since: datetime) -> list[AsrJob]:
        """The vault's ASR jobs started at or after ``since``: ``$filter=StartTime eq '<ISO 8601 UTC>'`` as
        PowerShell's ``Get-AzRecoveryServicesAsrJob -StartTime`` sends it; every page."""
        ops = self.client(vault.subscription_id).replication_jobs
        moment = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
        with translated():
            models = ops.list(vault.resource_group, vault.name, filter=f"StartTime eq '{moment}'")
            jobs = [parse.job(model.as_dict()) for model in models]
        return sorted(jobs, key=lambda j: j.start_time or "", reverse=True)

    @staticmethod
    def _or_none(read: Any) -> dict[str, Any] | None:
        """The resource's JSON, or None when Azure answers 404."""
        with translated():
            try:
                return _json(read())
            except ResourceNotFoundError:
                return None


def _resource_of_status(status_id: str) -> str:
    """The resource an availability status belongs to (its id before ``/providers/Microsoft.ResourceHealth``)."""
    marker = "/providers/microsoft.resourcehealth/"
    at = status_id.lower().find(marker)
    return status_id[:at] if at > 0 else ""


def _json(model: Any) -> dict[str, Any]:
    """A management SDK model as its wire JSON (camelCase, as ``app.cloud.parse`` reads it)."""
    found: dict[str, Any] = model.as_dict() if hasattr(model, "as_dict") else dict(model)
    return found
