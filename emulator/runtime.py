"""The emulator's state and its ARM front door: auth, api-version, throttling, faults, stats, dispatch.

``Emulator.handle`` is synchronous and runs on the event loop without awaiting, so each request sees
and changes the world atomically (no locks needed).
"""

from __future__ import annotations

import copy
import random
import uuid
from typing import Any

from emulator import (
    admin_views,
    routes_arm,
    routes_asr,
    routes_failover,
    routes_health,
    routes_jobs,
    routes_reprotect,
    routes_storage,
    scenario,
)
from emulator.access import Access
from emulator.builder import build_world
from emulator.clock import SimClock
from emulator.engine import Engine
from emulator.errors import ArmError
from emulator.faults import Faults
from emulator.router import Ctx, Reply, Router
from emulator.stats import Stats
from emulator.throttle import Throttle

# Storage resource provider calls under its own limits (operation id -> bucket).
STORAGE_LIMITED = {
    "ARM_StorageAccounts_ListByResourceGroup": "storage-lists",
    "ARM_StorageAccounts_List": "storage-lists",
    "ARM_StorageAccounts_GetProperties": "storage-reads",
}


def build_router() -> Router:
    """Every ARM/ASR route."""
    router = Router()
    modules = (routes_reprotect, routes_jobs, routes_asr, routes_storage, routes_arm, routes_health, routes_failover)
    for module in modules:
        module.register(router)
    return router


class Emulator:
    """One emulated Azure: the scenario's world, its clock, throttle, faults and counters."""

    def __init__(self, scenario_source: str = "demo", time_scale: float | None = None, seed: int = 0):
        self.source = scenario_source
        self.seed = seed
        self.raw = scenario.load(scenario_source)
        self.initial_time_scale = float(time_scale or self.raw.get("time_scale") or 1.0)
        self.router = build_router()
        self.throttle = Throttle()
        self.faults = Faults()
        self.access = Access()
        self.stats = Stats()
        self.reset()

    def reset(self) -> None:
        """Reload the scenario; clear faults, access denials and stats; restart the clock at the initial time scale.

        The throttle configuration stays (its buckets refill)."""
        self.clock = SimClock(self.initial_time_scale)
        self.world = build_world(copy.deepcopy(self.raw), random.Random(f"{self.seed}:world"))
        self.faults.clear()
        self.access.clear()
        self.faults.rng = random.Random(f"{self.seed}:faults")
        self.engine = Engine(
            self.world,
            self.clock,
            random.Random(f"{self.seed}:sim"),
            self.faults.take_job_failure,
            leftovers=lambda: self.faults.leftovers,
            cycle_failures=lambda vm, item, operation: self.faults.take_job_failure(vm, item, operation),
        )
        self._ids = random.Random(f"{self.seed}:ids")
        self.stats = Stats()
        self.throttle.refill_all()

    def new_guid(self) -> str:
        """A seeded GUID for request ids and operations."""
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        base_url: str,
    ) -> Reply:
        """Answer one ARM request."""
        self.stats.requests += 1
        kind = "reads" if method.upper() == "GET" else "writes"
        subscription = _subscription_of(path)
        try:
            reply = self._process(method, path, query, headers, body, base_url, subscription, kind)
        except ArmError as error:
            reply = Reply(error.status, error.body(), dict(error.headers))
        reply.headers.setdefault("x-ms-request-id", self.new_guid())
        reply.headers[f"x-ms-ratelimit-remaining-subscription-{kind}"] = str(
            self.throttle.remaining(subscription, kind)
        )
        reply.headers[f"x-ms-ratelimit-remaining-subscription-global-{kind}"] = str(
            self.throttle.remaining(subscription, f"global-{kind}")
        )
        self.stats.statuses[str(reply.status)] += 1
        return reply

    def _process(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        base_url: str,
        subscription: str,
        kind: str,
    ) -> Reply:
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            raise ArmError(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing or not a bearer token.",
            )
        self.access.check(method, path)
        if not query.get("api-version"):
            raise ArmError(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        allowed, retry_after = self.throttle.take(subscription, kind)
        if not allowed:
            self.stats.throttle(subscription)
            raise ArmError(
                429,
                "SubscriptionRequestsThrottled",
                f"Number of '{kind[:-1]}' requests for subscription '{subscription}' exceeded the limit. "
                f"Please try again after '{retry_after}' seconds.",
                headers={"Retry-After": str(retry_after)},
            )
        injected = self.faults.transient(method, after=False)
        if injected is not None:
            raise injected
        route, params, other_method = self.router.match(method, path)
        if route is None:
            if other_method:
                raise ArmError(405, "MethodNotAllowed", f"The method '{method}' is not allowed on '{path}'.")
            raise ArmError(404, "InvalidResourceType", f"No resource type or action matches the path '{path}'.")
        storage_kind = STORAGE_LIMITED.get(route.operation_id)
        if storage_kind is not None:
            allowed, retry_after = self.throttle.take_storage(subscription, storage_kind)
            if not allowed:
                self.stats.throttled += 1
                operation = "List" if storage_kind == "storage-lists" else "Read_ObservationWindow_00:05:00"
                raise ArmError(
                    429,
                    "TooManyRequests",
                    f"The request is being throttled as the limit has been reached for operation type - {operation}. "
                    "For more information, see - https://aka.ms/srpthrottlinglimits",
                    headers={"Retry-After": str(retry_after)},
                )
        ctx = Ctx(self, method.upper(), path, params, query, body, base_url)
        self.stats.call(route.operation_id, method, subscription)
        try:
            ctx.now = self.engine.advance()
            reply = route.handler(ctx)
        finally:
            if ctx.item:
                self.stats.for_item(ctx.item, route.operation_id)
        lost = self.faults.transient(method, after=True)
        if lost is not None:
            raise lost
        return reply

    # -- admin ------------------------------------------------------------------------------------

    def advance(self, seconds: float) -> float:
        """Jump the simulated clock and bring the world up to date."""
        self.clock.advance(seconds)
        return self.engine.advance()

    def set_time_scale(self, time_scale: float) -> None:
        """Change the clock's speed (simulated time never goes back)."""
        self.engine.advance()
        self.clock.set_scale(time_scale)

    def describe(self) -> dict[str, Any]:
        """``GET /_emulator/scenario``."""
        return admin_views.describe_scenario(self)


def _subscription_of(path: str) -> str:
    parts = path.strip("/").split("/")
    return parts[1].lower() if len(parts) > 1 and parts[0].lower() == "subscriptions" else ""
