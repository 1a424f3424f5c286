"""``/console``: the operator console's files, served from this package with a strict security policy.

A small Starlette app the API mounts at ``/console``: mounted apps stay out of the OpenAPI document and
out of the API's route table (they are files, not operations). No build step and no CDN: every file lives
in ``static/`` and is listed once at import, so a request can only ever name one of them (no path is
joined from user input). The console talks to the API with the key the operator signs in with
(``Authorization: Bearer``, kept in the tab's sessionStorage); it sets no cookie, so there is nothing for a
cross-site request to ride on. ``config.json`` tells the page whether and where it may offer Entra ID sign-in
(public identifiers only: a public client has no secret).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from app.console.security import security_headers
from app.settings import EntraConfig

STATIC = Path(__file__).resolve().parent / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}
FILES: dict[str, Path] = {
    path.relative_to(STATIC).as_posix(): path for path in sorted(STATIC.rglob("*")) if path.is_file()
}


def _media_type(path: Path) -> str:
    return _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def console_app(entra: EntraConfig) -> Starlette:
    """The console's files and its sign-in configuration, every answer with the security headers; the CSP
    lets the page reach the Entra ID authority only when sign-in there is configured."""
    headers = security_headers([entra.authority_origin] if entra.console_sign_in else [])
    # no-cache: the browser revalidates (ETag / Last-Modified), so a new release is picked up at once.
    cached = {**headers, "Cache-Control": "no-cache"}

    def file(name: str) -> Response:
        path = FILES.get(name)
        if path is None:
            return PlainTextResponse("Not found", status_code=404, headers=headers)
        return FileResponse(path, media_type=_media_type(path), headers=cached)

    async def index(request: Request) -> Response:
        """The single page."""
        return file("index.html")

    async def config(request: Request) -> Response:
        """How the page may sign in: Entra ID's public client settings, or null (API keys only)."""
        return JSONResponse(
            {"entra": _entra_sign_in(entra, mounted_at=request.scope.get("root_path", ""))}, headers=cached
        )

    async def static_file(request: Request) -> Response:
        """One of the console's files (modules, style sheet, icon); anything else is a 404."""
        return file(str(request.path_params["name"]))

    return Starlette(routes=[Route("/", index), Route("/config.json", config), Route("/{name:path}", static_file)])


def _entra_sign_in(entra: EntraConfig, *, mounted_at: str) -> dict[str, str] | None:
    # Identifiers a public client shows anyway (they travel in the authorize address); no secret exists.
    if not entra.console_sign_in:
        return None
    return {
        "client_id": str(entra.console_client_id),
        "authority": entra.effective_authority,
        "scope": str(entra.console_scope),
        "redirect_path": f"{mounted_at.rstrip('/')}/",  # the page itself: /console/
    }
