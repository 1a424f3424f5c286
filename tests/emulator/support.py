"""Helpers for the emulator tests: the real SDK client over plain http, and demo ids and bodies."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from azure.core.credentials import AccessToken
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import BearerTokenCredentialPolicy
from azure.core.rest import HttpRequest, HttpResponse
from azure.core.utils import case_insensitive_dict
from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient

from cli.stack import free_port

ARM_SCOPE = "https://management.azure.com/.default"
# The demo's cache account in Southeast Asia (where the committed VMs run now): switch protection names it.
DEMO_CACHE = (
    "/subscriptions/{sub}/resourceGroups/contoso-db-rg-asr/providers/Microsoft.Storage/storageAccounts/"
    "k3v9qpcontosodrvasrcache"
)


class StaticToken:
    """A local credential: the emulator accepts any bearer token."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("local-dev-token", int(time.time()) + 3600)


class LocalBearerTokenPolicy(BearerTokenCredentialPolicy):
    """Bearer auth over plain http. azure-core 1.41 reads ``enforce_https`` from each request's options
    (the constructor keyword is ignored), so the policy sets it per request."""

    def on_request(self, request: PipelineRequest) -> None:  # type: ignore[override]
        request.context.options["enforce_https"] = False
        super().on_request(request)


def sdk_client(url: str, subscription_id: str, **kwargs: Any) -> SiteRecoveryManagementClient:
    """The unmodified SDK pointed at the emulator (``retry_total=0`` unless given)."""
    credential = StaticToken()
    kwargs.setdefault("retry_total", 0)
    return SiteRecoveryManagementClient(
        credential,
        subscription_id,
        base_url=url,
        authentication_policy=LocalBearerTokenPolicy(credential, ARM_SCOPE),
        **kwargs,
    )


def asr_code(error: Any) -> str:
    """ASR's own code in a refusal: real Site Recovery puts it in ``error.details[0]`` under a generic code."""
    details = error.error.details if error.error is not None else None
    assert details, f"no ASR details under {error.error.code if error.error else None!r}"
    return str(details[0].code)


def arm_get(client: SiteRecoveryManagementClient, path: str, **params: str) -> HttpResponse:
    """A plain ARM GET through the SDK's pipeline."""
    params.setdefault("api-version", "2024-07-01")
    return client.send_request(HttpRequest("GET", path, params=params))


@dataclass
class Demo:
    """The demo vault's ids, read from ``/_emulator/scenario``."""

    sub: str
    rg: str
    vault: str
    vault_id: str
    ea_fabric: str
    ea_container: str
    ea_container_id: str
    sea_fabric: str
    sea_container: str
    sea_container_id: str
    items: dict[str, dict[str, Any]]

    @property
    def back_policy_id(self) -> str:
        """The policy of the Southeast Asia -> East Asia container mapping."""
        return f"{self.vault_id}/replicationPolicies/24-hour-retention-policy-failback"

    def group_id(self, group: str) -> str:
        """A resource group id in the demo subscription."""
        return f"/subscriptions/{self.sub}/resourceGroups/{group}"


def demo_ids(admin: httpx.Client) -> Demo:
    """The demo vault as the admin API describes it."""
    return vault_ids(admin.get("/_emulator/scenario").json()["subscriptions"][0]["vaults"][0])


def vault_ids(vault: dict[str, Any]) -> Demo:
    """A vault of the admin API's scenario answer, with its East Asia and Southeast Asia fabrics."""
    fabrics = {f["location"]: f for f in vault["fabrics"]}
    ea, sea = fabrics["eastasia"], fabrics["southeastasia"]
    return Demo(
        sub=vault["id"].split("/")[2],
        rg=vault["resource_group"],
        vault=vault["name"],
        vault_id=vault["id"],
        ea_fabric=ea["name"],
        ea_container=ea["containers"][0].rsplit("/", 1)[-1],
        ea_container_id=ea["containers"][0],
        sea_fabric=sea["name"],
        sea_container=sea["containers"][0].rsplit("/", 1)[-1],
        sea_container_id=sea["containers"][0],
        items={i["vm_name"]: i for i in vault["items"]},
    )


def switch_body(
    demo: Demo,
    item: dict[str, Any],
    *,
    cache: str | None = None,
    target_group: str | None = None,
    **details: Any,
) -> dict[str, Any]:
    """SwitchProtectionInput as Azure PowerShell builds it, from the item's ARM JSON (camelCase)."""
    props = item["properties"]
    a2a = props["providerSpecificDetails"]
    # The VM's own subscription, which is the vault's except under a central vault.
    running_sub = a2a["recoveryFabricObjectId"].split("/")[2]
    source_sub, source_group = a2a["fabricObjectId"].split("/")[2:5:2]
    target = target_group or f"/subscriptions/{source_sub}/resourceGroups/{source_group}"
    cache_id = cache or DEMO_CACHE.format(sub=running_sub)  # Site Recovery needs an existing one
    disks = [
        {
            "diskId": d["recoveryTargetDiskId"],
            "primaryStagingAzureStorageAccountId": cache_id,
            "recoveryResourceGroupId": target,
            "recoveryReplicaDiskAccountType": d["recoveryReplicaDiskAccountType"],
            "recoveryTargetDiskAccountType": d["recoveryTargetDiskAccountType"],
        }
        for d in a2a["protectedManagedDisks"]
    ]
    return {
        "properties": {
            "replicationProtectedItemName": item["name"],
            "providerSpecificDetails": {
                "instanceType": "A2A",
                "recoveryContainerId": demo.ea_container_id,
                "policyId": demo.back_policy_id,
                "recoveryResourceGroupId": target,
                "vmDisks": [],
                "vmManagedDisks": disks,
                **details,
            },
        }
    }


def advance(admin: httpx.Client, seconds: float) -> float:
    """Jump the emulator's simulated clock; the new simulated now."""
    answer = admin.post("/_emulator/advance", json={"seconds": seconds})
    answer.raise_for_status()
    return float(answer.json()["now"])


def item_json(client: SiteRecoveryManagementClient, demo: Demo, name: str, *, east: bool = True) -> dict[str, Any]:
    """An item's ARM JSON (by VM name) from its East Asia (or Southeast Asia) container."""
    name = demo.items[name]["name"] if name in demo.items else name
    fabric, container = (demo.ea_fabric, demo.ea_container) if east else (demo.sea_fabric, demo.sea_container)
    model = client.replication_protected_items.get(demo.rg, demo.vault, fabric, container, name)
    return dict(model.as_dict())


def submit(client: SiteRecoveryManagementClient, demo: Demo, body: dict[str, Any]) -> Any:
    """POST switchprotection to the East Asia container without polling; the 202's headers (any case)."""
    headers: Any = case_insensitive_dict()
    client.replication_protection_containers.begin_switch_protection(
        demo.rg,
        demo.vault,
        demo.ea_fabric,
        demo.ea_container,
        body,
        polling=False,
        raw_response_hook=lambda response: headers.update(response.http_response.headers),
    )
    return headers


def job_name_of(headers: Any) -> str:
    """The ASR job behind an LRO (the last segment of Azure-AsyncOperation)."""
    return headers["Azure-AsyncOperation"].split("?", 1)[0].rsplit("/", 1)[-1]


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a thread of this process (real HTTP); yields its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
