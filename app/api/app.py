"""The FastAPI application factory; the container is built in the lifespan, never at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app.api import contract, docs_pages, openapi_links, problems, query_params
from app.api.coalesce import Coalescer
from app.api.context import RequestContext
from app.api.limits import BodySizeLimit
from app.api.routes import admin, bulk, fleet, health, jobs, reprotect, webhooks
from app.api.routes import campaigns as campaign_routes
from app.api.routes import drills as drill_routes
from app.api.routes import events as event_routes
from app.api.routes import failovers as failover_routes
from app.api.routes import me as me_routes
from app.api.routes import metrics as metrics_route
from app.api.routes import status as status_routes
from app.bootstrap import Container, bootstrap
from app.console import routes as console_routes
from app.events import lifecycle as event_stream
from app.heap import freeze_started_heap
from app.read_pool import AsyncReadPool
from app.settings import get_settings

DESCRIPTION = """Reprotect Azure VMs after a failover, at fleet scale.

`POST /reprotect` checks every prerequisite (failover committed, target region available, original VM
neither moved nor deleted, reverse mappings present, nothing running) and accepts one job per VM;
workers drive each job through `accepted → validating → submitting → reprotecting → syncing →
protected`. Errors are RFC 9457 problem+json documents with a stable `code`.
"""


def create_app(container: Container | None = None) -> FastAPI:
    """The API; pass a container to inject one (tests), else one is built from the environment."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = container is None
        built = container or bootstrap()
        app.state.container = built
        database = built.settings.database
        app.state.read_pool = await AsyncReadPool.open(database.url, size=database.pool_size)
        app.state.coalescer = Coalescer()  # identical reads arriving together share one run
        freeze_started_heap()  # the SDK's and our modules' objects out of every full collection
        try:
            async with event_stream.running(app, built.sessions, built.settings.events):
                yield
        finally:
            if app.state.read_pool is not None:
                await app.state.read_pool.close()
            if own:
                built.close()

    app = FastAPI(
        title="Reprotect service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(query_params.known_only)],  # unknown query parameters are a 422 on every route
        docs_url=None,  # served by docs_pages with local assets (no CDN)
        redoc_url=None,
    )
    problems.install(app)
    app.include_router(reprotect.router)
    app.include_router(bulk.router)  # /jobs:retry, /jobs:cancel (no clash with /jobs/{job_id}: no slash)
    app.include_router(jobs.router)
    app.include_router(event_routes.router)
    app.include_router(webhooks.router)
    app.include_router(admin.router)
    app.include_router(health.router)
    app.include_router(fleet.router)
    app.include_router(status_routes.router)
    app.include_router(me_routes.router)  # GET /me: the caller's role and scopes (for the console)
    app.include_router(drill_routes.router)  # POST /drills, /drills/{id}/cleanup: test failover (issue 15)
    app.include_router(failover_routes.router)  # POST /failovers, /failovers/{id}/commit (issue 15, slice 2)
    app.include_router(campaign_routes.router)  # /campaigns: the whole way home (issue 15, slice 3)
    all_settings = container.settings if container else get_settings()
    # The operator console: static files, strict CSP, Entra ID sign-in where configured.
    app.mount("/console", console_routes.console_app(all_settings.auth.entra))
    settings = all_settings.api
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:  # closed unless configured
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-None-Match", "X-Request-Id"],
            expose_headers=["Location", "Retry-After", "ETag", "X-Request-Id", "Idempotent-Replayed"],
        )
    app.add_middleware(RequestContext)  # outermost: every answer carries the request id
    metrics_route.install(app, container.settings if container else None)  # /metrics; times requests (outside all)
    openapi_links.install(app)
    query_params.install(app)
    contract.install(app, public_base_url=settings.public_base_url)
    docs_pages.install(app)
    return app
