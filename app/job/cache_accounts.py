"""The cache (staging) storage account of a reprotect: which one suits, what a new one is called, and
making sure it exists, once, before switch protection names it.

Site Recovery does not create the account a switch protection names: the account must exist, lie in the
region the VM runs in now, and be a standard general-purpose v2 account (Azure's A2A support matrix,
"Cache storage"). The plan picks an existing one or marks one ``new``; the submitting step then creates
it through the Storage API. However many jobs need the same new account, one of them creates it: each
asks a :class:`ClaimStore` (the database in the service, one row per account to create) and the others
come back later to find it ready. Nothing here waits for Azure: every answer is "ready", "look again in
a few seconds" or "failed".
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from app.cloud.ids import name_of, parse_resource_id, storage_account_id
from app.cloud.types import Cloud, StorageAccount, StorageAccountSpec
from app.errors import CloudPermanent

# Storage's refusals of a create whose name is held elsewhere (ARM's storage-name troubleshooting page).
NAME_TAKEN_CODES = frozenset(  # and a create in the same group but another region (InvalidResourceLocation)
    {
        "storageaccountalreadytaken",
        "storageaccountinanotherresourcegroup",
        "storageaccountalreadyexists",
        "invalidresourcelocation",
    }
)
CANDIDATES = 4  # deterministic names tried, in order, when an earlier one is taken elsewhere in Azure
LOOK_AGAIN_SECONDS = 5.0
# Storage creates an account in well under a minute; one accepted (202) but still not readable after this
# never will be (the create failed on Storage's side): the job fails and a retry creates it anew.
CREATE_PATIENCE_SECONDS = 600.0
CACHE_SUFFIX = "asrcache"  # the suffix Site Recovery gives the cache accounts it names


def candidate_name(subscription_id: str, resource_group: str, location: str, attempt: int = 0) -> str:
    """A valid (3-24 lowercase alphanumerics), deterministic cache account name for one subscription,
    resource group and region; ``attempt`` gives the next name when one is taken elsewhere in Azure."""
    seed = f"{subscription_id}/{resource_group}/{location}".lower() + (f"#{attempt}" if attempt else "")
    digest = hashlib.sha256(seed.encode()).hexdigest()[:12]
    stem = re.sub(r"[^a-z0-9]", "", resource_group.lower())[:4]
    return f"{stem}{digest}{CACHE_SUFFIX}"


def candidate_ids(group_id: str, location: str) -> list[str]:
    """The ids of the new cache accounts to try in a resource group, in order."""
    ref_parts = group_id.strip("/").split("/")
    sub, group = ref_parts[1], ref_parts[3]
    return [storage_account_id(group_id, candidate_name(sub, group, location, n)) for n in range(CANDIDATES)]


def unsuitable(account: StorageAccount, location: str, *, caller_named: bool = False) -> str | None:
    """Why ``account`` cannot be the cache of a VM running in ``location`` (None: it can).

    The support matrix: same region as the VM; general-purpose v2 (standard); premium only as a block
    blob account (high churn), which the service uses only when the caller names it; shared key access
    allowed (Site Recovery signs with the account key).
    """
    if account.location.lower().replace(" ", "") != location.lower().replace(" ", ""):
        return f"it is in {account.location}, not in {location} where the VM runs now"
    kind, sku = account.kind.lower(), account.sku.lower()
    premium_block_blob = kind == "blockblobstorage" and sku.startswith("premium_")
    if not (kind == "storagev2" and sku.startswith("standard_")) and not (caller_named and premium_block_blob):
        found = f"a {account.kind or 'unknown'} account with SKU {account.sku or 'unknown'}"
        return f"it is {found}; the cache must be general-purpose v2 (Standard)"
    if account.allow_shared_key_access is False:
        return "it does not allow shared key access, which Site Recovery needs"
    return None


@dataclass(frozen=True)
class Claim:
    """The claim on creating one account: which account (name) it is at now, and whose it is."""

    account_id: str
    state: Literal["creating", "requested", "ready"]
    mine: bool
    age_seconds: float = 0.0  # since the claim was first made


class ClaimStore(Protocol):
    """Who creates which new cache account: one owner per key at a time, taken over when its lease ends."""

    def claim(self, key: str, account_id: str, owner: str) -> Claim:
        """The key's claim, made ``owner``'s when nobody else holds it (lease renewed when it already is)."""

    def update(
        self, key: str, owner: str, *, account_id: str, state: Literal["creating", "requested", "ready"]
    ) -> None:
        """Record progress (only while ``owner`` holds the claim)."""

    def release(self, key: str, owner: str) -> None:
        """Give the claim up after a failure, so that another job may try again."""

    def forget(self, key: str, account_id: str) -> None:
        """Drop a ready claim whose account has gone (deleted since), so the next look creates it again."""


class LocalClaims:
    """A :class:`ClaimStore` in memory: for one process that runs every job needing the account (tests,
    one-off tools). The service uses the database's (``app.job.claims``)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._rows: dict[str, tuple[str, str, str]] = {}
        self._since: dict[str, float] = {}
        self._clock = clock
        self._lock = threading.Lock()

    def claim(self, key: str, account_id: str, owner: str) -> Claim:
        with self._lock:
            found, state, holder = self._rows.setdefault(key, (account_id, "creating", owner))
            age = self._clock() - self._since.setdefault(key, self._clock())
            return Claim(account_id=found, state=state, mine=holder == owner, age_seconds=age)  # type: ignore[arg-type]

    def update(
        self, key: str, owner: str, *, account_id: str, state: Literal["creating", "requested", "ready"]
    ) -> None:
        with self._lock:
            if self._rows.get(key, ("", "", owner))[2] == owner:
                self._rows[key] = (account_id, state, owner)

    def release(self, key: str, owner: str) -> None:
        with self._lock:
            if self._rows.get(key, ("", "", ""))[2] == owner:
                del self._rows[key]
                self._since.pop(key, None)

    def forget(self, key: str, account_id: str) -> None:
        with self._lock:
            found = self._rows.get(key)
            if found is not None and found[0].lower() == account_id.lower() and found[1] == "ready":
                del self._rows[key]
                self._since.pop(key, None)


