"""Long-running operation answers exactly as ASR gives them: 202, empty body, Location,
Azure-AsyncOperation and a (scaled) Retry-After; then operation status and operation results."""

from __future__ import annotations

from typing import Any

from emulator import simulation as sim
from emulator.errors import ArmError
from emulator.router import Ctx, Reply
from emulator.state import Operation, Vault


def retry_after(ctx: Ctx) -> str:
    """ASR's Retry-After (30 s) divided by the time scale, at least 1 s."""
    return str(sim.lro_retry_after(ctx.emulator.clock.time_scale))


def _url(ctx: Ctx, path: str) -> str:
    return f"{ctx.base_url.rstrip('/')}{path}?api-version={ctx.api_version}"


def accepted(ctx: Ctx, vault: Vault, op: Operation, results_path: str) -> Reply:
    """The 202 answer; ``results_path`` is the resource (container, item, job) the results hang off."""
    vault.operations[op.name.lower()] = op
    return Reply(
        202,
        None,
        {
            "Location": _url(ctx, f"{results_path}/operationresults/{op.name}"),
            "Azure-AsyncOperation": _url(ctx, f"{vault.id}/replicationOperationStatus/{op.name}"),
            "Retry-After": retry_after(ctx),
        },
    )


def results(ctx: Ctx, op: Operation, final: dict[str, Any]) -> Reply:
    """``GET .../operationresults/{guid}``: 202 while running, then the final resource (or the error)."""
    if op.status is None:
        return Reply(202, None, {"Location": _url(ctx, ctx.path), "Retry-After": retry_after(ctx)})
    if op.status == "Succeeded":
        return Reply(200, final)
    error = op.error or {"code": "OperationFailed", "message": "The operation failed."}
    raise ArmError(400, str(error.get("code")), str(error.get("message")))
