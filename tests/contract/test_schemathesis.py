"""Schemathesis against the app's own OpenAPI document: every default phase and check, links included.

One engine run, as ``schemathesis run`` does it: examples, coverage (boundary and malformed values per
operation), fuzzing (positive and negative data) and stateful scenarios following the document's links.
A stateful suite ends at the first scenario whose generation depends on what earlier ones changed in
the app (Hypothesis's flakiness guard), so further stateful-only runs with other seeds follow until the
scenarios reach their request budget. Every request is counted where it reaches the app. The run must
be clean: no server error, no answer outside the document, no refusal of valid or acceptance of invalid
input - except the tolerated findings of ``findings.py``, each with its reason.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from schemathesis.engine import from_schema

from tests.contract import test_regressions
from tests.contract.conftest import ContractTarget
from tests.contract.counting import RequestCounter
from tests.contract.findings import KNOWN_FINDINGS
from tests.contract.report import RunReport, requests_per_phase

pytestmark = pytest.mark.contract

SEED = 20261124
MAX_EXAMPLES = 60  # per operation and phase: ~2,000 stateless requests
MIN_REQUESTS = 1000
MIN_STATEFUL_REQUESTS = 800
MAX_STATEFUL_RUNS = 8


def run_config(seed: int, *, stateful_only: bool = False) -> dict[str, Any]:
    """The run as a ``schemathesis.toml`` would state it: reproducible, every check, every phase (or stateful)."""
    off = {"enabled": False}
    return {
        "seed": seed,
        "continue-on-failure": True,  # a finding must not end the exploration of its operation
        "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
        "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
        "workers": 1,
        "phases": {"examples": off, "coverage": off, "fuzzing": off} if stateful_only else {},
    }


def test_the_app_conforms_to_its_openapi_document(contract_target: ContractTarget) -> None:
    counter, per_phase, report = contract_target.counter, Counter[str](), RunReport()
    counter.reset()
    report.consume(
        requests_per_phase(from_schema(contract_target.schema(run_config(SEED))).execute(), counter, per_phase)
    )
    for more in range(1, MAX_STATEFUL_RUNS + 1):
        if per_phase["stateful"] >= MIN_STATEFUL_REQUESTS:
            break
        schema = contract_target.schema(run_config(SEED + more, stateful_only=True))
        report.consume(requests_per_phase(from_schema(schema).execute(), counter, per_phase))
    print(_summary(report, contract_target, per_phase))

    assert set(report.phases) >= {"examples", "coverage", "fuzzing", "stateful"}, report.phases
    assert not [name for name, outcome in report.phases.items() if outcome.startswith("skipped")], report.phases
    assert report.links_followed, "the stateful phase followed no link"
    assert counter.count(status_from=500) == 0, counter.answered
    assert not report.problems(), "\n\n".join(report.problems())
    assert counter.total >= MIN_REQUESTS, f"only {counter.total} requests reached the app"


def test_every_known_finding_names_its_strict_xfail_regression_test() -> None:
    for finding in KNOWN_FINDINGS:
        test = getattr(test_regressions, finding.regression or "", None)
        assert test is not None, f"{finding.name}: no test {finding.regression} in test_regressions.py"
        strict = [m for m in getattr(test, "pytestmark", []) if m.name == "xfail" and m.kwargs.get("strict")]
        assert strict, f"{finding.regression} is not a strict xfail"


def _summary(report: RunReport, target: ContractTarget, per_phase: Counter[str]) -> str:
    counter, seen = target.counter, target.failure_filter.seen
    followed = sorted(report.links_followed.items(), key=lambda item: -item[1])
    lines = [
        f"\nSchemathesis: {counter.total} requests reached the app in {report.seconds:.0f} s "
        f"(2xx: {counter.count(status_from=200, status_to=299)}, 4xx: {counter.count(status_from=400, status_to=499)},"
        f" 5xx: {counter.count(status_from=500)}); per phase {dict(per_phase)}; outcomes {report.phases}",
        f"  stateful: {sum(report.links_followed.values())} steps used {len(followed)} of {report.stateful_links} "
        "links (documented and inferred)",
        *(f"    {n:4} x {link}" for link, n in followed),
        f"  never answered 2xx: {sorted(_never_succeeded(counter)) or 'none'}",
        *(f"  tolerated {n:4} x {name}" for name, n in sorted(seen.items())),
        *(
            f"  known finding not seen this run: {k.name} ({k.regression})"
            for k in KNOWN_FINDINGS
            if k.name not in seen
        ),
    ]
    return "\n".join(lines)


def _never_succeeded(counter: RequestCounter) -> set[str]:
    served = {route for (route, status) in counter.answered if status != 405}  # 405: probes of other methods
    return served - {route for (route, status) in counter.answered if 200 <= status < 300}
