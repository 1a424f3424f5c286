"""A small reader of the Dockerfile: its stages, each with its base, instructions and ``COPY`` sources."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Stage:
    """One ``FROM … AS name`` block."""

    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)  # (KEYWORD, rest of the line)

    def copies(self) -> list[tuple[str | None, list[str]]]:
        """Each ``COPY``: the ``--from`` stage (None: the build context) and its sources."""
        result = []
        for keyword, rest in self.instructions:
            if keyword != "COPY":
                continue
            words = shlex.split(rest)
            source_stage = next((w.split("=", 1)[1] for w in words if w.startswith("--from=")), None)
            paths = [w for w in words if not w.startswith("--")]
            result.append((source_stage, paths[:-1]))
        return result

    def last(self, keyword: str) -> str | None:
        """The value of the stage's last ``keyword`` instruction."""
        values = [rest for kw, rest in self.instructions if kw == keyword]
        return values[-1] if values else None


def read_dockerfile(path: Path) -> list[Stage]:
    """The stages in order, ``ARG`` defaults before the first ``FROM`` substituted into the bases."""
    lines: list[str] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if lines and lines[-1].endswith("\\"):
            lines[-1] = lines[-1][:-1].rstrip() + " " + stripped
        else:
            lines.append(stripped)
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in lines:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not stages and "=" in rest:
            name, value = rest.split("=", 1)
            args[name.strip()] = value.strip()
        elif keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", rest.strip(), flags=re.IGNORECASE)
            assert match, line
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], match.group(1))
            stages.append(Stage(base=base, name=match.group(2) or str(len(stages))))
        elif stages:
            stages[-1].instructions.append((keyword, rest.strip()))
    return stages
