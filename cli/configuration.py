"""Configuration that fails fast: ``REPROTECT_ENV``, the production refusals and ``reprotect config check``.

``reprotect api|worker|scheduler|migrate`` run in production unless ``REPROTECT_ENV`` says ``dev``,
``demo`` or ``test`` (the embedded stack of ``reprotect dev`` and ``reprotect demo`` sets ``dev``). In
production they refuse, with one line naming the variable, what only makes sense on a laptop: SQLite,
the in-memory broker, the Azure emulator and its local token, a missing key-encryption key, and any
``REPROTECT_`` variable no setting reads (a misspelt ``REPROTECT_DATABSE__URL`` would otherwise leave
the SQLite default in place, silently). Tests that build ``Settings`` themselves never come here.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import sys
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import unquote_plus

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table

from app.sealed.keyring import KeyringError, parse_keys
from app.settings import AzureMode, Settings
from app.settings_files import FILE_SUFFIX, PREFIX, SECRETS_DIR_VARIABLE, SettingFileError
from cli.output import Output, OutputOption
from cli.problems import CliError

ENV_VARIABLE = "REPROTECT_ENV"
PRODUCTION = "production"
ENVIRONMENTS = (PRODUCTION, "dev", "demo", "test")
# REPROTECT_ variables read by something other than the settings: the CLI, the test suite.
OTHER_VARIABLES = frozenset(
    {ENV_VARIABLE, SECRETS_DIR_VARIABLE, "REPROTECT_DEBUG", "REPROTECT_API_URL", "REPROTECT_API_KEY"}
)
OTHER_PREFIXES = ("REPROTECT_TEST_", "REPROTECT_FAULT_")
# What Kubernetes sets for a Service named reprotect-… (service links, on unless a pod turns them off) and Docker
# links: REPROTECT_API_SERVICE_HOST, REPROTECT_API_PORT, REPROTECT_API_PORT_80_TCP_ADDR…: not settings, not typos.
SERVICE_LINK = re.compile(
    r"^REPROTECT_[A-Z0-9_]+?_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_\d+_(TCP|UDP|SCTP)(_ADDR|_PORT|_PROTO)?)?)$"
)
MASK = "********"


class UnsafeConfiguration(CliError):
    """The configuration cannot run here; the message names the variable."""

    code = "configuration"


def environment(environ: Mapping[str, str]) -> str:
    """``REPROTECT_ENV``, production when unset."""
    return environ.get(ENV_VARIABLE, PRODUCTION).strip().lower() or PRODUCTION


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        models = [m for a in typing.get_args(annotation) if (m := _model_of(a)) is not None]
        return models[0] if models else None
    return None


def _is_mapping(annotation: Any) -> bool:
    return typing.get_origin(annotation) is dict


def setting_variables(model: type[BaseModel] = Settings, prefix: str = PREFIX) -> Iterator[tuple[str, bool]]:
    """Every variable a setting is read from (``REPROTECT_DATABASE__URL``), and whether it is a mapping
    (whose keys may follow: ``REPROTECT_AUTH__ENTRA__ROLE_CLAIMS__<claim>``)."""
    for name, field in model.model_fields.items():
        variable = f"{prefix}{name.upper()}"
        nested = _model_of(field.annotation)
        if nested is not None:
            yield variable, False  # the whole group as JSON
            yield from setting_variables(nested, f"{variable}__")
        else:
            yield variable, _is_mapping(field.annotation)


def _service_link(name: str) -> bool:
    return "__" not in name and SERVICE_LINK.match(name) is not None  # settings nest with "__"; links never do


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """``REPROTECT_`` variables nothing reads, each with the closest known name when there is one."""
    pairs = list(setting_variables())
    known = {name for name, _ in pairs} | OTHER_VARIABLES
    mappings = tuple(f"{name}__" for name, is_mapping in pairs if is_mapping)
    lines = []
    for variable in sorted(environ):
        name = variable.upper()
        base = name.removesuffix(FILE_SUFFIX)
        if not name.startswith(PREFIX) or name in known or base in known:
            continue
        if name.startswith(OTHER_PREFIXES) or base.startswith(mappings) or _service_link(name):
            continue
        close = difflib.get_close_matches(base, sorted(known), n=1, cutoff=0.6)
        suffix = FILE_SUFFIX if name.endswith(FILE_SUFFIX) and close else ""
        hint = f" (did you mean {close[0]}{suffix}?)" if close else ""
        lines.append(f"{variable}: no setting has this name{hint}")
    return lines


def load_settings() -> Settings:
    """The settings from the environment; a bad value is one line naming its variable."""
    try:
        return Settings()
    except SettingFileError as exc:
        raise UnsafeConfiguration(str(exc)) from None
    except ValidationError as exc:
        error = exc.errors()[0]
        variable = PREFIX + "__".join(str(part).upper() for part in error["loc"]) if error["loc"] else PREFIX + "*"
        raise UnsafeConfiguration(f"{variable}: {error['msg']}") from None


def production_problems(settings: Settings, environ: Mapping[str, str], *, uses_broker: bool = True) -> list[str]:
    """What production refuses, one line each, naming the variable to change (``uses_broker``: False for
    ``migrate``, which rings no worker)."""
    problems = unknown_variables(environ)
    if settings.database.url.startswith("sqlite"):
        problems.append(
            "REPROTECT_DATABASE__URL: SQLite is refused in production; set a postgresql+psycopg:// URL "
            f"(or {ENV_VARIABLE}=dev on a laptop)"
        )
    broker = settings.broker.url
    in_process = "sqlite" in broker.split("://", 1)[0] or broker.startswith(("sqla+sqlite", "memory://"))
    if uses_broker and in_process:
        problems.append("REPROTECT_BROKER__URL: a SQLite or in-memory broker is refused in production; set redis://")
    if settings.azure.mode == AzureMode.EMULATOR:
        problems.append("REPROTECT_AZURE__MODE: the Azure emulator is refused in production; set azure")
    if _given(environ, "REPROTECT_AZURE__LOCAL_TOKEN"):
        problems.append(
            "REPROTECT_AZURE__LOCAL_TOKEN: the emulator's local token is refused in production; remove it "
            "(Azure is reached with REPROTECT_AZURE__CREDENTIAL: default or managed_identity)"
        )
    if settings.secrets.keys is None:
        problems.append(
            "REPROTECT_SECRETS__KEYS: a key-encryption key is required in production (name:base64 of 32 random "
            "bytes; `reprotect secrets new-key` prints one), not the local key file"
        )
    return problems


def _given(environ: Mapping[str, str], variable: str) -> bool:
    upper = {key.upper() for key in environ}
    directory = environ.get(SECRETS_DIR_VARIABLE)
    in_directory = bool(directory) and any(
        p.upper() == variable for p in (os.listdir(directory) if directory and os.path.isdir(directory) else [])
    )
    return variable in upper or f"{variable}{FILE_SUFFIX}" in upper or in_directory


def problems_of(environ: Mapping[str, str], *, uses_broker: bool = True) -> tuple[Settings | None, list[str]]:
    """The settings (None if they do not load) and every problem for the environment ``REPROTECT_ENV`` names."""
    where = environment(environ)
    if where not in ENVIRONMENTS:
        return None, [f"{ENV_VARIABLE}={where}: not one of {', '.join(ENVIRONMENTS)}"]
    problems = unknown_variables(environ) if where == PRODUCTION else []
    try:
        settings = load_settings()
    except UnsafeConfiguration as exc:
        return None, [*problems, str(exc)]
    if where == PRODUCTION:
        problems = production_problems(settings, environ, uses_broker=uses_broker)
    if settings.secrets.keys is not None:
        try:
            parse_keys(settings.secrets.keys.get_secret_value())
        except KeyringError as exc:
            problems.append(f"REPROTECT_SECRETS__KEYS: {exc}")
    return settings, problems


def refuse_unsafe_configuration(*, uses_broker: bool = True) -> None:
    """Stop a service process whose configuration cannot run here: one line (the first problem), exit 1."""
    _, problems = problems_of(os.environ, uses_broker=uses_broker)
    if problems:
        more = f" (and {len(problems) - 1} more: reprotect config check)" if len(problems) > 1 else ""
        raise UnsafeConfiguration(problems[0] + more)


# The user-info password: up to the last "@" before the query (a password may hold an unencoded "/" or "@").
# A URL's user-info password runs to the URL's last "@": drivers accept it unencoded, so it may hold "@", "/",
# "?", "#" or a space. An "@" further on (in a query value) masks more than the password: safe for a display.
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/?#@\s]*:).*@", re.IGNORECASE)
_QUERY_PARAMETER = re.compile(r"(?P<name>[^=&;#\s]+)=(?P<value>[^&;#\s]*)")
# Query parameters that carry secrets: password=, passwd=, pwd=, secret=, client_secret=, token=, sig= (SAS),
# signature=, access_key=, api_key=, SharedAccessKey=, credential=, auth=... Masking a harmless one costs nothing.
_SECRET_NAME = re.compile(r"pass|pwd|secret|token|key|sig|credential|auth", re.IGNORECASE)


def _masked_url(text: str) -> str:
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{MASK}@", text)
    head, question, rest = text.partition("?")
    if not question or "://" not in head:
        return text
    query, hash_, fragment = rest.partition("#")

    def parameter(match: re.Match[str]) -> str:
        if match.group("value") and _SECRET_NAME.search(unquote_plus(match.group("name"))):
            return f"{match.group('name')}={MASK}"
        return match.group(0)

    return f"{head}?{_QUERY_PARAMETER.sub(parameter, query)}{hash_}{fragment}"


def masked(value: Any) -> Any:
    """A dumped configuration with every secret replaced: SecretStr values, passwords inside URLs (their
    user-info and secret-looking query parameters)."""
    if isinstance(value, dict):
        return {key: masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item) for item in value]
    if isinstance(value, str):
        if value.startswith("**********"):
            return MASK
        return _masked_url(value)
    return value


def effective(settings: Settings) -> dict[str, Any]:
    """The configuration as the process would run with it, secrets masked."""
    shown: dict[str, Any] = masked(settings.model_dump(mode="json"))
    return shown


def _flatten(data: dict[str, Any], groups: set[str], prefix: str = PREFIX) -> Iterator[tuple[str, Any]]:
    """One (variable, value) per setting; groups of settings (nested models) are opened."""
    for key, value in data.items():
        name = f"{prefix}{key.upper()}"
        if isinstance(value, dict) and name in groups:
            yield from _flatten(value, groups, f"{name}__")
        else:
            yield name, value


app = typer.Typer(help="The service's configuration, as read from the environment.", no_args_is_help=True)
console = Console()


@app.command()
def check(output: OutputOption = Output.TABLE) -> None:
    """Print the effective configuration (secrets masked) and every problem; exit 1 if there is one."""
    settings, problems = problems_of(os.environ)
    where = environment(os.environ)
    if output == Output.JSON:
        print(json.dumps({"environment": where, "settings": settings and effective(settings), "problems": problems}))
    else:
        if settings is not None:
            table = Table(title=f"effective configuration ({ENV_VARIABLE}={where})")
            table.add_column("variable", no_wrap=True)
            table.add_column("value", overflow="fold")
            groups = {name.rsplit("__", 1)[0] for name, _ in setting_variables() if "__" in name}
            for name, value in _flatten(effective(settings), groups):
                table.add_row(name, json.dumps(value) if not isinstance(value, str) else value)
            console.print(table)
        for line in problems:
            print(f"problem: {line}", file=sys.stderr)
        if not problems:
            console.print("configuration ok", highlight=False)
    if problems:
        raise typer.Exit(1)
