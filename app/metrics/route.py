"""``GET /metrics`` (Prometheus text format) and the one call that installs metrics on the API.

Unauthenticated by default, as scrape endpoints usually are (put it behind the network policy that
already guards the API); ``REPROTECT_METRICS__BEARER_TOKEN`` makes it require that bearer token
(Prometheus' ``authorization`` scrape setting) and ``REPROTECT_METRICS__ENABLED=false`` removes it (404) and
the HTTP instrumentation with it. Not part of the OpenAPI contract: it is for Prometheus, not for portals.
"""

from __future__ import annotations

import hmac

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.registry import CollectorRegistry
from sqlalchemy.orm import Session, sessionmaker

from app.auth.tokens import AuthError
from app.metrics.fleet import FleetCollector
from app.metrics.http import HttpMetrics
from app.metrics.registry import render, scrape_registry
from app.settings import Settings, get_settings

PATH = "/metrics"


def install(app: FastAPI, settings: Settings | None = None) -> None:
    """Add ``/metrics`` and the HTTP instrumentation to ``app`` (outermost: it times every other layer)."""
    settings = settings or get_settings()
    config = settings.metrics
    if not config.enabled:
        return
    token = config.bearer_token.get_secret_value().encode() if config.bearer_token else None

    def sessions_of() -> sessionmaker[Session] | None:
        container = getattr(app.state, "container", None)
        return container.sessions if container is not None else None

    fleet = FleetCollector(sessions_of, redispatch_after=settings.job.redispatch_after_seconds)
    registry: CollectorRegistry = scrape_registry(fleet)

    def metrics(request: Request) -> Response:
        """Prometheus text exposition of every process's metrics and the fleet gauges."""
        if token is not None:
            given = request.headers.get("authorization", "")
            scheme, _, credential = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(credential.strip().encode(), token):
                raise AuthError("A valid bearer token is required to read the metrics.", code="unauthenticated")
        return Response(render(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route(PATH, metrics, methods=["GET"], include_in_schema=False)
    app.add_middleware(HttpMetrics)
