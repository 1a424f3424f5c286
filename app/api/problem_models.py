"""The documented shape of every error answer: an RFC 9457 problem with the extensions the service emits.

``app.api.problems`` builds the answers; these models only describe them for the OpenAPI document (the
contract tests check every answer against them). Members beyond these are allowed, as RFC 9457 says.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class VmRefusal(BaseModel):
    """Why one VM of a ``POST /reprotect`` cannot be reprotected (one item of a problem's ``vms``)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "vm": "vm-web-01",
                    "code": "failover_not_committed",
                    "message": "The failover of vm-web-01 is not committed; commit it in Azure Site Recovery first.",
                }
            ]
        },
    )

    vm: str = Field(description="The VM as the request named it: its item id, or vault and name")
    code: str = Field(description="Why this VM is refused: a per-VM code of `x-error-codes` (scope `vm`)")
    message: str = Field(description="What is wrong and what the operator should do")
    asr_error: dict[str, Any] | None = Field(
        default=None, description="Azure's own answer when Azure refused (its code, message, possible causes)"
    )


class FieldError(BaseModel):
    """One field of the request that does not validate (one item of a problem's ``errors``)."""

    model_config = ConfigDict(extra="allow")

    location: list[str | int] = Field(description="Where: `body`, `query`, `path` or `header`, then the field path")
    message: str = Field(description="What is wrong with it")
    type: str = Field(description="The kind of error (pydantic's error type, or `unknown_query_parameter`)")


class Problem(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``) with a stable ``code``.

    ``code`` is one of the problem codes of the ``x-error-codes`` table (or, in a 502, Azure's own).
    ``vms`` comes with ``prerequisites_failed`` and ``vm_has_active_job`` refusals of ``POST /reprotect``;
    ``errors`` with ``validation_failed``; ``details`` with some service errors (e.g. the Azure action
    refused in ``azure_forbidden``, the reason of ``webhook_url_refused``).
    """

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:reprotect:problem:job_not_found",
                    "title": "Not found",
                    "status": 404,
                    "detail": "No job 3f2b6c1e-8a4d-4f7e-9b1a-2c5d6e7f8a9b.",
                    "code": "job_not_found",
                }
            ]
        },
    )

    type: str = Field(description="`urn:reprotect:problem:<code>`: identifies the kind of problem")
    title: str = Field(description="A short summary of the kind of problem")
    status: int = Field(description="The HTTP status code of this answer")
    detail: str = Field(description="What went wrong this time, and what to do")
    instance: str | None = Field(
        default=None, description="RFC 9457 member; not set by this service (the X-Request-Id header names the call)"
    )
    code: str = Field(description="A stable machine-readable code: see `x-error-codes`")
    vms: list[VmRefusal] | None = Field(default=None, description="Each VM refused, with its own code")
    errors: list[FieldError] | None = Field(default=None, description="Each field that does not validate")
    details: dict[str, Any] | None = Field(default=None, description="More about the error, by code")
