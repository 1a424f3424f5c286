"""A full `reprotect demo` run leaks no secret into any output or log line, and API lines carry request ids."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from app.auth.api_keys import API_KEY_REGEX
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e
SECRETS = [
    re.compile(API_KEY_REGEX),  # our API keys
    re.compile(r"whsec_[A-Za-z0-9+/=]{20,}"),  # webhook signing secrets
    re.compile(r"(?i)bearer\s+\S{8,}"),  # any bearer credential (tokens, keys)
    re.compile(r"local-dev-token"),  # the emulator's Azure token
]


def test_a_demo_run_logs_no_secret(tmp_path):
    var_dir = tmp_path / "demo"
    run = subprocess.run(
        [sys.executable, "-m", "cli", "demo", "--var-dir", str(var_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    logs = {path.name: path.read_text(errors="replace") for path in var_dir.glob("*.log")}
    assert {"api.log", "worker.log", "scheduler.log", "emulator.log"} <= set(logs)
    assert sum(len(text.splitlines()) for text in logs.values()) > 50  # the processes did log
    # Every API log line names its request: the access lines of the demo's calls carry their x-request-id.
    access = [line for line in logs["api.log"].splitlines() if "uvicorn.access" in line and "/reprotect" in line]
    assert access
    assert all(re.search(r"\[[0-9a-f]{32}\] uvicorn\.access", line) for line in access), access[:3]
    outputs = {"stdout": run.stdout, "stderr": run.stderr, **logs}
    for name, text in outputs.items():
        for line in text.splitlines():
            for pattern in SECRETS:
                assert not pattern.search(line), f"{name}: {line}"
