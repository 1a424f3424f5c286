"""``GET /metrics`` (Prometheus text format, ``app.metrics``) and the one call that installs metrics on the API.

Like every route but the health probes, it asks for a credential: an API key (or Entra ID token) with the
reader role and unrestricted scope, since the figures are fleet-wide. Prometheus sends the key as a bearer
token (``authorization: {credentials_file: ...}`` in the scrape config). ``REPROTECT_METRICS__PUBLIC=true``
drops the check (a scrape network no caller reaches); ``REPROTECT_METRICS__ENABLED=false`` removes the route
(404) and the HTTP timing. Not part of the OpenAPI contract: it is for Prometheus, not for portals.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.orm import Session, sessionmaker

from app.api.security import Reader
from app.errors import Forbidden
from app.metrics.fleet import FleetCollector
from app.metrics.http import HttpMetrics
from app.metrics.registry import render, scrape_registry
from app.settings import Settings, get_settings

PATH = "/metrics"


def install(app: FastAPI, settings: Settings | None = None) -> None:
    """Add ``/metrics`` and the HTTP instrumentation to ``app`` (outermost: it times every other layer)."""
    settings = settings or get_settings()
    if not settings.metrics.enabled:
        return

    def sessions_of() -> sessionmaker[Session] | None:
        container = getattr(app.state, "container", None)
        return container.sessions if container is not None else None

    registry = scrape_registry(FleetCollector(sessions_of, redispatch_after=settings.job.redispatch_after_seconds))

    def exposition() -> Response:
        return Response(render(registry), media_type=CONTENT_TYPE_LATEST)

    def metrics(principal: Reader) -> Response:
        """Prometheus text exposition of every process's metrics and the fleet gauges."""
        if not principal.scopes.is_unrestricted:
            raise Forbidden("The metrics are fleet-wide: they need a key of unrestricted scope.", code="outside_scope")
        return exposition()

    endpoint: Callable[..., Response] = exposition if settings.metrics.public else metrics
    app.add_api_route(PATH, endpoint, methods=["GET"], include_in_schema=False)
    app.add_middleware(HttpMetrics)
