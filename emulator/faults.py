"""Injected faults: random transient errors, added latency, and planned reprotect job failures."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from emulator import cycle_plan, errors
from emulator.errors import ArmError
from emulator.state import PlannedFailure

# What a reprotect that fails (or is cancelled) after the item moved leaves behind; Azure's answer is not
# public (emulator/README.md, "Failure leftovers"): the item put back, or left under the new container
# with SwitchProtection allowed again, or with only DisableProtection.
LEFTOVERS = ("restore", "moved_switch", "moved_disable")

_TRANSIENT = {
    408: ("RequestTimeout", "The request timed out."),
    429: ("TooManyRequests", "The service is busy. Retry the request later."),
    500: ("InternalServerError", "The server encountered an internal error. Please retry the request."),
    502: ("BadGateway", "The gateway did not receive a response from the service."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable. Please retry the request."),
    504: ("GatewayTimeout", "The gateway did not receive a response within the specified time."),
}


@dataclass
class JobFailure:
    """Make the next ``times`` reprotect jobs of ``vm`` fail at ``task`` with ASR ``code``."""

    vm: str
    task: str
    code: str
    message: str | None
    times: int
    at_fraction: float = 0.0
    restartable: bool = True
    operation: str = "SwitchProtection"  # or TestFailover | TestFailoverCleanup | UnplannedFailover | CommitFailover


@dataclass
class Faults:
    """Everything injected; ``rng`` is seeded so sampling is reproducible."""

    rng: random.Random = field(default_factory=lambda: random.Random(0))
    rate: float = 0.0
    status: int = 503
    methods: frozenset[str] | None = None
    after: bool = False  # inject after the request was processed (its effect happened, the answer is lost)
    latency_ms: float = 0.0
    latency_methods: frozenset[str] | None = None  # None: every method
    job_failures: list[JobFailure] = field(default_factory=list)
    leftovers: str = "restore"

    def clear(self) -> None:
        """No faults."""
        self.rate, self.status, self.methods, self.after, self.latency_ms = 0.0, 503, None, False, 0.0
        self.latency_methods = None
        self.job_failures.clear()
        self.leftovers = "restore"

    def set_leftovers(self, body: dict[str, Any]) -> None:
        """``{"after_move": "restore" | "moved_switch" | "moved_disable"}``."""
        mode = str(body.get("after_move", ""))
        if mode not in LEFTOVERS:
            raise ValueError(f"after_move must be one of {', '.join(LEFTOVERS)}")
        self.leftovers = mode

    def set_transient(self, body: dict[str, Any]) -> None:
        """``{"rate": 0.2, "status": 503, "methods": ["GET"], "after": false}``."""
        rate = float(body.get("rate", 0.0))
        status = int(body.get("status", 503))
        if not 0.0 <= rate <= 1.0 or not 400 <= status <= 599:
            raise ValueError("rate must be within 0..1 and status a 4xx/5xx code")
        methods = body.get("methods")
        self.rate, self.status, self.after = rate, status, bool(body.get("after", False))
        self.methods = frozenset(str(m).upper() for m in methods) if methods else None

    def set_latency(self, body: dict[str, Any]) -> None:
        """``{"ms": 200, "methods": ["POST"]}`` (every method when ``methods`` is absent)."""
        methods = body.get("methods")
        self.latency_ms = max(0.0, float(body.get("ms", 0)))
        self.latency_methods = frozenset(str(m).upper() for m in methods) if methods else None

    def latency_for(self, method: str) -> float:
        """Seconds to hold a request with this method before handling it."""
        if self.latency_methods and method.upper() not in self.latency_methods:
            return 0.0
        return self.latency_ms / 1000.0

    def transient(self, method: str, *, after: bool) -> ArmError | None:
        """A sampled transient error for this request, if one strikes now."""
        if self.rate <= 0 or self.after != after or (self.methods and method.upper() not in self.methods):
            return None
        if self.rng.random() >= self.rate:
            return None
        code, message = _TRANSIENT.get(self.status, ("InternalServerError", "Injected failure."))
        retry = {"Retry-After": "1"} if self.status in (429, 503) else {}
        return ArmError(self.status, code, message, headers=retry)

    def add_job_failure(self, body: dict[str, Any]) -> JobFailure:
        """Queue a planned job failure (of a reprotect unless ``operation`` names another job)."""
        operation = str(body.get("operation") or "SwitchProtection")
        if operation != "SwitchProtection" and operation not in cycle_plan.KINDS:
            raise ValueError(f"operation must be SwitchProtection or one of {', '.join(cycle_plan.OPERATIONS)}")
        cycle = cycle_plan.KINDS.get(operation)
        task = body.get("task") or (cycle.default_task if cycle else "ProtectReplicaTask")
        if cycle and task not in {t.task_id for t in cycle.tasks}:
            raise ValueError(f"task must be one of {', '.join(t.task_id for t in cycle.tasks)}")
        failure = JobFailure(
            vm=str(body.get("vm", "*")),
            task=str(task),
            code=str(body.get("code") or (errors.OPERATION_FAILED if cycle else errors.PROTECTION_FAILED)),
            message=body.get("message"),
            times=int(body.get("times", 1)),
            at_fraction=float(body.get("at_fraction", 0.0)),
            restartable=bool(body.get("restartable", True)),
            operation=operation,
        )
        if failure.times < 1:
            raise ValueError("times must be at least 1")
        if not 0.0 <= failure.at_fraction < 1.0:
            raise ValueError("at_fraction must be within 0..1 (0: when the task starts)")
        self.job_failures.append(failure)
        return failure

    def take_job_failure(
        self, vm_name: str, item_name: str, operation: str = "SwitchProtection"
    ) -> PlannedFailure | None:
        """Consume the first planned failure of that operation matching the VM (or item) name."""
        for failure in self.job_failures:
            if failure.operation != operation:
                continue
            if failure.vm == "*" or failure.vm.lower() in (vm_name.lower(), item_name.lower()):
                failure.times -= 1
                if failure.times <= 0:
                    self.job_failures.remove(failure)
                return PlannedFailure(
                    failure.task, failure.code, failure.message, failure.at_fraction, failure.restartable
                )
        return None

    def describe(self) -> dict[str, Any]:
        """The faults as JSON."""
        return {
            "transient": {
                "rate": self.rate,
                "status": self.status,
                "after": self.after,
                "methods": sorted(self.methods) if self.methods else None,
            },
            "latency": {
                "ms": self.latency_ms,
                "methods": sorted(self.latency_methods) if self.latency_methods else None,
            },
            "job_failures": [vars(f) for f in self.job_failures],
            "leftovers": {"after_move": self.leftovers},
        }
