"""Every environment variable name the settings model reads: ``REPROTECT_`` plus the field path joined by ``__``."""

from __future__ import annotations

from typing import get_args

from pydantic import BaseModel

from app.settings import Settings


def _names(model: type[BaseModel], prefix: str) -> set[str]:
    names: set[str] = set()
    for field_name, field in model.model_fields.items():
        name = f"{prefix}{field_name.upper()}"
        names.add(name)  # a whole nested model may be given as JSON too
        for candidate in (field.annotation, *get_args(field.annotation)):  # Model, or Model | None
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                names |= _names(candidate, f"{name}__")
    return names


def settings_env_names() -> frozenset[str]:
    """``REPROTECT_DATABASE__URL``, ``REPROTECT_AUTH__RATE_LIMIT__STORAGE_URI``, … (upper case)."""
    prefix = str(Settings.model_config.get("env_prefix", "")).upper()
    return frozenset(_names(Settings, prefix))


def unknown_settings(env_names: set[str]) -> list[str]:
    """The ``REPROTECT_`` names among ``env_names`` that no setting reads."""
    known = settings_env_names()
    return sorted(name for name in env_names if name.upper().startswith("REPROTECT_") and name.upper() not in known)
