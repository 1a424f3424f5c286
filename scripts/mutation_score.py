"""Print the mutation score per module from mutmut's results (``make mutation`` runs it after ``mutmut run``).

Score = killed (timeouts count as killed) / mutants that ran; mutants no test reaches count as survivors.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

KILLED = {"killed", "timeout"}
COUNTED = KILLED | {"survived", "no tests", "suspicious"}


def results() -> list[tuple[str, str]]:
    """``(mutant name, status)`` for every mutant mutmut knows."""
    mutmut = Path(sys.executable).with_name("mutmut")
    command = [str(mutmut), "results", "--all", "true"]  # our own venv's mutmut, fixed arguments
    out = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    rows = []
    for line in out.stdout.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            rows.append((name, status))
    return rows


def module_of(mutant: str) -> str:
    """``app.job.runner.x_claim__mutmut_3`` → ``app.job.runner``."""
    return mutant.split(".x", 1)[0]


def main() -> int:
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    for name, status in results():
        by_module[module_of(name)][status] += 1
    total: Counter[str] = Counter()
    print(f"{'module':34} {'killed':>7} {'survived':>9} {'no tests':>9} {'not run':>8} {'score':>7}")
    for module in sorted(by_module):
        counts = by_module[module]
        total.update(counts)
        print(_line(module, counts))
    print(_line("all core modules", total))
    return 0


def _line(label: str, counts: Counter[str]) -> str:
    ran = sum(counts[s] for s in COUNTED)
    killed = sum(counts[s] for s in KILLED)
    score = f"{100 * killed / ran:6.1f}%" if ran else "     -"
    not_run = sum(n for s, n in counts.items() if s not in COUNTED)
    return (
        f"{label:34} {killed:7} {counts['survived'] + counts['suspicious']:9} {counts['no tests']:9} "
        f"{not_run:8} {score:>7}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
