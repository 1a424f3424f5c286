"""``/api-keys`` and ``/audit``: key lifecycle and the audit trail, for admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import ContainerDep, IsoDateTime
from app.api.problems import documented
from app.api.security import Admin
from app.auth import audit, service
from app.auth.principal import Role
from app.scopes import SCOPE_PATTERN

router = APIRouter(tags=["admin"])
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=200)]
KeyId = Annotated[str, Field(pattern=r"^[0-9a-f]{8}$")]


class ApiKeyIn(BaseModel):
    """Body of ``POST /api-keys``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    role: Role
    # The pattern only documents the syntax; _no_escalation refuses with the clearer invalid_scope.
    scopes: list[Annotated[str, Field(json_schema_extra={"pattern": SCOPE_PATTERN})]] = Field(
        min_length=1, max_length=50, description="'*', /subscriptions/{id}, …/resourceGroups/{rg} or a vault id"
    )
    expires_at: IsoDateTime | None = None


class ApiKeyOut(BaseModel):
    """A key as listed: never the key itself."""

    model_config = ConfigDict(from_attributes=True)  # read straight from the row

    id: str
    name: str
    role: Role
    scopes: list[str]
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    """The new key, with its plaintext shown this once."""

    key: str = Field(description="rpk_… — store it now; only its hash is kept")


class ApiKeyPage(BaseModel):
    """A page of keys, newest first."""

    items: list[ApiKeyOut]
    next_cursor: str | None


class AuditOut(BaseModel):
    """One audit entry."""

    model_config = ConfigDict(from_attributes=True)  # read straight from the row

    id: int
    at: datetime
    request_id: str
    principal_id: str | None
    principal_kind: str | None
    method: str
    route: str
    path: str
    status: int
    outcome: str
    vm_ids: list[str]


class AuditPage(BaseModel):
    """A page of audit entries, newest first."""

    items: list[AuditOut]
    next_cursor: str | None


@router.post("/api-keys", operation_id="createApiKey", status_code=201, response_model=ApiKeyCreated,
             responses=documented(400, 401, 403, 413, 422, 429))  # fmt: skip
def create_api_key(body: ApiKeyIn, response: Response, container: ContainerDep, principal: Admin) -> ApiKeyCreated:
    """Create a key for automation; the answer is the only time the key is shown."""
    created = service.create_key(
        container.sessions,
        principal=principal,
        name=body.name,
        role=body.role,
        scopes=body.scopes,
        expires_at=body.expires_at,
    )
    out = ApiKeyCreated(**ApiKeyOut.model_validate(created.row).model_dump(), key=created.plaintext)
    response.headers["Location"] = f"/api-keys/{out.id}"
    return out


@router.get(
    "/api-keys", operation_id="listApiKeys", response_model=ApiKeyPage, responses=documented(401, 403, 422, 429)
)
def list_api_keys(container: ContainerDep, principal: Admin, limit: Limit = 50, cursor: Cursor = None) -> ApiKeyPage:
    """Keys whose scopes lie inside the caller's, newest first (revoked ones included)."""
    rows, next_cursor = service.list_keys(container.sessions, principal=principal, limit=limit, cursor=cursor)
    return ApiKeyPage(items=[ApiKeyOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.delete("/api-keys/{key_id}", operation_id="revokeApiKey", status_code=204,
               responses=documented(401, 403, 404, 422, 429))  # fmt: skip
def revoke_api_key(key_id: KeyId, container: ContainerDep, principal: Admin) -> Response:
    """Revoke a key at once; its later uses are refused with 401."""
    service.revoke_key(container.sessions, principal=principal, key_id=key_id, by=principal.id)
    return Response(status_code=204)


@router.get("/audit", operation_id="listAudit", response_model=AuditPage, responses=documented(401, 403, 422, 429))
def list_audit(
    container: ContainerDep,
    principal: Admin,
    principal_id: Annotated[str | None, Query(max_length=200)] = None,
    outcome: Literal["succeeded", "refused", "denied", "rate_limited", "failed"] | None = None,
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] | None = None,
    since: IsoDateTime | None = None,
    until: IsoDateTime | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AuditPage:
    """The audit trail, newest first; it spans every scope, so only unrestricted admins read it."""
    where = audit.AuditFilter(principal_id=principal_id, outcome=outcome, method=method, since=since, until=until)
    rows, next_cursor = service.list_audit(
        container.sessions, principal=principal, where=where, limit=limit, cursor=cursor
    )
    return AuditPage(items=[AuditOut.model_validate(r) for r in rows], next_cursor=next_cursor)
