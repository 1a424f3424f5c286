"""The admin API under ``/_emulator`` (no auth): scenario, stats, reset, throttle, faults, access, outages,
time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from emulator import admin_views
from emulator.access import Access
from emulator.faults import Faults
from emulator.runtime import Emulator

router = APIRouter(prefix="/_emulator")


def _emulator(request: Request) -> Emulator:
    emulator: Emulator = request.app.state.emulator
    return emulator


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise HTTPException(400, f"The body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise HTTPException(400, "The body must be a JSON object.")
    return body


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness."""
    return {"status": "ok"}


@router.get("/scenario")
async def get_scenario(request: Request) -> dict[str, Any]:
    """Subscriptions, vaults, fabrics and items with their current ids."""
    return _emulator(request).describe()


@router.get("/items/{name}")
async def get_item(request: Request, name: str) -> dict[str, Any]:
    """One item (by item or VM name) with the artifacts of its last reprotect."""
    found = admin_views.item_details(_emulator(request), name)
    if found is None:
        raise HTTPException(404, f"No item named '{name}'.")
    return found


@router.get("/stats")
async def get_stats(request: Request) -> dict[str, Any]:
    """Request counters."""
    return _emulator(request).stats.describe()


@router.post("/reset")
async def reset(request: Request) -> dict[str, Any]:
    """Reload the scenario; clear faults, access denials and stats; restart the clock (throttle settings stay)."""
    emulator = _emulator(request)
    emulator.reset()
    return {"status": "reset", "time_scale": emulator.clock.time_scale}


@router.get("/throttle")
async def get_throttle(request: Request) -> dict[str, Any]:
    """The throttle configuration."""
    return _emulator(request).throttle.describe()


@router.put("/throttle")
async def put_throttle(request: Request) -> dict[str, Any]:
    """Set bucket sizes/rates (this also turns throttling on) or ``{"enabled": false}``."""
    throttle = _emulator(request).throttle
    try:
        throttle.configure(await _body(request))
    except (TypeError, ValueError) as exc:
        raise HTTPException(400, str(exc)) from exc
    return throttle.describe()


@router.get("/faults")
async def get_faults(request: Request) -> dict[str, Any]:
    """Injected faults."""
    return _emulator(request).faults.describe()


@router.delete("/faults")
async def clear_faults(request: Request) -> dict[str, Any]:
    """Clear every fault (not the throttle, not outages)."""
    faults = _emulator(request).faults
    faults.clear()
    return faults.describe()


async def _change_faults(request: Request, change: Callable[[Faults, dict[str, Any]], object]) -> dict[str, Any]:
    """Apply ``change`` to the faults with the request's body; a bad body is a 400."""
    faults = _emulator(request).faults
    body = await _body(request)
    try:
        change(faults, body)
    except (TypeError, ValueError) as exc:
        raise HTTPException(400, str(exc)) from exc
    return faults.describe()


@router.put("/faults/transient")
async def put_transient(request: Request) -> dict[str, Any]:
    """``{"rate": 0.2, "status": 503, "methods": ["GET"], "after": false}``."""
    return await _change_faults(request, Faults.set_transient)


@router.put("/faults/latency")
async def put_latency(request: Request) -> dict[str, Any]:
    """``{"ms": 200, "methods": ["POST"]}`` added before every ARM answer (of those methods)."""
    return await _change_faults(request, Faults.set_latency)


@router.post("/faults/job-failure")
async def post_job_failure(request: Request) -> dict[str, Any]:
    """``{"vm": "web-01" or "*", "task": "ProtectReplicaTask", "code": "151195", "message", "times": 1,
    "at_fraction": 0.0, "restartable": true, "operation": "SwitchProtection"}`` (or another job of the cycle)."""
    return await _change_faults(request, Faults.add_job_failure)


@router.get("/rbac")
async def get_rbac(request: Request) -> dict[str, Any]:
    """The caller's denied actions and token validity."""
    return _emulator(request).access.describe()


@router.put("/rbac")
async def put_rbac(request: Request) -> dict[str, Any]:
    """``{"deny": [action, ...], "client_id", "object_id"}``: those actions answer 403 AuthorizationFailed."""
    return await _change_access(request, Access.set_rbac)


@router.put("/auth")
async def put_auth(request: Request) -> dict[str, Any]:
    """``{"tokens_valid": false}``: every ARM request answers 401 InvalidAuthenticationToken."""
    return await _change_access(request, Access.set_auth)


async def _change_access(request: Request, change: Callable[[Access, Any], None]) -> dict[str, Any]:
    """Apply one change to the caller's access (a bad body is a 400) and show the result."""
    access = _emulator(request).access
    try:
        change(access, await _body(request))
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
    return access.describe()


@router.put("/faults/leftovers")
async def put_leftovers(request: Request) -> dict[str, Any]:
    """``{"after_move": "restore" | "moved_switch" | "moved_disable"}``: what a reprotect that fails or is
    cancelled after its item moved leaves behind (Azure's answer is not public)."""
    return await _change_faults(request, Faults.set_leftovers)


@router.put("/regions/{location}/outage")
async def put_outage(request: Request, location: str) -> dict[str, Any]:
    """``{"down": true, "fabric_health": "Normal"}``: the region's Compute/Storage/Network reads answer 503,
    Resource Health reports its VMs Unavailable (platform, unplanned), running reprotects towards it fail.
    ``fabric_health`` (default ``Normal``; not public what Azure shows) is the vault's fabric health there."""
    emulator = _emulator(request)
    body = await _body(request)
    down = bool(body.get("down", True))
    fabric_health = str(body.get("fabric_health") or "Normal")
    if fabric_health not in ("Normal", "Warning", "Critical"):
        raise HTTPException(400, "fabric_health must be Normal, Warning or Critical")
    emulator.engine.outage(location, down, fabric_health)
    return {"location": location.lower(), "down": down, "outages": sorted(emulator.world.outages)}


@router.get("/time-scale")
async def get_time_scale(request: Request) -> dict[str, Any]:
    """The clock's speed and the simulated now."""
    emulator = _emulator(request)
    return {"time_scale": emulator.clock.time_scale, "now": emulator.clock.now()}


@router.put("/time-scale")
async def put_time_scale(request: Request) -> dict[str, Any]:
    """``{"time_scale": 600}``."""
    emulator = _emulator(request)
    try:
        scale = float((await _body(request))["time_scale"])
    except (KeyError, TypeError, ValueError) as exc:
        raise HTTPException(400, 'Send {"time_scale": <positive number>}.') from exc
    if scale <= 0:
        raise HTTPException(400, "time_scale must be positive.")
    emulator.set_time_scale(scale)
    return {"time_scale": emulator.clock.time_scale, "now": emulator.clock.now()}


@router.post("/advance")
async def advance(request: Request) -> dict[str, Any]:
    """``{"seconds": 3600}``: jump the simulated clock forward."""
    emulator = _emulator(request)
    try:
        seconds = float((await _body(request)).get("seconds", 0))
    except (TypeError, ValueError) as exc:
        raise HTTPException(400, 'Send {"seconds": <number>}.') from exc
    if seconds < 0:
        raise HTTPException(400, "The clock only moves forward.")
    now = emulator.advance(seconds)
    return {"now": now, "utc": emulator.clock.iso(now), "time_scale": emulator.clock.time_scale}