@dataclass(frozen=True)
class Ensured:
    """The outcome: ``ready`` (send ``account_id``), ``wait`` (look again soon) or ``failed``."""

    outcome: Literal["ready", "wait", "failed"]
    account_id: str = ""
    reason: str = ""
    code: str = ""


def claim_key(account_id: str, location: str, *, caller_named: bool) -> str:
    """One key per account to create: a caller's named account, or the default one of a subscription and
    region (whatever name and resource group it ends up with: under a central vault each VM's own group is
    the candidate, and the first job's account then serves every VM of that subscription and region)."""
    if caller_named:
        return f"named:{account_id}".lower()
    ref = parse_resource_id(account_id)
    return f"default:{ref.subscription_id}/{location}".lower()


def ensure(
    cloud: Cloud, claims: ClaimStore, *, account_id: str, location: str, caller_named: bool, owner: str
) -> Ensured:
    """Make sure the planned new cache account exists and is usable, creating it if this job holds the claim."""
    key = claim_key(account_id, location, caller_named=caller_named)
    claim = claims.claim(key, account_id, owner)
    if claim.state == "ready":
        # Created earlier (by any job): trust it only while Azure still has it; someone may have deleted it.
        if cloud.get_storage_account(claim.account_id) is not None:
            return Ensured("ready", account_id=claim.account_id)
        claims.forget(key, claim.account_id)
        return Ensured(
            "wait",
            account_id=claim.account_id,
            reason=f"the cache storage account {name_of(claim.account_id)} was deleted; it will be created again",
        )
    if not claim.mine:
        return Ensured(
            "wait",
            account_id=claim.account_id,
            reason=f"another job is creating the cache storage account {name_of(claim.account_id)}",
        )
    overdue = claim.state == "requested" and claim.age_seconds > CREATE_PATIENCE_SECONDS
    if overdue and cloud.get_storage_account(claim.account_id) is None:
        claims.release(key, owner)  # a retry (this job's or another's) creates it anew
        return Ensured(
            "failed",
            code="cache_storage_account_not_created",
            reason=(
                f"Storage accepted the creation of the cache storage account {name_of(claim.account_id)} "
                f"{claim.age_seconds / 60:.0f} minutes ago, but it never appeared. Check the subscription's "
                "storage quota and policies (Azure Policy may deny it), then retry the job."
            ),
        )
    names = [claim.account_id] if caller_named else _remaining(claim.account_id, location)
    for current in names:
        if current != claim.account_id:
            claims.update(key, owner, account_id=current, state="creating")
        requested = claim.state == "requested" and current == claim.account_id
        try:
            answer = _create_or_find(cloud, current, location, caller_named=caller_named, requested=requested)
        except CloudPermanent:
            claims.release(key, owner)  # this job fails; another one needing the account may try again
            raise
        if answer.outcome == "ready":
            claims.update(key, owner, account_id=current, state="ready")
            return answer
        if answer.outcome == "wait":
            claims.update(key, owner, account_id=current, state="requested")
            return answer
        if answer.code != "taken" or caller_named:
            claims.release(key, owner)
            return _named_taken(current) if answer.code == "taken" else answer
    claims.release(key, owner)
    return Ensured(
        "failed",
        code="cache_storage_account_names_taken",
        reason=(
            f"Every cache storage account name the service derives for this resource group and region is taken "
            f"elsewhere in Azure ({', '.join(name_of(n) for n in names)}). Create a general-purpose v2 account in "
            f"{location} and name it in cache_storage_account_id."
        ),
    )


