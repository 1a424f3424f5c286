"""The job domain's use cases, one function each: submit, read, list, cancel, retry, advance, sweep.

Each opens its own units of work (never one across an Azure call), touches idempotency where it must,
and rings the doorbell only after its commit. Edges (HTTP routes, Celery tasks, the CLI) parse their
input, call one of these and render what it returns.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from app.auth.principal import Principal
from app.auth.visibility import require_in_scope
from app.cloud.types import Cloud
from app.db import transaction, utcnow
from app.errors import ServiceError
from app.idempotency import service as idempotency
from app.job import claims, control, intake, present, queries, runner, visibility
from app.job.cache_accounts import Claim
from app.job.schemas import JobOut, ReprotectIn, RequestOut
from app.job.states import is_terminal
from app.job.steps import SendGuard
from app.logs import context as log_context
from app.outbound.vetting import vet_url
from app.queue import Doorbell
from app.settings import Settings

log = logging.getLogger(__name__)
IDEMPOTENCY_TTL = timedelta(hours=24)
IDEMPOTENCY_LOCK = timedelta(seconds=90)  # longer than the prerequisite checks may take


class Deps(Protocol):
    """What the job use cases need; the container built by ``app.bootstrap`` provides it."""

    @property
    def settings(self) -> Settings: ...

    @property
    def sessions(self) -> sessionmaker[Session]: ...

    @property
    def cloud(self) -> Cloud: ...

    @property
    def doorbell(self) -> Doorbell: ...


@dataclass(frozen=True)
class Submitted:
    """The answer to a submission: accepted (202), planned (200), or an earlier answer replayed."""

    status: int
    headers: dict[str, str]
    body: Any
    replayed: bool = False


# How the edge renders a refusal, so that the same key replays it; None for answers a retry may change.
RefusalRenderer = Callable[[ServiceError], idempotency.Answer | None]


def submit(
    deps: Deps,
    *,
    principal: Principal,
    body: ReprotectIn,
    dry_run: bool,
    idempotency_key: str | None,
    render_refusal: RefusalRenderer,
) -> Submitted:
    """Check every VM, then accept one job per VM (or, in a dry run, only plan); replay a repeated key."""
    # Before any Azure call: the VMs and every resource a customisation names must lie in the caller's scopes.
    require_in_scope(principal, [rid for vm in body.vms for rid in vm.resource_ids])
    if idempotency_key is None:
        return _submit(deps, principal, body, dry_run=dry_run, claim=None)
    claimed = idempotency.begin(
        deps.sessions,
        owner=principal.id,
        key=idempotency.check_key(idempotency_key),
        digest=idempotency.fingerprint({"body": body.model_dump(mode="json"), "dry_run": dry_run}),
        now=utcnow(),
        ttl=IDEMPOTENCY_TTL,
        lock=IDEMPOTENCY_LOCK,
    )
    if isinstance(claimed, idempotency.Answer):
        return Submitted(status=claimed.status, headers=claimed.headers, body=claimed.body, replayed=True)
    try:
        return _submit(deps, principal, body, dry_run=dry_run, claim=claimed)
    except ServiceError as exc:
        refusal = render_refusal(exc)
        if refusal is not None:  # a refusal is the answer to this request: replay it
            idempotency.store_now(deps.sessions, claimed, refusal)
        else:
            idempotency.release(deps.sessions, claimed)
        raise
    except BaseException:
        idempotency.release(deps.sessions, claimed)
        raise


def _submit(
    deps: Deps, principal: Principal, body: ReprotectIn, *, dry_run: bool, claim: idempotency.Claim | None
) -> Submitted:
    settings = deps.settings
    if body.callback_url:
        vet_url(body.callback_url, settings.webhook, field="callback_url")
    plans = intake.check_all(cloud=deps.cloud, targets=body.vms, concurrency=settings.azure.validation_concurrency)
    if dry_run:
        planned = idempotency.Answer(status=200, headers={}, body=present.dry_run(plans))
        if claim:
            idempotency.store_now(deps.sessions, claim, planned)
        return Submitted(status=planned.status, headers=planned.headers, body=planned.body)
    try:
        with transaction(deps.sessions) as session:
            request = intake.create_request(
                session,
                targets=body.vms,
                plans=plans,
                settings=settings.job,
                requested_by=principal.id,
                now=utcnow(),
                callback_url=body.callback_url,
            )
            href = present.request_href(request.id)
            headers = {"Location": href, "Retry-After": _poll_hint(settings)}
            answer = idempotency.Answer(status=202, headers=headers, body=present.accepted(request))
            if claim:
                idempotency.store(session, claim, answer)  # same transaction as the jobs: no 202 without them
            job_ids = [job.id for job in request.jobs]
    except intake.RaceLost as lost:
        with transaction(deps.sessions) as session:
            intake.explain_race(session, lost)
        raise
    deps.doorbell.ring(job_ids)  # after the commit
    return Submitted(status=answer.status, headers=answer.headers, body=answer.body)


def _poll_hint(settings: Settings) -> str:
    return str(max(1, round(settings.job.poll_interval_seconds)))


def get_request(deps: Deps, *, principal: Principal, request_id: uuid.UUID) -> RequestOut:
    """A reprotect request the caller may see: counts per state and every job."""
    with transaction(deps.sessions) as session:
        visibility.check_request(session, request_id, principal)
        return present.request_out(queries.get_request(session, request_id))


@dataclass(frozen=True)
class JobRead:
    """One job as read: its validator, how soon to poll again (None once terminal), and the job unless
    the caller's copy is current."""

    etag: str
    retry_after: str | None
    job: JobOut | None


