"""Test data that lives in the repository, so no test depends on files outside it.

``AZURE_SAMPLES`` holds real Site Recovery JSON from public Azure test recordings (provenance in
``azure/README.md``); ``load`` reads one of those files as fresh, mutable JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

AZURE_SAMPLES = Path(__file__).resolve().parent / "azure"


def load(name: str) -> Any:
    """One sample's JSON, parsed anew on every call (tests may mutate what they get)."""
    return json.loads((AZURE_SAMPLES / name).read_text())
