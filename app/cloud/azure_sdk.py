"""The ``Cloud`` over the official Site Recovery SDK: builds the clients and turns SDK calls into typed answers.

Real Azure (Entra ID credentials) and the local emulator (a static token over plain http) go through
the same code path; only the endpoint and the credential differ. Every SDK error leaves this module
as one of ``app.errors.CloudError``'s subclasses (``app.cloud.errors``).
"""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import urlparse

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import ResourceNotFoundError
from azure.core.pipeline.policies import BearerTokenCredentialPolicy
from azure.core.rest import HttpRequest
from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient

from app.cloud import parse
from app.cloud.errors import translated
from app.cloud.ids import (
    ItemRef,
    VaultRef,
    is_resource_group_id,
    name_of,
    parse_resource_id,
    subscription_id_of,
    subscription_of,
)
from app.cloud.types import (
    AsrJob,
    ContainerMapping,
    Fabric,
    NetworkMapping,
    ReplicatedItem,
    Resource,
    SwitchProtectionSpec,
    VirtualMachine,
)
from app.errors import CloudPermanent, InvalidRequest
from app.settings import AzureMode, AzureSettings

ARM_SCOPE = "https://management.azure.com/.default"

# api-versions of the plain ARM reads, by resource provider.
_API_VERSIONS = {
    "microsoft.compute": "2024-07-01",
    "microsoft.storage": "2023-05-01",
    "microsoft.network": "2024-05-01",
    "resourcegroups": "2021-04-01",
}


class StaticTokenCredential:
    """A fixed bearer token: what the emulator accepts. Never used against real Azure."""

    def __init__(self, token: str):
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)


class LocalHttpBearerPolicy(BearerTokenCredentialPolicy):  # type: ignore[type-arg]
    """Bearer auth that also allows plain http: only ever built for the local emulator."""

    def on_request(self, request: Any) -> None:
        # azure-core reads this per request; the constructor keyword is not honoured by every version.
        request.context["enforce_https"] = False
        super().on_request(request)


def build_credential(settings: AzureSettings) -> TokenCredential:
    """The credential for ``settings``: a static token for the emulator, Entra ID for Azure."""
    if settings.mode == AzureMode.EMULATOR:
        return StaticTokenCredential(settings.local_token.get_secret_value())
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if settings.credential == "managed_identity":
        return ManagedIdentityCredential(client_id=settings.managed_identity_client_id)
    return DefaultAzureCredential(managed_identity_client_id=settings.managed_identity_client_id)


class AzureCloud:
    """``Cloud`` over the official Site Recovery SDK (one client per subscription, built lazily)."""

    def __init__(self, settings: AzureSettings, *, retry_total: int = 0):
        self._settings = settings
        self._retry_total = retry_total
        self._credential = build_credential(settings)
        self._clients: dict[str, SiteRecoveryManagementClient] = {}
        self._lock = threading.Lock()

    def client(self, subscription_id: str) -> SiteRecoveryManagementClient:
        """The SDK client for one subscription."""
        key = subscription_id.lower()
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._build_client(subscription_id)
            return self._clients[key]

    def _build_client(self, subscription_id: str) -> SiteRecoveryManagementClient:
        kwargs: dict[str, Any] = {
            "retry_total": self._retry_total,
            "connection_timeout": min(10.0, self._settings.request_timeout_seconds),
            "read_timeout": self._settings.request_timeout_seconds,
        }
        if self._settings.mode == AzureMode.EMULATOR:
            kwargs["base_url"] = self._settings.endpoint.rstrip("/")
            # The default policy refuses plain http; the emulator is local, so allow it there only.
            kwargs["authentication_policy"] = LocalHttpBearerPolicy(self._credential, ARM_SCOPE)
        return SiteRecoveryManagementClient(self._credential, subscription_id, **kwargs)

    def close(self) -> None:
        """Close every client's HTTP session."""
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

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
        wanted = vm_name.lower()
        return next((i for i in self.list_items(vault) if wanted in (i.ref.name.lower(), i.vm_name.lower())), None)

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

    # -- plain ARM reads ------------------------------------------------------------------------

    def get_resource(self, arm_id: str) -> Resource | None:
        found = self._arm_get(subscription_of(arm_id), arm_id)
        return None if found is None else parse.resource(found)

    def get_vm(self, arm_id: str) -> VirtualMachine | None:
        found = self._arm_get(subscription_of(arm_id), arm_id)
        return None if found is None else parse.virtual_machine(found)

    def list_vms(self, subscription_id: str) -> list[VirtualMachine]:
        scope = subscription_id_of(subscription_id)
        return [parse.virtual_machine(raw) for raw in self._list(scope, "Microsoft.Compute/virtualMachines")]

    def list_storage_accounts(self, resource_group_id: str) -> list[Resource]:
        return [parse.resource(raw) for raw in self._list(resource_group_id, "Microsoft.Storage/storageAccounts")]

    def _list(self, scope_id: str, resource_type: str) -> list[dict[str, Any]]:
        url: str | None = f"{scope_id.rstrip('/')}/providers/{resource_type}"
        found: list[dict[str, Any]] = []
        while url:
            page = self._arm_get(subscription_of(scope_id), url, api_version=_api_version(resource_type))
            if page is None:
                return found
            found.extend(page.get("value", []))
            url = page.get("nextLink")
        return found

    def _arm_get(self, subscription: str, url: str, *, api_version: str | None = None) -> dict[str, Any] | None:
        version = api_version or _api_version_for_id(url)
        params = {} if "api-version=" in url else {"api-version": version}
        request = HttpRequest("GET", url, params=params)
        with translated():
            response = self.client(subscription).send_request(request)
            if response.status_code == 404:
                return None
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            return body


def _api_version(resource_type: str) -> str:
    return _API_VERSIONS.get(resource_type.split("/", 1)[0].lower(), "2021-04-01")


def _api_version_for_id(arm_id: str) -> str:
    if is_resource_group_id(arm_id):
        return _API_VERSIONS["resourcegroups"]
    return _api_version(parse_resource_id(arm_id).provider)
