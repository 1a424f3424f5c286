"""The worker's supervisor (``reprotect worker``): a worker that exits unasked is started again, said in a JSON
line of the worker's log schema, and a stop that arrives while it waits to restart starts nothing more."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import os, signal, sys, threading
from cli.main import supervised
threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()  # stopped while waiting
print("returned", supervised([sys.executable, "-c", "pass"]), flush=True)  # a worker that exits at once
"""


def test_an_unasked_exit_is_logged_as_json_and_a_stop_while_waiting_starts_nothing_more():
    env = {**os.environ, "REPROTECT_LOG__FORMAT": "json", "REPROTECT_ENV": "dev"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30, check=True
    )
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert lines, done.stderr
    assert {line["message"] for line in lines} == {"worker exited unasked (code 0); starting it again in 1 s"}
    assert {(line["process"], line["logger"]) for line in lines} == {("worker", "reprotect.supervisor")}
    assert len(lines) <= 2  # about 1.5 s of 1-s waits: never a restart after the stop
    assert done.stdout.strip() == "returned 0"