def _remaining(current: str, location: str) -> list[str]:
    ref = parse_resource_id(current)
    group_id = f"/subscriptions/{ref.subscription_id}/resourceGroups/{ref.resource_group}"
    ids = candidate_ids(group_id, location)
    lowered = [i.lower() for i in ids]
    return ids[lowered.index(current.lower()) :] if current.lower() in lowered else [current, *ids]


def _named_taken(account_id: str) -> Ensured:
    return Ensured(
        "failed",
        code="cache_storage_account_name_taken",
        reason=(
            f"The storage account name {name_of(account_id)} you named for the cache is taken elsewhere in Azure "
            "(storage account names are global). Name another account in cache_storage_account_id, or leave it "
            "out to let the service choose one."
        ),
    )


def _create_or_find(cloud: Cloud, account_id: str, location: str, *, caller_named: bool, requested: bool) -> Ensured:
    """One look at one account: usable, being created (ours), to be created now, or taken/unsuitable."""
    found = cloud.get_storage_account(account_id)
    if found is not None:
        why = unsuitable(found, location, caller_named=caller_named)
        if why is not None:
            if caller_named:
                return Ensured(
                    "failed",
                    code="cache_storage_account_unsuitable",
                    reason=f"The cache storage account {found.name} cannot be used: {why}.",
                )
            return Ensured("failed", code="taken")  # someone else's account under our name: try the next name
        if found.usable:
            return Ensured("ready", account_id=found.id)
        return Ensured(
            "wait",
            account_id=found.id,
            reason=f"the cache storage account {found.name} is being created ({found.provisioning_state})",
        )
    if requested:  # our create was accepted and the account is not readable yet
        return Ensured(
            "wait", account_id=account_id, reason=f"the cache storage account {name_of(account_id)} is being created"
        )
    # Straight to the create: a name held elsewhere is refused with its own code (one write, where a name
    # check first would spend two of the subscription's writes on every try under throttling).
    ref = parse_resource_id(account_id)
    spec = StorageAccountSpec(id=account_id, location=location)
    try:
        created = cloud.create_storage_account(spec)
    except CloudPermanent as exc:
        if exc.code.lower() in NAME_TAKEN_CODES:
            return Ensured("failed", code="taken")
        if exc.code.lower() == "accountnameinvalid":
            return Ensured("failed", code="cache_storage_account_name_invalid", reason=exc.message)
        raise
    if created is not None and created.usable:
        return Ensured("ready", account_id=created.id)
    return Ensured("wait", account_id=account_id, reason=f"creating the cache storage account {ref.name}")
