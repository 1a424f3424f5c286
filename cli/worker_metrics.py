"""``reprotect worker --metrics-port``: the worker's supervisor serves the metrics its Celery processes record,
for hosts with no exporter beside the worker (docker-compose's replicas; Kubernetes pods run
``app.metrics.exporter`` as a sidecar instead). Same registry and port as that exporter."""

from __future__ import annotations

from app.metrics.registry import scrape_registry, shared_directory_for


def serve(*, host: str, port: int) -> str:
    """Serve ``/metrics`` on ``host``:``port`` from a thread of this process, summing the multiprocess directory
    the worker processes started after this call record into: ``PROMETHEUS_MULTIPROC_DIR`` when set (its owner
    empties it), else a fresh one set in the environment they inherit. The directory."""
    # At least two processes: this supervisor serves, the Celery worker it starts (and restarts) records.
    path = shared_directory_for(2)
    assert path is not None  # several processes always get a directory
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=scrape_registry())
    return path
