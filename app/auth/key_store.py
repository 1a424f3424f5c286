"""API keys in the database: create (plaintext shown once), look up by the presented key, revoke, list."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import api_keys, revocation
from app.auth.models import ApiKey
from app.auth.principal import Principal, Role
from app.errors import InvalidRequest, NotFound
from app.pagination import visible_page
from app.scopes import ScopeSet


@dataclass(frozen=True)
class CreatedKey:
    """A new key's row and its plaintext, which exists only in this answer."""

    row: ApiKey
    plaintext: str


def create(
    session: Session,
    *,
    name: str,
    role: Role,
    scopes: list[str],
    created_by: str,
    now: datetime,
    expires_at: datetime | None = None,
) -> CreatedKey:
    """A new key; refuses scopes that do not parse and expiries in the past."""
    try:
        parsed = ScopeSet.parse(scopes)
    except ValueError as exc:
        raise InvalidRequest(str(exc), code="invalid_scope") from exc
    if not parsed:
        raise InvalidRequest("Give the key at least one scope ('*' for everything).", code="invalid_scope")
    if expires_at is not None and expires_at <= now:
        raise InvalidRequest("expires_at must be in the future.", code="invalid_expiry")
    for _ in range(5):  # 32-bit key ids: retry the rare clash
        new = api_keys.generate()
        if session.get(ApiKey, new.key_id) is None:
            break
    row = ApiKey(
        id=new.key_id,
        name=name,
        key_hash=new.hash,
        role=role.value,
        scopes=parsed.as_strings(),
        created_at=now,
        created_by=created_by,
        expires_at=expires_at,
    )
    session.add(row)
    return CreatedKey(row=row, plaintext=new.plaintext)


@dataclass(frozen=True)
class KeyMatch:
    """A presented key that is good now: its principal, and until when (None: no expiry)."""

    principal: Principal
    expires_at: datetime | None


def authenticate(session: Session, plaintext: str, *, now: datetime) -> Principal | None:
    """The principal of a presented key, or None if it is unknown, wrong, revoked or expired."""
    found = match(session, plaintext, now=now)
    return found.principal if found else None


def match(session: Session, plaintext: str, *, now: datetime) -> KeyMatch | None:
    """:func:`authenticate` with the key's expiry, for caches that must not outlive it."""
    parsed = api_keys.parse(plaintext)
    if parsed is None:
        return None
    row = session.get(ApiKey, parsed[0])
    if row is None or not api_keys.matches(plaintext, row.key_hash):
        return None
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        row.last_used_at = now  # coarse, so a busy key does not write on every call
    principal = api_keys.principal(key_id=row.id, name=row.name, role=Role(row.role), scopes=ScopeSet.parse(row.scopes))
    return KeyMatch(principal=principal, expires_at=row.expires_at)


def get(session: Session, key_id: str, *, for_update: bool = False) -> ApiKey:
    """A key's row (locked for this transaction with ``for_update``, where the database locks rows), or
    ``NotFound``."""
    row = session.get(ApiKey, key_id, with_for_update=for_update)
    if row is None:
        raise NotFound(f"No API key {key_id}.", code="api_key_not_found")
    return row


def revoke(session: Session, key_id: str, *, by: str, now: datetime) -> ApiKey:
    """Revoke a key and every key it created, theirs too (idempotent: revoking twice keeps the first time).
    Each key's row is locked before its children are looked for: a key being created by one of them meanwhile
    either committed first (and is found) or sees its creator revoked (``create_key``)."""
    row = get(session, key_id, for_update=True)
    pending, seen = [row], {row.id}
    while pending:
        key = pending.pop()
        if key.revoked_at is None:
            key.revoked_at = now
            key.revoked_by = by if key is row else f"{by} (with key:{row.id}, which created it)"
        revocation.note(session, key.id)  # announced to every API process's key cache once this commits
        made_by_key = select(ApiKey).where(ApiKey.created_by == f"{api_keys.PRINCIPAL_PREFIX}{key.id}")
        for child in session.scalars(made_by_key.with_for_update()):
            if child.id not in seen:
                seen.add(child.id)
                pending.append(child)
    return row


def key_id_of(principal: Principal) -> str | None:
    """The id of the API key a principal authenticated with (None for an Entra ID caller)."""
    if principal.id.startswith(api_keys.PRINCIPAL_PREFIX):
        return principal.id.removeprefix(api_keys.PRINCIPAL_PREFIX)
    return None


def list_keys(
    session: Session, *, limit: int, cursor: str | None, visible: Callable[[ApiKey], bool]
) -> tuple[list[ApiKey], str | None]:
    """The ``visible`` keys, newest first (revoked ones included, marked); the cursor is a visible key's."""
    query = select(ApiKey)
    return visible_page(
        session, query, created=ApiKey.created_at, key=ApiKey.id, limit=limit, cursor=cursor, visible=visible
    )
