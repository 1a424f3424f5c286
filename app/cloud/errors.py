"""Azure's errors as the service's: throttled (come back after Retry-After), transient (back off), or
permanent (with Azure's own code). Every SDK exception leaves ``app.cloud`` through :func:`translated`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

from app.errors import CloudError, CloudPermanent, CloudThrottled, CloudTransient


def translate_error(exc: Exception) -> CloudError:
    """Classify an SDK exception: throttled, transient, or permanent with Azure's own code."""
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        status = exc.status_code
        headers: Any = getattr(exc.response, "headers", None) or {}
        retry_after = _retry_after(headers.get("Retry-After"))
        code = exc.error.code if exc.error is not None and exc.error.code else str(status)
        message = exc.error.message if exc.error is not None and exc.error.message else str(exc.message)
        if status == 429:
            return CloudThrottled(f"Azure throttled the request: {message}", retry_after=retry_after or 30.0)
        if status >= 500 or status == 408:
            return CloudTransient(f"Azure answered {status}: {message}", status=status, retry_after=retry_after)
        return CloudPermanent(message, code=code, status=status, details=_error_body(exc))
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return CloudTransient(f"Azure could not be reached: {exc}")
    if isinstance(exc, CloudError):
        return exc
    return CloudTransient(f"Unexpected error talking to Azure: {exc!r}")


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _error_body(exc: HttpResponseError) -> dict[str, Any]:
    try:
        body = exc.response.json() if exc.response is not None else None  # type: ignore[attr-defined]
    except ValueError:
        body = None
    return body.get("error", body) if isinstance(body, dict) else {}


@contextmanager
def translated() -> Iterator[None]:
    """Run the block; any SDK error leaves it as a :class:`CloudError`."""
    try:
        yield
    except CloudError:
        raise
    except (HttpResponseError, ServiceRequestError, ServiceResponseError) as exc:
        raise translate_error(exc) from exc
