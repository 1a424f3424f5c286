"""``reprotect worker --metrics-port``: the worker's supervisor serves the metrics its Celery processes record,
for hosts with no exporter beside the worker (docker-compose's replicas; Kubernetes pods run
``app.metrics.exporter`` as a sidecar instead). Same registry and port as that exporter."""

from __future__ import annotations

import os
import tempfile

from app.metrics.registry import MULTIPROC_ENV, multiprocess_dir, scrape_registry


def serve(*, host: str, port: int) -> str:
    """Serve ``/metrics`` on ``host``:``port`` from a thread of this process, summing the multiprocess directory
    the worker processes started after this call write to: ``PROMETHEUS_MULTIPROC_DIR`` when set (its owner
    empties it), else a fresh one of this supervisor's own. The directory."""
    path = multiprocess_dir()
    if path is None:
        # Fresh per supervisor: a restarted container never counts the files of its previous run.
        path = tempfile.mkdtemp(prefix="reprotect-worker-metrics-")
        os.environ[MULTIPROC_ENV] = path  # inherited by every Celery process the supervisor starts
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=scrape_registry())
    return path
