"""``/console``: the operator console's files, served from this package with a strict security policy.

A small Starlette app the API mounts at ``/console``: mounted apps stay out of the OpenAPI document and
out of the API's route table (they are files, not operations). No build step and no CDN: every file lives
in ``static/`` and is listed once at import, so a request can only ever name one of them (no path is
joined from user input). The console talks to the API with the key the operator signs in with
(``Authorization: Bearer``, kept in the tab's sessionStorage); it sets no cookie, so there is nothing for a
cross-site request to ride on.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from app.console.security import SECURITY_HEADERS

STATIC = Path(__file__).resolve().parent / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}
FILES: dict[str, Path] = {
    path.relative_to(STATIC).as_posix(): path for path in sorted(STATIC.rglob("*")) if path.is_file()
}


def _media_type(path: Path) -> str:
    return _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _file(name: str) -> Response:
    path = FILES.get(name)
    if path is None:
        return PlainTextResponse("Not found", status_code=404, headers=SECURITY_HEADERS)
    # no-cache: the browser revalidates (ETag / Last-Modified), so a new release is picked up at once.
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
    return FileResponse(path, media_type=_media_type(path), headers=headers)


async def index(request: Request) -> Response:
    """The single page."""
    return _file("index.html")


async def static_file(request: Request) -> Response:
    """One of the console's files (modules, style sheet, icon); anything else is a 404."""
    return _file(str(request.path_params["name"]))


console_app = Starlette(routes=[Route("/", index), Route("/{name:path}", static_file)])
