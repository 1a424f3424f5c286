"""Pure parsing and building of ARM resource ids (case-insensitive, as ARM is)."""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import InvalidRequest
from app.scopes import any_case, arm_path

_PROVIDER = "providers/microsoft.recoveryservices/vaults"


_SEGMENT = r"[\w()-][\w().-]*"
_VAULT = (
    rf"/[Ss]ubscriptions/[\w-]+/{any_case('resourceGroups')}/{_SEGMENT}/{any_case('providers')}"
    rf"/{any_case('Microsoft.RecoveryServices')}/{any_case('vaults')}/{_SEGMENT}"
)
# The shapes parse_vault_id and parse_item_id accept, for the API document.
VAULT_ID_PATTERN = rf"^{_VAULT}(/{_SEGMENT})*$"
VIRTUAL_NETWORK_ID_PATTERN = (
    rf"^/[Ss]ubscriptions/[\w-]+/{any_case('resourceGroups')}/{_SEGMENT}/{any_case('providers')}"
    rf"/{any_case('Microsoft.Network')}/{any_case('virtualNetworks')}/{_SEGMENT}$"
)
ITEM_ID_PATTERN = (
    rf"^{_VAULT}/{any_case('replicationFabrics')}/{_SEGMENT}/{any_case('replicationProtectionContainers')}"
    rf"/{_SEGMENT}/{any_case('replicationProtectedItems')}/{_SEGMENT}$"
)


@dataclass(frozen=True)
class VaultRef:
    """A Recovery Services vault."""

    subscription_id: str
    resource_group: str
    name: str

    @property
    def id(self) -> str:
        """The vault's ARM id."""
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.RecoveryServices/vaults/{self.name}"
        )

    @property
    def key(self) -> str:
        """Case-folded id, for comparisons and indexes."""
        return self.id.lower()

    def job_id(self, job_name: str) -> str:
        """The ARM id of one of the vault's ASR jobs."""
        return f"{self.id}/replicationJobs/{job_name}"


@dataclass(frozen=True)
class ItemRef:
    """A replicated (protected) item: a VM under a fabric and protection container of a vault."""

    vault: VaultRef
    fabric: str
    container: str
    name: str

    @property
    def id(self) -> str:
        """The item's ARM id."""
        return (
            f"{self.vault.id}/replicationFabrics/{self.fabric}"
            f"/replicationProtectionContainers/{self.container}/replicationProtectedItems/{self.name}"
        )

    @property
    def container_id(self) -> str:
        """The ARM id of the protection container holding the item."""
        return f"{self.vault.id}/replicationFabrics/{self.fabric}/replicationProtectionContainers/{self.container}"


@dataclass(frozen=True)
class ResourceRef:
    """Any ARM resource: subscription, resource group, provider type path and name."""

    subscription_id: str
    resource_group: str
    provider: str
    type_path: str
    name: str

    @property
    def resource_group_id(self) -> str:
        """The ARM id of the resource's resource group."""
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"


def _segments(arm_id: str) -> list[str]:
    parts = arm_path(arm_id)
    if parts is None:
        raise InvalidRequest(f"'{arm_id}' is not an Azure resource id.", code="invalid_resource_id")
    return list(parts)


def parse_vault_id(arm_id: str) -> VaultRef:
    """Parse ``/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.RecoveryServices/vaults/{v}``."""
    parts = _segments(arm_id)
    if len(parts) < 8 or parts[2].lower() != "resourcegroups" or "/".join(parts[4:7]).lower() != _PROVIDER:
        raise InvalidRequest(f"'{arm_id}' is not a Recovery Services vault id.", code="invalid_vault_id")
    return VaultRef(subscription_id=parts[1], resource_group=parts[3], name=parts[7])


def parse_item_id(arm_id: str) -> ItemRef:
    """Parse a replicated item's id.

    Shape: ``{vault}/replicationFabrics/{f}/replicationProtectionContainers/{c}/replicationProtectedItems/{i}``.
    """
    parts = _segments(arm_id)
    shape = [p.lower() for p in parts[8:14:2]]
    expected = ["replicationfabrics", "replicationprotectioncontainers", "replicationprotecteditems"]
    if len(parts) != 14 or shape != expected:
        raise InvalidRequest(
            f"'{arm_id}' is not a replicated item id (…/replicationFabrics/…/replicationProtectionContainers/…"
            "/replicationProtectedItems/…).",
            code="invalid_item_id",
        )
    vault = parse_vault_id("/" + "/".join(parts[:8]))
    return ItemRef(vault=vault, fabric=parts[9], container=parts[11], name=parts[13])


def parse_resource_id(arm_id: str) -> ResourceRef:
    """Parse a plain resource id: ``/subscriptions/{s}/resourceGroups/{g}/providers/{ns}/{type}/{name}``."""
    parts = _segments(arm_id)
    if len(parts) < 8 or parts[2].lower() != "resourcegroups" or parts[4].lower() != "providers":
        raise InvalidRequest(f"'{arm_id}' is not an Azure resource id.", code="invalid_resource_id")
    return ResourceRef(
        subscription_id=parts[1],
        resource_group=parts[3],
        provider=parts[5],
        type_path="/".join(parts[6:-1]),
        name=parts[-1],
    )


def name_of(arm_id: str) -> str:
    """The last name of any ARM id: a resource's, a resource group's, an ASR job's (from its id or URL path)."""
    return _segments(arm_id)[-1]


def subscription_of(arm_id: str) -> str:
    """The subscription an ARM id lies in."""
    return _segments(arm_id)[1]


def subscription_id_of(subscription_id: str) -> str:
    """A subscription's own ARM id: the scope of subscription-wide lists."""
    return f"/subscriptions/{subscription_id}"


def is_resource_group_id(arm_id: str) -> bool:
    """Whether ``arm_id`` names a resource group itself (``/subscriptions/{s}/resourceGroups/{g}``)."""
    parts = _segments(arm_id)
    return len(parts) == 4 and parts[2].lower() == "resourcegroups"


def resource_group_id_of(arm_id: str) -> str:
    """The resource group an ARM id lies in (the id itself for a resource group)."""
    parts = _segments(arm_id)
    if len(parts) < 4 or parts[2].lower() != "resourcegroups":
        raise InvalidRequest(f"'{arm_id}' does not lie in a resource group.", code="invalid_resource_id")
    return "/" + "/".join(parts[:4])


def parent_of(arm_id: str) -> str:
    """The id one type/name pair up: a container mapping's container, a disk's resource group's provider path."""
    parts = _segments(arm_id)
    if len(parts) < 4:
        raise InvalidRequest(f"'{arm_id}' has no parent resource.", code="invalid_resource_id")
    return "/" + "/".join(parts[:-2])


def storage_account_id(resource_group_id: str, name: str) -> str:
    """The ARM id of a storage account in a resource group."""
    return f"{resource_group_id_of(resource_group_id)}/providers/Microsoft.Storage/storageAccounts/{name}"


def same_id(a: str | None, b: str | None) -> bool:
    """ARM ids compare case-insensitively."""
    return a is not None and b is not None and a.strip("/").lower() == b.strip("/").lower()
