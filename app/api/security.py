"""Dependencies every protected route declares: the caller (401 without one), the role it needs (403)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from app.auth.principal import Principal, Role
from app.bootstrap import Container
from app.errors import Forbidden

bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="API key (rpk_…) or Entra ID JWT",
    description="An API key created with `reprotect keys create` / POST /api-keys, or an Entra ID access token.",
)


async def authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """The authenticated caller; also kept on the request for the audit trail.

    A key found in the process's cache is answered on the event loop; anything needing I/O (the key's
    row, a token's signing keys, a shared rate limit) runs in a worker thread.
    """
    # HTTPBearer gives None for a missing header and for any scheme but Bearer: both are refused.
    credential = credentials.credentials if credentials else None
    container: Container = request.app.state.container
    principal = container.auth.cached(credential)
    if principal is None:
        source = request.client.host if request.client else None
        principal = await run_in_threadpool(functools.partial(container.auth.principal, credential, source=source))
    request.state.principal = principal
    return principal


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting principals whose role grants ``role``: one dependency besides the bearer
    scheme (each one FastAPI solves costs a hot read some 5 % of its time)."""

    async def admitted(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Principal:
        principal = await authenticate(request, credentials)
        if not principal.can(role):
            held = principal.role.value if principal.role else "no role"
            raise Forbidden(f"This needs the {role.value} role; the caller has {held}.", code="insufficient_role")
        return principal

    return admitted


Reader = Annotated[Principal, Depends(require(Role.READER))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
