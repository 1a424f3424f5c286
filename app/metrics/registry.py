"""Which registry ``/metrics`` renders: every process's metrics summed from ``PROMETHEUS_MULTIPROC_DIR``
when it is set (several uvicorn workers, Celery's prefork children), else this process's own registry;
plus, in the API, the fleet gauges read from the database at scrape time.

The directory must be set in the environment before any process starts (prometheus_client reads it on
import), shared by every process of one host, and emptied before they start (stale files of dead processes
would otherwise keep counting).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The multiprocess directory, when this process runs in multiprocess mode."""
    return os.environ.get(MULTIPROC_ENV) or None


class _ThisProcess(Collector):
    """This process's default registry (the metrics of ``definitions`` plus process and GC collectors)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def scrape_registry(*extra: Collector) -> CollectorRegistry:
    """A registry for one scrape endpoint: every process's metrics (or this one's) and ``extra`` collectors."""
    registry = CollectorRegistry(auto_describe=False)
    path = multiprocess_dir()
    if path:
        MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ThisProcess())
    for collector in extra:
        registry.register(collector)
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The Prometheus text exposition of ``registry``."""
    return generate_latest(registry)


def fresh_multiprocess_dir(path: Path) -> Path:
    """Create ``path`` empty of metric files (before the processes that will write there start)."""
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    return path


def shared_directory_for(processes: int) -> str | None:
    """The multiprocess directory ``processes`` processes of one host record into, set in the environment
    before they start: the configured one, else (several processes) a fresh one of their own — without it each
    uvicorn worker would answer ``/metrics`` with its own counts only, a fraction of the truth. One process
    and nothing configured: None (its own registry is the whole truth)."""
    configured = multiprocess_dir()
    if configured or processes <= 1:
        return configured
    path = fresh_multiprocess_dir(Path(tempfile.mkdtemp(prefix="reprotect-metrics-")))
    os.environ[MULTIPROC_ENV] = str(path)
    atexit.register(shutil.rmtree, path, ignore_errors=True)  # made by this process: gone when it ends
    return str(path)
