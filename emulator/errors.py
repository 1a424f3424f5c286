"""ARM and ASR error bodies: one exception carrying status, code and text, and the ASR codes we chose.

ARM's own errors are ``{"error": {code, message}}``. A synchronous ASR refusal comes, as from real Site
Recovery, in ARM's envelope with a generic top-level code for the status (``BadRequest``, ``Conflict``, ...)
and ASR's code, causes and action inside ``error.details[]`` (README.md: "Error envelope", with sources).
Synchronous ASR refusals use numeric codes in a block we picked (28053-28060, 28081-28082); job failures use real
ASR-style six-digit codes. README.md lists them all.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

# Synchronous refusals of the ASR front end (emulator's choice of numbers, stable).
NOT_ALLOWED = "28053"
OPERATION_IN_PROGRESS = "28054"
WRONG_CONTAINER = "28055"
POLICY_NOT_MAPPED = "28056"
DISK_NOT_ATTACHED = "28057"
ACTION_NOT_ALLOWED = "28058"
TARGET_GROUP_NOT_CHANGEABLE = "28059"
ENCRYPTION_DETAILS_INVALID = "28060"  # encrypted disk without its keys in the target region (not public)
TEST_NETWORK_INVALID = "28061"  # the rest of the cycle (README "The whole cycle"): emulator's numbers
RECOVERY_POINT_NOT_FOUND = "28062"
PLANNED_FAILOVER_NOT_SUPPORTED = "28063"
WRONG_FAILOVER_DIRECTION = "28064"
CACHE_ACCOUNT_NOT_FOUND = "28081"
CACHE_ACCOUNT_WRONG_REGION = "28082"

# Job (task) failures.
TARGET_REGION_UNAVAILABLE = "150020"
SOURCE_VM_MISSING = "28083"  # job failure codes in our own block: 150225/150226 are real ASR codes
MANAGED_DISKS_MISSING = "28084"
QUOTA_EXCEEDED = "150097"
DNS_RESOLUTION_FAILED = "151195"
PROTECTION_FAILED = "45005"
OPERATION_FAILED = "28085"  # a failed test failover / cleanup / failover / commit task (emulator's number)
JOB_CANCELLED = "JobCancelled"

# The generic top-level code ARM-fronted Site Recovery puts over an ASR refusal, by HTTP status.
GENERIC_CODES = {400: "BadRequest", 403: "Forbidden", 404: "NotFound", 409: "Conflict"}


class ArmError(Exception):
    """An error answer: HTTP status plus an ARM (``code``/``message``) or ASR-style body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        possible_causes: str | None = None,
        recommended_action: str | None = None,
        headers: dict[str, str] | None = None,
        asr: bool = False,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.possible_causes = possible_causes
        self.recommended_action = recommended_action
        self.headers = headers or {}
        self.asr = asr or possible_causes is not None

    def body(self) -> dict[str, Any]:
        """The JSON answer: ARM's ``{code, message}``; an ASR refusal nests ASR's error in ``details``."""
        if not self.asr:
            return {"error": {"code": self.code, "message": self.message}}
        detail = {
            "code": self.code,
            "message": self.message,
            "possibleCauses": self.possible_causes or "",
            "recommendedAction": self.recommended_action or "",
            "activityId": str(uuid.uuid4()),
            "clientRequestId": str(uuid.uuid4()),
        }
        generic = GENERIC_CODES.get(self.status, "BadRequest")
        return {"error": {"code": generic, "message": self.message, "details": [detail]}}


def asr_refusal(status: int, code: str, message: str, causes: str, action: str) -> ArmError:
    """A synchronous ASR refusal with its causes and recommended action."""
    return ArmError(status, code, message, possible_causes=causes, recommended_action=action)


def asr_not_found(kind: str, name: str) -> ArmError:
    """An ASR child resource that does not exist (or no longer lives at this id)."""
    return ArmError(404, "NotFound", f"The {kind} '{name}' was not found.")


def resource_not_found(resource_type: str, name: str, group: str) -> ArmError:
    """ARM's own not-found for a resource in an existing resource group."""
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{resource_type}/{name}' under resource group '{group}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def group_not_found(group: str) -> ArmError:
    """ARM's not-found for a resource group."""
    return ArmError(404, "ResourceGroupNotFound", f"Resource group '{group}' could not be found.")


def bad_request(message: str) -> ArmError:
    """A malformed request body."""
    return ArmError(400, "InvalidRequestContent", message)


@dataclass(frozen=True)
class JobErrorText:
    """The words of one ASR job error."""

    message: str
    possible_causes: str
    recommended_action: str


_JOB_ERRORS: dict[str, JobErrorText] = {
    TARGET_REGION_UNAVAILABLE: JobErrorText(
        "The operation failed because the target region '{location}' is currently unavailable.",
        "The Azure region '{location}' is experiencing an outage, so resources cannot be created there.",
        "Retry the operation once the region has recovered. Check Azure Service Health for updates.",
    ),
    SOURCE_VM_MISSING: JobErrorText(
        "Reprotect failed because the virtual machine '{vm}' could not be found in resource group '{group}'. "
        "The virtual machine was moved or deleted.",
        "The original virtual machine was moved to another resource group or deleted after failover.",
        "Disable replication for the virtual machine and enable replication again.",
    ),
    MANAGED_DISKS_MISSING: JobErrorText(
        "Managed disk details not provided for the virtual machine '{vm}'.",
        "The reprotect input did not list the managed disks of the virtual machine.",
        "Retry switch protection with vmManagedDisks for every disk of the virtual machine.",
    ),
    QUOTA_EXCEEDED: JobErrorText(
        "Protection couldn't be enabled for the virtual machine '{vm}' because the subscription has reached "
        "its core quota limit in the target region.",
        "The number of cores in the target region would exceed the subscription's quota.",
        "Request a quota increase for the target region, then retry the operation.",
    ),
    DNS_RESOLUTION_FAILED: JobErrorText(
        "Site Recovery couldn't resolve the Site Recovery service URL from the virtual machine '{vm}'.",
        "DNS resolution from the recovery region failed: the virtual network's custom DNS server is not "
        "reachable from the virtual machine.",
        "Check the DNS settings of the virtual network and that the DNS server can be reached, then retry.",
    ),
    OPERATION_FAILED: JobErrorText(
        "The operation '{operation}' failed for the virtual machine '{vm}'.",
        "An internal error occurred in Site Recovery while running the task.",
        "Retry the operation. If the issue persists, contact support.",
    ),
    PROTECTION_FAILED: JobErrorText(
        "Protection couldn't be enabled for the virtual machine.",
        "An internal error occurred while configuring replication.",
        "Retry the operation. If the issue persists, contact support.",
    ),
}


def job_error_text(code: str, message: str | None = None, **words: str) -> JobErrorText:
    """Known words for ``code`` (with ``{vm}``/``{group}``/``{location}`` filled); ``message`` overrides."""
    known = _JOB_ERRORS.get(code, _JOB_ERRORS[PROTECTION_FAILED])

    def fill(text: str) -> str:
        try:
            return text.format(**words)
        except (KeyError, IndexError):
            return text

    return JobErrorText(message or fill(known.message), fill(known.possible_causes), fill(known.recommended_action))
