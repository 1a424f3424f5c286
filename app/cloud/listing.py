"""Fleet-scale reads: a vault's replicated items in one paged list, and the vaults of a subscription.

``ReplicationProtectedItems_List`` (``GET {vault}/replicationProtectedItems``) answers every item of the vault,
page by page; the SDK's pager follows each page's ``nextLink`` until it is null, so one call here is one list
however many VMs the vault holds, never one read per VM. Vault discovery lists the subscription's
``Microsoft.RecoveryServices/vaults`` (``Vaults_ListBySubscriptionId``) through the same SDK pipeline.
"""

from __future__ import annotations

from typing import Any

from azure.core.rest import HttpRequest

from app.cloud import parse
from app.cloud.clients import ManagementClients
from app.cloud.errors import translated
from app.cloud.ids import parse_vault_id
from app.cloud.types import ReplicatedItem

# Recovery Services vaults (Microsoft.RecoveryServices stable api-version of the vaults resource).
VAULTS_API_VERSION = "2024-04-01"
_MAX_VAULT_PAGES = 1000  # a runaway nextLink chain must end


def list_replicated_items(clients: ManagementClients, vault_id: str) -> list[ReplicatedItem]:
    """Every replicated item of the vault, read with one paged list call."""
    vault = parse_vault_id(vault_id)
    ops = clients.site_recovery(vault.subscription_id).replication_protected_items
    with translated():
        return [parse.item(model.as_dict()) for model in ops.list(vault.resource_group, vault.name)]


def list_vault_ids(clients: ManagementClients, subscription_id: str) -> list[str]:
    """The ARM ids of the Recovery Services vaults in a subscription (every page)."""
    client = clients.resources(subscription_id)
    url: str | None = (
        f"/subscriptions/{subscription_id}/providers/Microsoft.RecoveryServices/vaults?api-version={VAULTS_API_VERSION}"
    )
    found: list[str] = []
    with translated():
        for _ in range(_MAX_VAULT_PAGES):
            if url is None:
                break
            response = client.send_request(HttpRequest("GET", url))
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            found += [str(v["id"]) for v in body.get("value") or [] if isinstance(v, dict) and v.get("id")]
            url = body.get("nextLink") or None
    return sorted(set(found), key=str.lower)
