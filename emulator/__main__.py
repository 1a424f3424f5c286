"""``python -m emulator --host --port --scenario --time-scale --seed``."""

from __future__ import annotations

import argparse
import sys

from emulator.scenario import ScenarioError
from emulator.server import serve


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(prog="python -m emulator", description="Azure Site Recovery emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument(
        "--scenario", default="demo", help="built-in name (demo), fleet:N[:S][:central], or a YAML/JSON file"
    )
    parser.add_argument("--time-scale", type=float, default=None, help="simulated seconds per real second")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    try:
        serve(args.host, args.port, args.scenario, args.time_scale, args.seed, log_level=args.log_level)
    except ScenarioError as exc:
        print(f"emulator: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
