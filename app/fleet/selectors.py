"""Selector-based reprotect: resolve a selector through the inventory and submit it as requests of 100.

Each request goes through the same use case as an explicit list (``app.job.service.submit``): every VM is
checked; VMs the checks refuse are reported and the rest of their batch is submitted again without them.
"""

from __future__ import annotations

from app.auth.principal import Principal
from app.auth.visibility import require_in_scope
from app.db import utcnow
from app.errors import InvalidRequest, PrerequisitesFailed, ServiceError, VmProblem
from app.fleet.inventory import Fleet, VmFilter, read_fleet
from app.fleet.schemas import CreatedRequest, RefusedVm, SelectedVm, SelectorOut, refused
from app.fleet.status import ReprotectStatus
from app.idempotency import service as idempotency
from app.idempotency.service import Answer
from app.job import service
from app.job.schemas import ReprotectIn, VmSelector, VmTarget

BATCH = 100  # the explicit list's limit: one request per 100 VMs


def resolve(deps: service.Deps, *, principal: Principal, selector: VmSelector) -> Fleet:
    """The VMs a selector names, inside the caller's scopes (403 for a named vault outside them)."""
    if selector.vault_ids:
        require_in_scope(principal, selector.vault_ids)
    where = VmFilter(
        vault_ids=tuple(selector.vault_ids) if selector.vault_ids else None,
        subscription_ids=tuple(selector.subscription_ids) if selector.subscription_ids else None,
        source_region=selector.source_region,
        target_region=selector.target_region,
        resource_group=selector.resource_group,
        status=ReprotectStatus(selector.status),
        name_prefix=selector.name_prefix,
    )
    fleet = read_fleet(deps, principal=principal, where=where, fresh=True)
    limit = deps.settings.fleet.max_selector_vms
    if len(fleet.vms) > limit:
        raise InvalidRequest(
            f"The selector matches {len(fleet.vms)} VMs; at most {limit} may be reprotected by one selector. "
            "Narrow it (vault, region, resource group, name prefix).",
            code="selector_too_broad",
            details={"matched": len(fleet.vms), "limit": limit},
        )
    return fleet


def submit_selector(
    deps: service.Deps,
    *,
    principal: Principal,
    selector: VmSelector,
    callback_url: str | None,
    dry_run: bool,
    idempotency_key: str | None,
) -> service.Submitted:
    """Resolve the selector and submit its VMs in requests of at most 100 (or, in a dry run, list them); the
    same ``idempotency_key`` with the same selector replays the first answer."""
    if idempotency_key is None:
        return _submitted(_resolve_and_submit(deps, principal, selector, callback_url, dry_run=dry_run))
    digest = {"selector": selector.model_dump(mode="json"), "callback_url": callback_url, "dry_run": dry_run}
    claimed = idempotency.begin(
        deps.sessions,
        owner=principal.id,
        key=idempotency.check_key(idempotency_key),
        digest=idempotency.fingerprint(digest),
        now=utcnow(),
        ttl=service.IDEMPOTENCY_TTL,
        lock=service.IDEMPOTENCY_LOCK,
    )
    if isinstance(claimed, Answer):
        return service.Submitted(status=claimed.status, headers=claimed.headers, body=claimed.body, replayed=True)
    try:
        answered = _submitted(_resolve_and_submit(deps, principal, selector, callback_url, dry_run=dry_run))
    except BaseException:  # a refusal or failure is not stored: the same key may be sent again
        idempotency.release(deps.sessions, claimed)
        raise
    idempotency.store_now(deps.sessions, claimed, Answer(status=answered.status, headers={}, body=answered.body))
    return answered


def _submitted(out: SelectorOut) -> service.Submitted:
    """202 when a request was created, else 200 (a dry run, or nothing to submit)."""
    return service.Submitted(status=202 if out.requests else 200, headers={}, body=out.model_dump(mode="json"))


def _resolve_and_submit(
    deps: service.Deps, principal: Principal, selector: VmSelector, callback_url: str | None, *, dry_run: bool
) -> SelectorOut:
    fleet = resolve(deps, principal=principal, selector=selector)
    vms = [
        SelectedVm(vm_name=v.vm_name, item_id=v.item_id, vault_id=v.vault_id, reprotect_status=v.reprotect_status)
        for v in fleet.vms
    ]
    if dry_run:
        return _answer(fleet, dry_run=True, vms=vms)
    item_ids = [vm.item_id for vm in fleet.vms]
    created: list[CreatedRequest] = []
    problems: list[VmProblem] = []
    for start in range(0, len(item_ids), BATCH):
        try:
            made, refusals = _submit_batch(deps, principal, item_ids[start : start + BATCH], callback_url)
        except ServiceError as exc:  # Azure throttled or failed: never a partial silent success
            if not created:
                raise
            problems += [
                VmProblem(vm=i, code=exc.code, message=f"Not submitted: {exc.message}") for i in item_ids[start:]
            ]
            break
        created += made
        problems += refusals
    return _answer(fleet, dry_run=False, vms=vms, requests=created, refused_vms=[refused(p) for p in problems])


def _answer(
    fleet: Fleet,
    *,
    dry_run: bool,
    vms: list[SelectedVm] | None = None,
    requests: list[CreatedRequest] | None = None,
    refused_vms: list[RefusedVm] | None = None,
) -> SelectorOut:
    return SelectorOut(
        dry_run=dry_run,
        matched=len(fleet.vms),
        requests=requests or [],
        refused=refused_vms or [],
        vms=vms or [],
        partial=fleet.partial,
        unreadable=fleet.unreadable,
    )


def _submit_batch(
    deps: service.Deps, principal: Principal, item_ids: list[str], callback_url: str | None
) -> tuple[list[CreatedRequest], list[VmProblem]]:
    """One request for these VMs; when the checks refuse some, one more request without them."""
    try:
        return [_submit(deps, principal, item_ids, callback_url)], []
    except PrerequisitesFailed as failed:
        problems = list(failed.problems)
    refused_ids = {p.vm.lower() for p in problems}
    remaining = [i for i in item_ids if i.lower() not in refused_ids]
    if not remaining:
        return [], problems
    try:
        return [_submit(deps, principal, remaining, callback_url)], problems
    except PrerequisitesFailed as again:  # state changed between the two checks: report every VM left out
        named = {p.vm.lower() for p in again.problems}
        left_out = [
            VmProblem(vm=i, code="not_submitted", message="Refused with its batch; submit it again.")
            for i in remaining
            if i.lower() not in named
        ]
        return [], problems + list(again.problems) + left_out


def _submit(deps: service.Deps, principal: Principal, item_ids: list[str], callback_url: str | None) -> CreatedRequest:
    body = ReprotectIn(vms=[VmTarget(item_id=i) for i in item_ids], callback_url=callback_url)
    submitted = service.submit(
        deps, principal=principal, body=body, dry_run=False, idempotency_key=None, render_refusal=_never_replayed
    )
    answer = submitted.body
    return CreatedRequest(
        request_id=answer["request_id"],
        href=answer["href"],
        vm_count=len(answer["jobs"]),
        callback_secret=answer.get("callback_secret"),
    )


def _never_replayed(exc: ServiceError) -> Answer | None:
    """No idempotency key is used per batch: nothing to replay."""
    return None
