"""Access control's use cases, one function each: authenticate a key, manage keys, record and read the audit.

Each opens its own unit of work on the injected session factory; the API and the CLI render what they return.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.auth import audit, key_store
from app.auth.models import ApiKey, AuditEntry
from app.auth.principal import Principal, Role
from app.auth.visibility import scopes_within
from app.db import transaction, utcnow
from app.errors import Forbidden, InvalidRequest, NotFound
from app.scopes import ScopeSet


def authenticate_key(sessions: sessionmaker[Session], *, credential: str) -> Principal | None:
    """The principal of a presented API key, or None if it is unknown, wrong, revoked or expired."""
    with transaction(sessions) as session:
        return key_store.authenticate(session, credential, now=utcnow())


def match_key(sessions: sessionmaker[Session], *, credential: str) -> key_store.KeyMatch | None:
    """:func:`authenticate_key` with the key's expiry (for the key cache)."""
    with transaction(sessions) as session:
        return key_store.match(session, credential, now=utcnow())


def create_key(
    sessions: sessionmaker[Session],
    *,
    principal: Principal,
    name: str,
    role: Role,
    scopes: list[str],
    expires_at: datetime | None,
) -> key_store.CreatedKey:
    """A key for automation, never above its creator's role, outside its creator's scopes or valid longer
    than its creator's key (no expiry asked: the creator's; revoking the creator revokes it too)."""
    try:
        ScopeSet.parse(scopes)
    except ValueError as exc:
        raise InvalidRequest(str(exc), code="invalid_scope") from exc
    if principal.role is None or not principal.role.grants(role):
        raise Forbidden("A key cannot be given a role above its creator's.", code="role_escalation")
    if not scopes_within(scopes, principal):
        raise Forbidden("A key cannot be given scopes outside its creator's.", code="scope_escalation")
    with transaction(sessions) as session:
        creator_id = key_store.key_id_of(principal)
        if creator_id is not None:  # the creator's row locked: a revocation cascading now waits, then sees this key
            creator = key_store.get(session, creator_id, for_update=True)
            if creator.revoked_at is not None:
                raise Forbidden("The key creating this one was revoked.", code="creator_revoked")
            expires_at = _within_creator(creator.expires_at, expires_at)
        return key_store.create(
            session, name=name, role=role, scopes=scopes, created_by=principal.id, now=utcnow(), expires_at=expires_at
        )


def _within_creator(creator_expires_at: datetime | None, asked: datetime | None) -> datetime | None:
    if creator_expires_at is None:
        return asked
    if asked is None:
        return creator_expires_at
    if asked > creator_expires_at:
        raise InvalidRequest(
            f"A key cannot outlive the key creating it: expires_at must be at or before "
            f"{creator_expires_at.isoformat()}.",
            code="expiry_beyond_creator",
        )
    return asked


def issue_key(
    sessions: sessionmaker[Session],
    *,
    name: str,
    role: Role,
    scopes: list[str],
    created_by: str,
    expires_at: datetime | None,
) -> key_store.CreatedKey:
    """A key made by someone with the database's trust (the operators' CLI, the local stacks)."""
    with transaction(sessions) as session:
        return key_store.create(
            session, name=name, role=role, scopes=scopes, created_by=created_by, now=utcnow(), expires_at=expires_at
        )


def list_keys(
    sessions: sessionmaker[Session], *, principal: Principal | None, limit: int, cursor: str | None
) -> tuple[list[ApiKey], str | None]:
    """Keys whose scopes lie inside the caller's (every key for the CLI), newest first, revoked ones too."""
    with transaction(sessions) as session:
        return key_store.list_keys(
            session,
            limit=limit,
            cursor=cursor,
            visible=(lambda row: True) if principal is None else (lambda row: scopes_within(row.scopes, principal)),
        )


def revoke_key(sessions: sessionmaker[Session], *, principal: Principal | None, key_id: str, by: str) -> None:
    """Revoke a key at once (the CLI passes no principal: it may revoke any key)."""
    with transaction(sessions) as session:
        row = key_store.get(session, key_id)
        if principal is not None and not scopes_within(row.scopes, principal):  # outside the caller's scopes
            raise NotFound(f"No API key {key_id}.", code="api_key_not_found")
        key_store.revoke(session, key_id, by=by, now=utcnow())


def record_audit(
    sessions: sessionmaker[Session],
    *,
    at: datetime,
    request_id: str,
    principal: Principal | None,
    method: str,
    route: str,
    path: str,
    status: int,
    vm_ids: list[str],
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry to the audit trail, in its own unit of work."""
    with transaction(sessions) as session:
        audit.record(
            session,
            at=at,
            request_id=request_id,
            principal_id=principal.id if principal else None,
            principal_kind=principal.kind.value if principal else None,
            method=method,
            route=route[:200],
            path=path[:2000],
            status=status,
            outcome=audit.outcome_of(status),
            vm_ids=vm_ids[:100],
            detail=detail,
        )


def list_audit(
    sessions: sessionmaker[Session], *, principal: Principal, where: audit.AuditFilter, limit: int, cursor: str | None
) -> tuple[list[AuditEntry], str | None]:
    """The audit trail, newest first; it spans every scope, so only unrestricted admins read it."""
    if not principal.scopes.is_unrestricted:
        raise Forbidden("The audit trail spans every scope: it needs an admin with scope '*'.", code="outside_scope")
    with transaction(sessions) as session:
        return audit.list_entries(session, where=where, limit=limit, cursor=cursor)
