"""The whole-stack tests really share one test process under ``--dist loadgroup`` (tests/conftest.py).

Two stacks at once on a 2-core machine flake, and the fault trials restart the shared Postgres server, which must
never happen under another process's tests. pytest 9.2 silently broke the grouping (pytest-xdist renames
``item._nodeid``, which it no longer reads): this runs the suite's own grouping in a real ``-n 2`` run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_stack_tests_run_in_one_process():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "REPROTECT_TEST_"))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v", "-p", "no:cacheprovider",
         "tests/faults/test_invariants_unit.py", "tests/unit/test_lease_table.py", "-k", "sqlite"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    ran = re.findall(r"^\[(gw\d)\] .*? PASSED (\S+)", done.stdout, flags=re.MULTILINE)
    stack_workers = {worker for worker, test in ran if test.startswith("tests/faults/")}
    assert len(stack_workers) == 1, ran
    assert all(test.endswith("@stacks") for _, test in ran if test.startswith("tests/faults/"))
    assert any(test.startswith("tests/unit/") for _, test in ran)  # the others ran too (on either process)
