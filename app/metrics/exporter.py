"""A stand-alone scrape endpoint for hosts without an API process (worker-only pods or VMs): serves every
process's metrics from this host's ``PROMETHEUS_MULTIPROC_DIR``, without the database-read fleet gauges
(the API serves those). ``python -m app.metrics.exporter --port 9464``.
"""

from __future__ import annotations

import argparse
import threading

from prometheus_client import start_http_server

from app.metrics.registry import multiprocess_dir, scrape_registry


def main(argv: list[str] | None = None) -> None:
    """Serve ``/metrics`` on ``--host``:``--port`` until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on")
    parser.add_argument("--port", type=int, default=9464, help="port to listen on")
    args = parser.parse_args(argv)
    if multiprocess_dir() is None:
        parser.error("PROMETHEUS_MULTIPROC_DIR must name the directory the workers of this host write to")
    start_http_server(args.port, addr=args.host, registry=scrape_registry())
    threading.Event().wait()


if __name__ == "__main__":
    main()
