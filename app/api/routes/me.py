"""``/me``: who the caller is to this service (role and scopes), so a client can show only what it may do.

Any valid credential may ask (the console uses it to hide the actions a reader may not take).
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.api.problems import documented
from app.api.security import Reader
from app.auth.principal import Role

router = APIRouter(tags=["auth"])


class MeOut(BaseModel):
    """The authenticated caller: never the credential itself."""

    id: str = Field(description="`key:<id>` for an API key, the object id for an Entra ID caller")
    kind: str = Field(description="How the caller signed in: api_key, user or application")
    name: str = Field(description="The key's name, or the Entra ID principal's display name")
    role: str | None = Field(description="reader, operator or admin (null: signed in but no role granted)")
    scopes: list[str] = Field(description="The resource ids the caller may see and act on (`*`: everything)")
    can_operate: bool = Field(description="Whether the operator actions (reprotect, cancel, retry) are open to it")


@router.get("/me", operation_id="getMe", response_model=MeOut, responses=documented(401, 422, 429))
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
