"""Write the app's OpenAPI document to ``openapi/openapi.json`` (``make openapi``)."""

import json
from pathlib import Path

from app.api.app import create_app

target = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"
target.write_text(json.dumps(create_app().openapi(), indent=2, sort_keys=False) + "\n")
print(f"wrote {target}")
