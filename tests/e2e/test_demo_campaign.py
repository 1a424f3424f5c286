"""`reprotect demo --campaign` on the embedded stack: the demo fleet's committed VMs go the whole way home as one
campaign — reprotect, a drill whose manual gate the demo approves (saying so), cleanup, failover in two waves,
commit, reprotect back — with a line per move, ending completed with every VM protected in the original direction."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e
COMMITTED = ["web-01", "app-01", "db-01", "api-01"]  # the demo scenario's VMs that can go home
# The campaign's own pace at the demo's clock is ~2 minutes; a faster clock keeps the test's run short on a shared
# machine. The timeout only bounds a hung run.
TIME_SCALE = "2000"


def test_the_campaign_demo_takes_the_committed_vms_home_through_the_drill_gate_and_two_waves(tmp_path):
    var_dir = tmp_path / "demo"
    run = subprocess.run(
        [sys.executable, "-m", "cli", "demo", "--campaign", "--var-dir", str(var_dir), "--time-scale", TIME_SCALE],
        cwd=ROOT, capture_output=True, text=True, timeout=230, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    out = run.stdout
    assert run.returncode == 0, out[-4000:] + run.stderr[-3000:]

    for code in ("already_home", "failover_not_committed", "source_vm_moved", "source_vm_deleted"):
        assert code in out  # the VMs that cannot go home are named up front, with Azure's reason
    moves = [
        "reprotect (step 1/7)",
        "waiting_gate · drill (step 2/7)",
        "approving the drill gate as the demo operator",
        "drill_cleanup (step 3/7)",
        "failover wave 1 (step 4/7)",
        "failover wave 2 (step 5/7)",
        "commit (step 6/7)",
        "reprotect_back (step 7/7)",
        "completed: 7/7 steps done",
    ]
    positions = [out.find(move) for move in moves]
    assert -1 not in positions, [m for m, p in zip(moves, positions, strict=True) if p == -1]
    assert positions == sorted(positions), out  # in this order
    assert re.search(r"Campaign completed in (\d+m )?\d+s", out)
    assert "protected in the original direction (East Asia → Southeast Asia)" in out
    summary = out[out.index("Where each VM stands") :]
    for vm in COMMITTED:
        assert re.search(rf"{vm}\s+[12]\s+protected\s+done\s+done\s+done\s+done\s+protected", summary), summary
    # The demo approved its one manual gate once, through the API like any operator.
    api_log = (var_dir / "api.log").read_text(errors="replace")
    assert len(re.findall(r'"POST /campaigns/[0-9a-f-]{36}/approve HTTP/1.1" 200', api_log)) == 1
