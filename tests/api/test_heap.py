"""A started API process keeps its startup heap (the Azure SDK's models, our modules) out of full collections."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

STARTS_TWICE = """
import gc, json, sys
from fastapi.testclient import TestClient
from app.api.app import create_app
from app.bootstrap import bootstrap
from tests.conftest import service_settings

before = gc.get_freeze_count()
counts = []
for _ in range(2):
    container = bootstrap(service_settings(sys.argv[1], "http://127.0.0.1:9"))
    with TestClient(create_app(container)) as client:
        assert client.get("/healthz").status_code == 200
        counts.append(gc.get_freeze_count())
    container.close()
print(json.dumps({"before": before, "started": counts}))
"""


def test_the_api_freezes_its_started_heap_once_per_process(database_url):
    done = subprocess.run(
        [sys.executable, "-c", STARTS_TWICE, database_url], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert counts["before"] == 0
    first, second = counts["started"]
    assert first > 0  # the SDK's and our modules' objects, frozen at the first start
    assert second <= first  # a second app in the same process froze nothing more (some frozen ones were freed)
