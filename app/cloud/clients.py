"""The Azure SDK's management clients: one per provider and subscription, for the configured cloud.

Site Recovery, Compute, Storage, Resources and Resource Health each have their own client; all share one
credential, one timeout policy and, for the local emulator, its address and a bearer policy that allows
plain http. ``REPROTECT_AZURE__CLOUD`` picks the sovereign cloud: the SDK's own ``AzureClouds`` table
gives each client its ARM endpoint and token scope, and Entra ID sign-in goes to that cloud's authority.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from azure.core import AzureClouds
from azure.core.credentials import AccessToken, TokenCredential
from azure.core.pipeline.policies import BearerTokenCredentialPolicy
from azure.core.pipeline.transport import HttpTransport
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.core.tools import get_arm_endpoints
from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resourcehealth import ResourceHealthMgmtClient
from azure.mgmt.storage import StorageManagementClient

from app.cloud.budget import ReadBudget, ReadBudgetPolicy
from app.metrics.azure import AzureCallMetrics
from app.settings import AzureCloudName, AzureMode, AzureSettings

_CLOUDS = {
    AzureCloudName.PUBLIC: AzureClouds.AZURE_PUBLIC_CLOUD,
    AzureCloudName.CHINA: AzureClouds.AZURE_CHINA_CLOUD,
    AzureCloudName.US_GOVERNMENT: AzureClouds.AZURE_US_GOVERNMENT,
}
# Entra ID authorities per cloud (azure.identity.AzureAuthorityHosts).
_AUTHORITIES = {
    AzureCloudName.PUBLIC: "login.microsoftonline.com",
    AzureCloudName.CHINA: "login.chinacloudapi.cn",
    AzureCloudName.US_GOVERNMENT: "login.microsoftonline.us",
}

Client = TypeVar("Client")


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


def arm_endpoint(settings: AzureSettings) -> str:
    """The ARM endpoint the clients call: the emulator's address, or the configured cloud's."""
    if settings.mode == AzureMode.EMULATOR:
        return settings.endpoint.rstrip("/")
    return str(get_arm_endpoints(_CLOUDS[settings.cloud])["resource_manager"]).rstrip("/")


def arm_scope(settings: AzureSettings) -> str:
    """The token scope for ARM in the configured cloud."""
    return str(get_arm_endpoints(_CLOUDS[settings.cloud])["credential_scopes"][0])


def build_credential(settings: AzureSettings) -> TokenCredential:
    """The credential for ``settings``: a static token for the emulator, Entra ID for Azure."""
    if settings.mode == AzureMode.EMULATOR:
        return StaticTokenCredential(settings.local_token.get_secret_value())
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    authority = _AUTHORITIES[settings.cloud]
    if settings.credential == "managed_identity":
        return ManagedIdentityCredential(client_id=settings.managed_identity_client_id)
    return DefaultAzureCredential(authority=authority, managed_identity_client_id=settings.managed_identity_client_id)


class ManagementClients:
    """Lazily built SDK clients, one per (provider, subscription), closed together."""

    def __init__(
        self,
        settings: AzureSettings,
        credential: TokenCredential,
        *,
        retry_total: int = 0,
        transport: HttpTransport | None = None,  # type: ignore[type-arg]
        read_budget: ReadBudget | None = None,
    ):
        self._settings = settings
        # Every client's GETs keep to this share of the subscription's ARM read budget (None: unpaced).
        self.read_budget = read_budget
        self._transport = transport
        self._credential = credential
        self._retry_total = retry_total
        self._clients: dict[tuple[Any, str], Any] = {}
        self._lock = threading.Lock()

    def site_recovery(self, subscription_id: str) -> SiteRecoveryManagementClient:
        """Site Recovery (vault-scoped calls go to the vault's subscription)."""
        return self._get(SiteRecoveryManagementClient, subscription_id)

    def compute(self, subscription_id: str) -> ComputeManagementClient:
        """Compute: virtual machines, disks, availability sets, proximity placement groups."""
        return self._get(ComputeManagementClient, subscription_id)

    def storage(self, subscription_id: str) -> StorageManagementClient:
        """Storage accounts."""
        return self._get(StorageManagementClient, subscription_id)

    def resources(self, subscription_id: str) -> ResourceManagementClient:
        """Resource groups and generic resources by id."""
        return self._get(ResourceManagementClient, subscription_id)

    def resource_health(self, subscription_id: str) -> ResourceHealthMgmtClient:
        """Resource Health availability statuses."""
        return self._get(ResourceHealthMgmtClient, subscription_id)

    def _get(self, kind: Callable[..., Client], subscription_id: str) -> Client:
        key = (kind, subscription_id.lower())
        with self._lock:
            if key not in self._clients:
                self._clients[key] = kind(self._credential, subscription_id, **self._options())
            client: Client = self._clients[key]
            return client

    def _options(self) -> dict[str, Any]:
        settings = self._settings
        options: dict[str, Any] = {
            "retry_total": self._retry_total,
            "connection_timeout": min(10.0, settings.request_timeout_seconds),
            "read_timeout": settings.request_timeout_seconds,
            "cloud_setting": _CLOUDS[settings.cloud],
        }
        options["per_retry_policies"] = [AzureCallMetrics()]  # every request to Azure, by operation and status
        if self._transport is not None:
            options["transport"] = self._transport
        if self.read_budget is not None:
            options["custom_hook_policy"] = ReadBudgetPolicy(self.read_budget)
        if settings.mode == AzureMode.EMULATOR:
            options["base_url"] = arm_endpoint(settings)
            # The default policy refuses plain http; the emulator is local, so allow it there only.
            options["authentication_policy"] = LocalHttpBearerPolicy(self._credential, arm_scope(settings))
        return options

    def close(self) -> None:
        """Close every client's HTTP session."""
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
