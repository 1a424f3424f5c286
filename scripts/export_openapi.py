"""Write the app's OpenAPI document to ``openapi/openapi.json`` (``make openapi``)."""

import json
from pathlib import Path

from app.api.app import create_app

target = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"
target.write_text(json.dumps(create_app().openapi(), indent=2, sort_keys=False) + "\n")
print(f"wrote {target}")

# The error-code tables that go with the document.
from app.api.error_codes import markdown  # noqa: E402

codes = target.parent.parent / "docs" / "error-codes.md"
codes.write_text(markdown())
print(f"wrote {codes}")
