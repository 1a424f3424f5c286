"""The service's one error hierarchy: stable string codes, no HTTP knowledge.

    ServiceError
    ├── NotFound                 an id that does not exist (or is not visible)
    ├── InvalidRequest           input the service refuses (bad shape, unsupported customisation)
    ├── Conflict                 the request clashes with current state (active job, wrong state)
    ├── Forbidden                authenticated, but the role or the scopes do not allow it
    ├── RateLimited              the caller sent too many requests; retry after ``retry_after``
    ├── PrerequisitesFailed      one or more VMs cannot be reprotected; carries a problem per VM
    └── CloudError               Azure answered badly
        ├── CloudThrottled       429: retry after ``retry_after`` seconds
        ├── CloudTransient       5xx, timeouts, connection errors: retry with backoff
        └── CloudPermanent       4xx with ASR's code and message: do not retry
            ├── CloudAuthFailed  the service's own identity cannot sign in (Entra ID, ARM 401)
            └── CloudForbidden   ARM 403: the identity lacks a role for an action over a scope

The API maps classes to HTTP statuses in one table (``app.api.problems``); workers map them to
retry-or-fail (``app.job.service``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ServiceError(Exception):
    """Base of every error the service raises on purpose."""

    code: str = "service_error"

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = details or {}


class NotFound(ServiceError):
    """The named resource does not exist."""

    code = "not_found"


class InvalidRequest(ServiceError):
    """The request is well-formed JSON but asks for something the service refuses."""

    code = "invalid_request"


class Conflict(ServiceError):
    """The request clashes with the current state of a job or VM."""

    code = "conflict"


class Forbidden(ServiceError):
    """The caller is known but lacks the role or the scope for this."""

    code = "forbidden"


class RateLimited(ServiceError):
    """The caller's request budget is spent for now."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class VmProblem:
    """Why one VM of a request cannot be reprotected, and what the operator should do."""

    vm: str
    code: str
    message: str
    asr_error: dict[str, Any] | None = field(default=None)


class PrerequisitesFailed(ServiceError):
    """At least one VM failed its prerequisite checks; nothing was created."""

    code = "prerequisites_failed"

    def __init__(self, problems: list[VmProblem], *, conflict: bool = False):
        super().__init__(f"{len(problems)} VM(s) cannot be reprotected")
        self.problems = problems
        # A clash with running work (an active job or ASR operation) is a conflict; the rest is input.
        self.conflict = conflict


class CloudError(ServiceError):
    """Azure (or the emulator) answered with an error."""

    code = "azure_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ):
        super().__init__(message, code=code, details=details)
        self.status = status


class CloudThrottled(CloudError):
    """Azure Resource Manager throttled us; ``retry_after`` says when to come back."""

    code = "azure_throttled"

    def __init__(self, message: str, *, retry_after: float, status: int | None = 429):
        super().__init__(message, status=status)
        self.retry_after = retry_after


class CloudTransient(CloudError):
    """A failure that is expected to pass: 5xx, timeouts, dropped connections."""

    code = "azure_transient"

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message, status=status)
        self.retry_after = retry_after


class CloudPermanent(CloudError):
    """Azure refused for good; ``code`` is ASR's or ARM's own error code."""

    code = "azure_refused"


class CloudAuthFailed(CloudPermanent):
    """The service's identity cannot get or use a token (Entra ID refused, ARM answered 401)."""

    code = "azure_auth_failed"


class CloudForbidden(CloudPermanent):
    """ARM refused an action to the service's identity (403); ``details`` name the principal, action, scope."""

    code = "azure_forbidden"
