"""The committed OpenAPI document is the app's own: regenerate it with ``make openapi``."""

import json
from pathlib import Path

from app.api.app import create_app

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def test_committed_openapi_matches_the_app():
    current = create_app().openapi()
    committed = json.loads(COMMITTED.read_text())
    assert committed == json.loads(json.dumps(current)), "openapi/openapi.json is stale: run `make openapi`"


def test_every_operation_has_a_stable_operation_id():
    spec = create_app().openapi()
    ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    assert "reprotect" in ids
