"""``/me``: who the caller is to this service (role and scopes), so a client can show only what it may do.

Kept out of the OpenAPI document for now (the console is its one client); any valid credential may ask.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from app.api.security import Reader
from app.auth.principal import Role

router = APIRouter(tags=["auth"])


class MeOut(BaseModel):
    """The authenticated caller: never the credential itself."""

    id: str
    kind: str
    name: str
    role: str | None
    scopes: list[str]
    can_operate: bool


@router.get("/me", operation_id="getMe", response_model=MeOut, include_in_schema=False)
async def me(principal: Reader) -> MeOut:
    """The caller's identity, role and scopes."""
    return MeOut(
        id=principal.id,
        kind=principal.kind.value,
        name=principal.name,
        role=principal.role.value if principal.role else None,
        scopes=principal.scopes.as_strings(),
        can_operate=principal.can(Role.OPERATOR),
    )
