"""The ``REPROTECT_`` names a deployment file sets that the service would refuse as unknown: the production
check's own rule (``cli.configuration.unknown_variables``: every setting, ``REPROTECT_ENV``, ``*_FILE`` twins)."""

from __future__ import annotations

from cli.configuration import unknown_variables


def unknown_settings(env_names: set[str]) -> list[str]:
    """The ``REPROTECT_`` names among ``env_names`` that nothing reads."""
    return sorted(line.split(":", 1)[0] for line in unknown_variables(dict.fromkeys(env_names, "")))
