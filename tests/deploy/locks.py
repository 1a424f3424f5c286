"""Reading the pip lock files (``requirements/*.lock``, exported from ``uv.lock``) and pyproject's requirements."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK_DIR = ROOT / "requirements"


@dataclass(frozen=True)
class Pin:
    """One locked requirement: its name, the specifier as written, its marker and how many hashes it carries."""

    name: str
    requirement: Requirement
    hashes: int


def read_lock(path: Path) -> dict[str, Pin]:
    """The pins of a requirements file in pip's hash-checking format (continuation lines joined)."""
    logical: list[str] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        if logical and logical[-1].endswith("\\"):
            logical[-1] = logical[-1][:-1] + " " + line.strip()
        else:
            logical.append(line.strip())
    pins: dict[str, Pin] = {}
    for entry in logical:
        parts = entry.split(" --hash=")
        requirement = Requirement(parts[0].strip())
        name = canonicalize_name(requirement.name)
        pins[name] = Pin(name=name, requirement=requirement, hashes=len(parts) - 1)
    return pins


def declared(*extras: str) -> dict[str, Requirement]:
    """pyproject's runtime requirements plus those of ``extras``, by canonical name."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    texts = list(project["dependencies"])
    for extra in extras:
        texts += project["optional-dependencies"][extra]
    requirements = [Requirement(text) for text in texts]
    return {canonicalize_name(r.name): r for r in requirements}
