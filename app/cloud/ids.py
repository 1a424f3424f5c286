"""Pure parsing and building of ARM resource ids (case-insensitive, as ARM is)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.errors import InvalidRequest

_PROVIDER = "providers/microsoft.recoveryservices/vaults"


def any_case(word: str) -> str:
    """A regex for ``word`` in any letter case (JSON Schema patterns have no case-insensitive flag)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


_SEGMENT = r"[\w()-][\w().-]*"
_VAULT = (
    rf"/[Ss]ubscriptions/[\w-]+/{any_case('resourceGroups')}/{_SEGMENT}/{any_case('providers')}"
    rf"/{any_case('Microsoft.RecoveryServices')}/{any_case('vaults')}/{_SEGMENT}"
)
# The shapes parse_vault_id and parse_item_id accept, for the API document.
VAULT_ID_PATTERN = rf"^{_VAULT}(/{_SEGMENT})*$"
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
    parts = [p for p in arm_id.strip().split("/") if p]
    if len(parts) < 2 or parts[0].lower() != "subscriptions":
        raise InvalidRequest(f"'{arm_id}' is not an Azure resource id.", code="invalid_resource_id")
    return parts


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


def same_id(a: str | None, b: str | None) -> bool:
    """ARM ids compare case-insensitively."""
    return a is not None and b is not None and a.strip("/").lower() == b.strip("/").lower()
