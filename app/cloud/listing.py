"""Vault discovery: the Recovery Services vaults of a subscription (``Vaults_ListBySubscriptionId``), every page,
through the resource client's SDK pipeline (credential, retries, read budget); the inventory watches them.
"""

from __future__ import annotations

from typing import Any

from azure.core.rest import HttpRequest

from app.cloud.clients import ManagementClients
from app.cloud.errors import translated

# Recovery Services vaults (Microsoft.RecoveryServices stable api-version of the vaults resource).
VAULTS_API_VERSION = "2024-04-01"
_MAX_VAULT_PAGES = 1000  # a runaway nextLink chain must end


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
