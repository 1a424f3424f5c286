"""Settings read from files: ``REPROTECT_<NAME>_FILE`` variables and a secrets directory.

Secrets (database and broker URLs with passwords, the key-encryption keys, tokens) should not sit in
plain environment variables. Any setting ``REPROTECT_X__Y`` may instead be given as the path of a file
holding its value, ``REPROTECT_X__Y_FILE=/run/secrets/x`` (Docker and Kubernetes secrets mount so), or as
a file named ``REPROTECT_X__Y`` (any case) in the directory ``REPROTECT_SECRETS_DIR``. A variable and its
``_FILE`` twin together are refused; a plain variable or a ``_FILE`` variable wins over the directory.
One trailing newline is dropped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

PREFIX = "REPROTECT_"
FILE_SUFFIX = "_FILE"
SECRETS_DIR_VARIABLE = "REPROTECT_SECRETS_DIR"


class SettingFileError(ValueError):
    """A ``_FILE`` variable or secrets directory names something that cannot be read."""


def file_settings(environ: Mapping[str, str]) -> dict[str, tuple[str, Path]]:
    """Each setting's variable name (``REPROTECT_DATABASE__URL``) -> (where it was named, the file to read)."""
    found: dict[str, tuple[str, Path]] = {}
    directory = environ.get(SECRETS_DIR_VARIABLE)
    if directory:
        root = Path(directory)
        if not root.is_dir():
            raise SettingFileError(f"{SECRETS_DIR_VARIABLE}={directory}: not a directory")
        for path in sorted(root.iterdir()):
            name = path.name.upper()
            if name.startswith(PREFIX) and path.is_file():
                found[name] = (f"{SECRETS_DIR_VARIABLE} file {path.name}", path)
    for variable, value in environ.items():
        name = variable.upper()
        if name.startswith(PREFIX) and name.endswith(FILE_SUFFIX) and name != SECRETS_DIR_VARIABLE:
            found[name.removesuffix(FILE_SUFFIX)] = (variable, Path(value))
    return found


def read_setting_file(origin: str, path: Path) -> str:
    """The file's text without its trailing newline; a missing or unreadable file names its variable."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingFileError(f"{origin}={path}: cannot read the file ({exc.strerror or exc})") from None
    return text.removesuffix("\n").removesuffix("\r")


class FileSettingsSource(PydanticBaseSettingsSource):
    """The pydantic-settings source of :func:`file_settings`: nested values split on ``__``."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str] | None = None):
        super().__init__(settings_cls)
        self.environ = os.environ if environ is None else environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is done in __call__

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        plain = {key.upper() for key in self.environ}
        settings = set(_variables(self.settings_cls, PREFIX))
        for name, (origin, path) in file_settings(self.environ).items():
            if origin.upper() in settings:
                continue  # a setting whose own name ends in _FILE, not a file of another one
            if name in plain and origin.upper().endswith(FILE_SUFFIX):
                raise SettingFileError(f"{origin} and {name} are both set: keep one")
            if name in plain:
                continue  # the plain variable wins over the secrets directory
            parts = name.removeprefix(PREFIX).lower().split("__")
            node = values
            for part in parts[:-1]:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    break
            else:
                node[parts[-1]] = read_setting_file(origin, path)
        return values


def _variables(model: type[BaseModel], prefix: str) -> Iterator[str]:
    """The variable of every setting and group of settings of ``model`` (``REPROTECT_DATABASE__URL``)."""
    for name, field in model.model_fields.items():
        variable = f"{prefix}{name.upper()}"
        yield variable
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _variables(annotation, f"{variable}__")
