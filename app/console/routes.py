"""``/console``: the operator console's files, served from this package with a strict security policy.

No build step and no CDN: every file lives in ``static/`` and is listed once at import, so a request can
only ever name one of them (no path is joined from user input). The console talks to the API with the
key the operator signs in with (``Authorization: Bearer``, kept in the tab's sessionStorage); it sets no
cookie, so there is nothing for a cross-site request to ride on.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse, Response

from app.console.security import SECURITY_HEADERS

STATIC = Path(__file__).resolve().parent / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}
FILES: dict[str, Path] = {
    path.relative_to(STATIC).as_posix(): path for path in sorted(STATIC.rglob("*")) if path.is_file()
}

router = APIRouter(include_in_schema=False)


def _media_type(path: Path) -> str:
    return _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _file(name: str) -> Response:
    path = FILES.get(name)
    if path is None:
        return Response("Not found", status_code=404, media_type="text/plain", headers=SECURITY_HEADERS)
    # no-cache: the browser revalidates (ETag / Last-Modified), so a new release is picked up at once.
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
    return FileResponse(path, media_type=_media_type(path), headers=headers)


@router.get("/console")
def console_root() -> Response:
    """The console's page lives at ``/console/`` so its relative module paths resolve under it."""
    return RedirectResponse("/console/", status_code=308, headers=SECURITY_HEADERS)


@router.get("/console/")
def console_index() -> Response:
    """The single page."""
    return _file("index.html")


@router.get("/console/{name:path}")
def console_file(name: str) -> Response:
    """One of the console's files (modules, style sheet, icon); anything else is a 404."""
    return _file(name)
