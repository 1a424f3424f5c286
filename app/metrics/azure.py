"""Azure call metrics: an azure-core pipeline policy counting every HTTP request to ARM / Site Recovery by
operation and status (each retry is a request), its time, and the Retry-After of 429 answers; and the
seconds reads waited for the service's share of the ARM read budget.

The operation is named from the request, not the SDK method: the method and the last resource type of the
ARM path (``POST replicationProtectionContainers/switchprotection``, ``GET replicationJobs``), so the label
stays bounded whatever the names and ids in the path.
"""

from __future__ import annotations

import re
import time
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from azure.core.pipeline.policies import SansIOHTTPPolicy

from app.metrics import definitions as m

_STARTED = "reprotect_metrics_started"
_PROVIDERS = re.compile(r"/providers/", re.IGNORECASE)


class AzureCallMetrics(SansIOHTTPPolicy):  # type: ignore[type-arg]
    """Counts and times each request that leaves for Azure (placed after the retry policy: every try)."""

    def on_request(self, request: Any) -> None:
        request.context[_STARTED] = time.perf_counter()

    def on_response(self, request: Any, response: Any) -> None:
        http = request.http_request
        status = response.http_response.status_code
        operation = operation_of(http.method, http.url)
        _observe(request, operation, str(status))
        if status == 429:
            m.AZURE_RETRY_AFTER.inc(_retry_after(response.http_response.headers.get("Retry-After")))

    def on_exception(self, request: Any) -> None:
        http = request.http_request
        _observe(request, operation_of(http.method, http.url), "error")


def _observe(request: Any, operation: str, status: str) -> None:
    m.AZURE_REQUESTS.labels(operation, status).inc()
    started = request.context.get(_STARTED)
    if started is not None:
        m.AZURE_REQUEST_DURATION.labels(operation).observe(time.perf_counter() - started)


def operation_of(method: str, url: str) -> str:
    """``METHOD type[/action]`` for an ARM request URL (see the module docstring)."""
    return _operation(method.upper(), urlsplit(url).path)


@lru_cache(maxsize=4096)
def _operation(method: str, path: str) -> str:
    parts = _PROVIDERS.split(path)
    if len(parts) < 2:  # subscription-level: /subscriptions/{id}/resourcegroups/{name}, /subscriptions/{id}
        segments = [s for s in path.split("/") if s]
        types = segments[0::2]
        return f"{method} {types[-1] if types else '/'}"
    segments = [s for s in parts[-1].split("/") if s][1:]  # drop the namespace (Microsoft.RecoveryServices)
    types = segments[0::2]  # type, name, type, name, ... [action]
    if len(segments) % 2 == 1 and len(types) >= 2:  # a collection or an action: name its owner too
        return f"{method} {types[-2]}/{types[-1]}"
    return f"{method} {types[-1] if types else '/'}"


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:  # an HTTP date: rare from ARM; counted as a request, not as seconds
        return 0.0


def read_budget_waited(seconds: float) -> None:
    """A read waited ``seconds`` for the read budget (``app.cloud.budget.ReadBudget.acquire``)."""
    if seconds > 0:
        m.AZURE_READ_BUDGET_WAIT.inc(seconds)