def get_job(deps: Deps, *, principal: Principal, job_id: uuid.UUID, if_none_match: str | None) -> JobRead:
    """A job the caller may see; only its validator when ``if_none_match`` names the current one."""
    with transaction(deps.sessions) as session:
        job = visibility.visible_job(session, job_id, principal)
        etag = present.etag_of(job)
        retry_after = None if is_terminal(job.job_state) else _poll_hint(deps.settings)
        if if_none_match and etag in {tag.strip() for tag in if_none_match.split(",")}:
            return JobRead(etag=etag, retry_after=retry_after, job=None)
        return JobRead(etag=etag, retry_after=retry_after, job=present.job_out(job))


def cancel(deps: Deps, *, principal: Principal, job_id: uuid.UUID, touched: list[str] | None = None) -> JobOut:
    """Cancel a job: at once before submission; through Azure while the ASR job still allows it.

    ``touched`` collects the VM the job is about, for the caller's audit trail (even when refused).
    """
    actor = principal.id
    with transaction(deps.sessions) as session:
        job = visibility.visible_job(session, job_id, principal)
        if touched is not None:
            touched.append(job.item_id)
        decided = control.decide_cancel(job, now=utcnow(), settle_seconds=deps.settings.job.switch_settle_seconds)
        if decided is None:
            return present.job_out(control.cancel_unsubmitted(session, job, now=utcnow(), actor=actor))
    # Azure is asked outside any transaction; what it says is recorded afterwards.
    if isinstance(decided, control.AskAzureFirst):
        control.check_nothing_submitted(deps.cloud, decided)
        with transaction(deps.sessions) as session:
            job = queries.get_job(session, job_id)
            cancelled = control.cancel_unsubmitted(
                session, job, now=utcnow(), actor=actor, seen_version=decided.version
            )
            return present.job_out(cancelled)
    control.cancel_in_azure(cloud=deps.cloud, order=decided)
    with transaction(deps.sessions) as session:
        out = present.job_out(control.note_cancel_requested(session, job_id=job_id, now=utcnow(), actor=actor))
    if not out.terminal:
        deps.doorbell.ring([job_id])
    return out


def retry(deps: Deps, *, principal: Principal, job_id: uuid.UUID, touched: list[str] | None = None) -> JobOut:
    """Run a failed job again from where it failed, as a new attempt."""
    with transaction(deps.sessions) as session:
        found = visibility.visible_job(session, job_id, principal)
        if touched is not None:
            touched.append(found.item_id)
        job = control.retry(session, job_id=job_id, settings=deps.settings.job, now=utcnow(), actor=principal.id)
        out = present.job_out(job)
    deps.doorbell.ring([job_id])
    return out


def advance(deps: Deps, *, job_id: uuid.UUID, worker: str) -> runner.Advanced:
    """Run one step of a job if it is due and nobody else holds it; ring again at once when the next step
    is due before the sweeper would notice."""
    with log_context.scope():  # the step's lines name its job and request, and only its own
        return _advance(deps, job_id=job_id, worker=worker)


