"""The ASGI app: the admin API under ``/_emulator`` and every other path as Azure Resource Manager."""

from __future__ import annotations

import asyncio
import json

from fastapi import FastAPI, Request, Response

from emulator.routes_admin import router as admin_router
from emulator.runtime import Emulator

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def create_app(scenario: str = "demo", time_scale: float | None = None, seed: int = 0) -> FastAPI:
    """An emulator app for ``scenario`` (built-in name, ``fleet:N[:S]`` or file), keeping state on
    ``app.state.emulator``."""
    app = FastAPI(title="Azure Site Recovery emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.emulator = Emulator(scenario, time_scale, seed)
    app.include_router(admin_router)

    @app.api_route("/{path:path}", methods=_METHODS, include_in_schema=False)
    async def arm(request: Request, path: str) -> Response:
        emulator: Emulator = request.app.state.emulator
        if path.startswith("_emulator"):
            return Response(json.dumps({"detail": "Not Found"}), 404, media_type="application/json")
        body = await request.body()
        held = emulator.faults.latency_for(request.method)
        if held > 0:  # the request is handled after the hold even if its caller gave up meanwhile
            await asyncio.sleep(held)
        reply = emulator.handle(
            request.method,
            request.url.path,
            dict(request.query_params),
            dict(request.headers),
            body,
            str(request.base_url),
        )
        content = b"" if reply.body is None else json.dumps(reply.body).encode()
        media = None if reply.body is None else "application/json; charset=utf-8"
        return Response(content, reply.status, headers=reply.headers, media_type=media)

    return app
