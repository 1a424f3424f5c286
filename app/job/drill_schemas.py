"""API shapes of the drill kinds: what callers send to ``POST /drills`` and ``POST /drills/{id}/cleanup``.

The answer is a request like ``POST /reprotect``'s (``ReprotectAccepted``): its jobs carry ``kind``.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator

from app.cloud.ids import ITEM_ID_PATTERN, VAULT_ID_PATTERN, VIRTUAL_NETWORK_ID_PATTERN
from app.job.schemas import _NAMES_ONE_VM, ARM_ID, Strict

# "latest" (the latest processed point: the SDK sends null), "latest_app_consistent", or a recovery point's id.
RECOVERY_POINT = r"^(latest|latest_app_consistent|/[Ss]ubscriptions/[\w-]+(/[\w()-][\w().-]*)+/recoveryPoints/[\w-]+)$"


class DrillVm(Strict):
    """One VM to drill: its replicated item's id, or its vault plus the VM name."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_NAMES_ONE_VM)

    item_id: str | None = Field(
        default=None, min_length=10, max_length=800, pattern=ARM_ID, json_schema_extra={"pattern": ITEM_ID_PATTERN}
    )
    vault_id: str | None = Field(
        default=None, min_length=10, max_length=400, pattern=ARM_ID, json_schema_extra={"pattern": VAULT_ID_PATTERN}
    )
    vm_name: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^[^/\\]+$")

    @model_validator(mode="after")
    def _names_one_vm(self) -> DrillVm:
        if self.item_id is None and (self.vault_id is None or self.vm_name is None):
            raise ValueError("name the VM by item_id, or by vault_id plus vm_name")
        if self.item_id is not None and (self.vault_id is not None or self.vm_name is not None):
            raise ValueError("give either item_id, or vault_id plus vm_name, not both")
        return self

    @property
    def label(self) -> str:
        """How the VM is named in messages."""
        return self.item_id or f"{self.vault_id}/{self.vm_name}"


class DrillIn(Strict):
    """Body of ``POST /drills``: a test failover of 1-100 protected VMs into an isolated network."""

    vms: list[DrillVm] = Field(min_length=1, max_length=100)
    test_network_id: str = Field(
        min_length=10,
        max_length=800,
        pattern=VIRTUAL_NETWORK_ID_PATTERN,
        description="the isolated virtual network in the recovery region the test VMs are created in",
    )
    recovery_point: str = Field(
        default="latest",
        max_length=900,
        pattern=RECOVERY_POINT,
        description="latest (the latest processed point), latest_app_consistent, or a recovery point's id",
    )


class DrillCleanupIn(Strict):
    """Body of ``POST /drills/{request_id}/cleanup``: the operator's notes on the drill."""

    comments: str = Field(default="", max_length=1024, description="kept with the test failover in the vault")


class FailoverIn(Strict):
    """Body of ``POST /failovers``: an unplanned failover of 1-100 protected VMs, the source shut down first."""

    vms: list[DrillVm] = Field(min_length=1, max_length=100)
    recovery_point: str = Field(
        default="latest",
        max_length=900,
        pattern=RECOVERY_POINT,
        description="latest (the latest processed point), latest_app_consistent, or a recovery point's id",
    )