def _advance(deps: Deps, *, job_id: uuid.UUID, worker: str) -> runner.Advanced:
    settings = deps.settings.job
    with transaction(deps.sessions) as session:
        claimed = runner.claim(session, job_id=job_id, worker=worker, now=utcnow(), settings=settings)
        if claimed is None:  # early, duplicate or leased elsewhere: the sweeper rings when it is due
            runner.JOBS.forget_dispatch(session, job_id)
            return runner.Advanced(job_id=job_id, ran=False, state=None, due_in=None)
    _name_in_logs(claimed)
    guard = SendGuard(
        settle_seconds=settings.switch_settle_seconds,
        record_sending=lambda: _mark_sent(deps, job_id=job_id, worker=worker, sent=True),
        record_not_sent=lambda: _mark_sent(deps, job_id=job_id, worker=worker, sent=False),
    )
    outcome = runner.run(deps.cloud, claimed, guard, settings, ClaimsInDb(deps.sessions))
    unrecorded = runner.Advanced(job_id=job_id, ran=True, state=None, due_in=None)
    if outcome.lease_lost:
        with transaction(deps.sessions) as session:
            runner.release(session, job_id=job_id, worker=worker)
        return unrecorded
    try:
        with transaction(deps.sessions) as session:
            recorded = runner.record(
                session, job_id=job_id, worker=worker, outcome=outcome, settings=settings, now=utcnow()
            )
    except StaleDataError:  # the API changed the row meanwhile (cancel, retry): its word wins
        with transaction(deps.sessions) as session:
            runner.release(session, job_id=job_id, worker=worker)
        return unrecorded
    done = recorded  # what the step did, now that it is committed
    if done.due_in is not None and done.due_in < deps.settings.broker.sweep_interval_seconds:
        with transaction(deps.sessions) as session:
            runner.JOBS.mark_dispatched(session, [job_id], now=utcnow())
        deps.doorbell.ring([job_id], countdown=done.due_in)
    return done


def _name_in_logs(claimed: runner.Claimed) -> None:
    """The step's lines name its job, and the API request behind it when the message did not (``app.logs``)."""
    view = claimed.view
    log_context.bind_job(
        job_id=view.id,
        vm=view.vm_name,
        vault=view.vault_id,
        asr_job_id=view.asr_job_name,
        attempt=claimed.attempt,
        state=view.state.value,
    )
    if log_context.current_request_id() is None:
        log_context.bind_request(claimed.origin_request_id)


class ClaimsInDb:
    """The cache-account claims in the database, one transaction per call (``app.job.claims``)."""

    def __init__(self, sessions: sessionmaker[Session]):
        self._sessions = sessions

    def claim(self, key: str, account_id: str, owner: str) -> Claim:
        try:
            with transaction(self._sessions) as session:
                return claims.insert(session, key=key, account_id=account_id, owner=owner, now=utcnow())
        except IntegrityError:  # another job claimed it first
            with transaction(self._sessions) as session:
                return claims.take(session, key=key, account_id=account_id, owner=owner, now=utcnow())

    def update(self, key: str, owner: str, *, account_id: str, state: claims.ClaimState) -> None:
        with transaction(self._sessions) as session:
            claims.record(session, key=key, owner=owner, account_id=account_id, state=state, now=utcnow())

    def release(self, key: str, owner: str) -> None:
        with transaction(self._sessions) as session:
            claims.release(session, key=key, owner=owner)

    def forget(self, key: str, account_id: str) -> None:
        with transaction(self._sessions) as session:
            claims.forget(session, key=key, account_id=account_id)


def _mark_sent(deps: Deps, *, job_id: uuid.UUID, worker: str, sent: bool) -> None:
    with transaction(deps.sessions) as session:
        runner.mark_sent(session, job_id=job_id, worker=worker, now=utcnow(), sent=sent)


def sweep(deps: Deps, *, now: datetime, redispatch_after: float | None = None) -> list[uuid.UUID]:
    """Ring for every job that is due, or whose worker died holding its lease; purge expired idempotency
    keys. Returns the jobs rung for."""
    wait = deps.settings.job.redispatch_after_seconds if redispatch_after is None else redispatch_after
    with transaction(deps.sessions) as session:
        due = runner.JOBS.take_due(session, now=now, redispatch_after=wait)
        idempotency.purge_expired(session, now=now)
    if due:
        sent = deps.doorbell.ring(due)
        if sent < len(due):  # the broker is down: ring for the rest at the next sweep, not as if unanswered
            with transaction(deps.sessions) as session:
                runner.JOBS.forget_dispatch(session, *due[sent:])
        log.info("sweeper rang for %d of %d due job(s)", sent, len(due))
    return due
