"""Serves the emulator with uvicorn (what ``reprotect emulator`` and ``python -m emulator`` call)."""

from __future__ import annotations

import uvicorn

from emulator.app import create_app


def serve(host: str, port: int, scenario: str, time_scale: float | None, seed: int, log_level: str = "warning") -> None:
    """Run the emulator on ``host:port`` until interrupted."""
    app = create_app(scenario=scenario, time_scale=time_scale, seed=seed)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
