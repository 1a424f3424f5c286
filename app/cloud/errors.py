"""Azure's errors as the service's: throttled (come back after Retry-After), transient (back off), or
permanent (with Azure's own code). Every SDK exception leaves ``app.cloud`` through :func:`translated`.

Site Recovery answers a refusal in ARM's envelope with a generic top-level code (``BadRequest``,
``Conflict``, ...) and its own code, causes and action in ``error.details[]``; the service records ASR's.
A failure of the service's own identity (Entra ID, ARM 401) or a missing role (ARM 403) is permanent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from app.cloud.authz import FORBIDDEN_CODES, forbidden_message, read_denial
from app.errors import CloudAuthFailed, CloudError, CloudForbidden, CloudPermanent, CloudThrottled, CloudTransient

# Top-level codes that only restate the HTTP status: the service's own code is then in ``details[]``.
_GENERIC_CODES = frozenset(
    {"badrequest", "conflict", "notfound", "forbidden", "preconditionfailed", "internalservererror"}
)


def translate_error(exc: Exception) -> CloudError:
    """Classify an SDK exception: throttled, transient, or permanent with Azure's own code."""
    if isinstance(exc, ClientAuthenticationError) and exc.status_code in (None, 400, 401):
        # Raised by azure-identity (CredentialUnavailableError is one; Entra ID's own 400/401 answers carry
        # their status): no token, so no request left. ARM's 401 comes this way too.
        return auth_failed(str(exc.message or exc))
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        status = exc.status_code
        headers: Any = getattr(exc.response, "headers", None) or {}
        retry_after = _retry_after(headers.get("Retry-After"))
        raw = _error_body(exc)
        top_code = exc.error.code if exc.error is not None and exc.error.code else _str(raw.get("code"))
        top_message = exc.error.message if exc.error is not None and exc.error.message else str(exc.message)
        if status == 429:
            return CloudThrottled(f"Azure throttled the request: {top_message}", retry_after=retry_after or 30.0)
        if status >= 500 or status == 408:
            return CloudTransient(f"Azure answered {status}: {top_message}", status=status, retry_after=retry_after)
        if status == 401:
            return auth_failed(f"Azure Resource Manager answered 401 {top_code or ''}: {top_message}".strip())
        if status == 403 or (top_code or "").lower() in FORBIDDEN_CODES:
            return _forbidden(top_code, top_message, status, raw)
        code, message, details = _service_error(top_code, top_message, raw)
        return CloudPermanent(message, code=code or str(status), status=status, details=details)
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return CloudTransient(f"Azure could not be reached: {exc}")
    if isinstance(exc, CloudError):
        return exc
    return CloudTransient(f"Unexpected error talking to Azure: {exc!r}")


def auth_failed(said: str) -> CloudAuthFailed:
    """The service's identity cannot sign in; ``said`` is what Entra ID or ARM answered."""
    said = said.strip() or "no reason given"
    return CloudAuthFailed(
        f"The service's identity cannot sign in: {said}",
        status=401,
        details={"reason": said, "action": "Check the identity's credentials (REPROTECT_AZURE__*), then retry."},
    )


def _forbidden(code: str | None, message: str, status: int, raw: dict[str, Any]) -> CloudForbidden:
    denial = read_denial(message)
    details: dict[str, Any] = {"azure_code": code, "azure_message": message, **denial.as_details()}
    if raw:
        details["azure_error"] = raw
    return CloudForbidden(forbidden_message(denial, message), status=status, details=details)


def _service_error(
    top_code: str | None, top_message: str, raw: dict[str, Any]
) -> tuple[str | None, str, dict[str, Any]]:
    """The code and message to record (ASR's from ``details[]`` under a generic top-level code) and the
    problem details: Azure's top-level code, ASR's code, possible causes, recommended action, the raw error."""
    inner = next((d for d in raw.get("details") or [] if isinstance(d, dict) and _str(d.get("code"))), None)
    use_inner = inner is not None and (top_code is None or top_code.lower() in _GENERIC_CODES)
    source = inner if use_inner and inner is not None else raw
    code = _str(source.get("code")) if use_inner else top_code
    message = (_str(source.get("message")) if use_inner else None) or top_message
    details: dict[str, Any] = {
        "azure_code": top_code,
        "asr_code": code if use_inner else None,
        "azure_message": top_message if message != top_message else None,
        "possible_causes": _str(source.get("possibleCauses")) or _str(raw.get("possibleCauses")),
        "recommended_action": _str(source.get("recommendedAction")) or _str(raw.get("recommendedAction")),
    }
    details = {key: value for key, value in details.items() if value}
    if raw:
        details["azure_error"] = raw
    return code, message, details


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _error_body(exc: HttpResponseError) -> dict[str, Any]:
    try:
        body = exc.response.json() if exc.response is not None else None  # type: ignore[attr-defined]
    except Exception:  # not JSON, or a response type without .json(): no body to read
        body = None
    error = body.get("error", body) if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


@contextmanager
def translated() -> Iterator[None]:
    """Run the block; any SDK error leaves it as a :class:`CloudError`."""
    try:
        yield
    except CloudError:
        raise
    except (HttpResponseError, ServiceRequestError, ServiceResponseError) as exc:
        raise translate_error(exc) from exc
