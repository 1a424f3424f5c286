"""Configuration that fails fast: production refuses what only suits a laptop, with one line naming the
variable; secrets come from files; ``reprotect config check`` shows the configuration with secrets masked.

The service commands run as real processes with a clean environment, in an empty directory (so a SQLite
default would show up as a file there)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.sealed.keyring import new_key_text
from app.settings import Settings
from app.settings_files import FileSettingsSource
from cli.configuration import masked, problems_of

ROOT = Path(__file__).resolve().parents[2]
POSTGRES = "postgresql+psycopg://reprotect:hunter2-db@db.internal:5432/reprotect"
KEYS = new_key_text("k2026")
# A configuration production accepts.
GOOD = {
    "REPROTECT_DATABASE__URL": POSTGRES,
    "REPROTECT_BROKER__URL": "redis://:hunter2-redis@redis.internal:6379/0",
    "REPROTECT_AZURE__MODE": "azure",
    "REPROTECT_SECRETS__KEYS": KEYS,
}


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "HOME": str(cwd), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], cwd=cwd, env={**base, **env}, capture_output=True, text=True, timeout=60
    )


def test_a_misspelt_variable_stops_migrate_with_one_line_naming_it_and_the_right_name(tmp_path):
    run = _run(["migrate"], {**GOOD, "REPROTECT_DATABSE__URL": POSTGRES}, tmp_path)
    assert run.returncode != 0
    lines = run.stderr.strip().splitlines()
    assert lines == [
        "error: configuration: REPROTECT_DATABSE__URL: no setting has this name (did you mean REPROTECT_DATABASE__URL?)"
    ]
    assert not list(tmp_path.rglob("*.sqlite3"))  # nothing was created


@pytest.mark.parametrize("command", ["api", "worker", "scheduler", "migrate"])
def test_every_service_command_refuses_the_laptop_defaults_in_production(tmp_path, command):
    run = _run([command], {}, tmp_path)  # REPROTECT_ENV unset: production
    assert run.returncode == 1
    [line] = run.stderr.strip().splitlines()
    assert line.startswith("error: configuration: REPROTECT_DATABASE__URL: SQLite is refused in production")
    assert "Traceback" not in run.stderr
    assert not list(tmp_path.rglob("*.sqlite3"))


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"REPROTECT_DATABASE__URL": "sqlite:///var/x.sqlite3"}, "REPROTECT_DATABASE__URL"),
        ({"REPROTECT_BROKER__URL": "sqla+sqlite:///var/b.sqlite3"}, "REPROTECT_BROKER__URL"),
        ({"REPROTECT_BROKER__URL": "memory://"}, "REPROTECT_BROKER__URL"),
        ({"REPROTECT_AZURE__MODE": "emulator"}, "REPROTECT_AZURE__MODE"),
        ({"REPROTECT_AZURE__LOCAL_TOKEN": "local-dev-token"}, "REPROTECT_AZURE__LOCAL_TOKEN"),
        ({"REPROTECT_SECRETS__KEYS": None}, "REPROTECT_SECRETS__KEYS"),
        ({"REPROTECT_JOB__POLL_INTERVAL": "5"}, "REPROTECT_JOB__POLL_INTERVAL"),
        ({"REPROTECT_ENV": "staging"}, "REPROTECT_ENV"),
        ({"REPROTECT_SECRETS__KEYS": "k1:dG9vIHNob3J0"}, "REPROTECT_SECRETS__KEYS: key 'k1' must be 32 bytes"),
    ],
)
def test_production_names_the_variable_of_each_refusal(monkeypatch, change, variable):
    _environment(monkeypatch, {**GOOD, **change})
    _, problems = problems_of(os.environ)
    assert len(problems) == 1, problems
    assert problems[0].startswith(variable)


def test_production_accepts_a_production_configuration_and_dev_the_laptop_defaults(monkeypatch):
    _environment(monkeypatch, GOOD)
    assert problems_of(os.environ)[1] == []
    _environment(monkeypatch, {"REPROTECT_ENV": "dev"})
    assert problems_of(os.environ)[1] == []


def test_kubernetes_service_links_are_not_taken_for_misspelt_settings(monkeypatch):
    links = {  # what a Service named reprotect-api puts in every pod of its namespace (service links)
        "REPROTECT_API_SERVICE_HOST": "10.0.0.7",
        "REPROTECT_API_SERVICE_PORT": "80",
        "REPROTECT_API_SERVICE_PORT_HTTP": "80",
        "REPROTECT_API_PORT": "tcp://10.0.0.7:80",
        "REPROTECT_API_PORT_80_TCP": "tcp://10.0.0.7:80",
        "REPROTECT_API_PORT_80_TCP_ADDR": "10.0.0.7",
        "REPROTECT_API_PORT_80_TCP_PORT": "80",
        "REPROTECT_API_PORT_80_TCP_PROTO": "tcp",
    }
    _environment(monkeypatch, {**GOOD, **links})
    assert problems_of(os.environ)[1] == []
    _environment(monkeypatch, {**GOOD, **links, "REPROTECT_API__PORTT": "8000"})  # a nested name is a setting
    assert [p.split(":")[0] for p in problems_of(os.environ)[1]] == ["REPROTECT_API__PORTT"]


def test_a_bad_value_is_one_line_naming_its_variable(monkeypatch):
    _environment(monkeypatch, {**GOOD, "REPROTECT_JOB__LEASE_SECONDS": "soon"})
    _, problems = problems_of(os.environ)
    assert len(problems) == 1
    assert problems[0].startswith("REPROTECT_JOB__LEASE_SECONDS: ")


def test_every_secret_can_come_from_a_file_or_the_secrets_directory(monkeypatch, tmp_path):
    (tmp_path / "db").write_text(POSTGRES + "\n")
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "reprotect_secrets__keys").write_text(KEYS)
    (secrets_dir / "REPROTECT_AZURE__LOCAL_TOKEN").write_text("from-the-directory")
    _environment(
        monkeypatch,
        {
            "REPROTECT_DATABASE__URL_FILE": str(tmp_path / "db"),
            "REPROTECT_SECRETS_DIR": str(secrets_dir),
            "REPROTECT_ENV": "dev",
        },
    )
    settings = Settings()
    assert settings.database.url == POSTGRES  # the trailing newline dropped
    assert settings.secrets.keys is not None
    assert settings.secrets.keys.get_secret_value() == KEYS
    assert settings.azure.local_token.get_secret_value() == "from-the-directory"
    monkeypatch.setenv("REPROTECT_AZURE__LOCAL_TOKEN", "plain-wins")
    assert Settings().azure.local_token.get_secret_value() == "plain-wins"


def test_an_unreadable_secret_file_is_one_line_naming_its_variable(tmp_path):
    env = {**GOOD, "REPROTECT_SECRETS__KEYS_FILE": str(tmp_path / "missing")}
    del env["REPROTECT_SECRETS__KEYS"]
    run = _run(["worker"], env, tmp_path)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f"error: configuration: REPROTECT_SECRETS__KEYS_FILE={tmp_path / 'missing'}: cannot read the file "
        "(No such file or directory)"
    ]


def test_a_variable_and_its_file_twin_together_are_refused(monkeypatch, tmp_path):
    (tmp_path / "keys").write_text(KEYS)
    _environment(monkeypatch, {**GOOD, "REPROTECT_SECRETS__KEYS_FILE": str(tmp_path / "keys")})
    _, problems = problems_of(os.environ)
    assert problems == ["REPROTECT_SECRETS__KEYS_FILE and REPROTECT_SECRETS__KEYS are both set: keep one"]


def test_config_check_prints_the_effective_configuration_with_secrets_masked(tmp_path):
    (tmp_path / "keys").write_text(KEYS)
    env = {
        **GOOD,
        "REPROTECT_SECRETS__KEYS_FILE": str(tmp_path / "keys"),
        "REPROTECT_ENV": "production",
        # Passwords in a query string, and in user-info holding an unencoded "@" and "/".
        "REPROTECT_DATABASE__URL": "postgresql+psycopg://reprotect:hunter2@x/y@db.internal:5432/reprotect"
        "?sslmode=verify-full&sslpassword=hunter2-ssl",
        "REPROTECT_AUTH__RATE_LIMIT__STORAGE_URI": "redis://r/0?password=hunter2-qpw",
        "REPROTECT_AUTH__REVOCATION_REDIS_URL": "rediss://r:6380/1?ssl_cert_reqs=required&Token=hunter2-t;pwd=hunter2-p"
        "&access%5Fkey=hunter2-ak&sig=hunter2%2Fsas#top",
    }
    del env["REPROTECT_SECRETS__KEYS"]
    run = _run(["config", "check", "--output", "json"], env, tmp_path)
    assert run.returncode == 0, run.stderr
    shown = json.loads(run.stdout)
    assert shown["problems"] == []
    assert shown["environment"] == "production"
    assert shown["settings"]["database"]["url"] == (
        "postgresql+psycopg://reprotect:********@db.internal:5432/reprotect?sslmode=verify-full&sslpassword=********"
    )
    assert shown["settings"]["broker"]["url"] == "redis://:********@redis.internal:6379/0"
    assert shown["settings"]["secrets"]["keys"] == "********"
    auth = shown["settings"]["auth"]
    assert auth["rate_limit"]["storage_uri"] == "redis://r/0?password=********"
    assert auth["revocation_redis_url"] == (  # what is not secret stays readable
        "rediss://r:6380/1?ssl_cert_reqs=required&Token=********;pwd=********&access%5Fkey=********&sig=********#top"
    )
    for secret in ("hunter2", KEYS.split(":", 1)[1], "local-dev-token"):
        assert secret not in run.stdout
    table = _run(["config", "check"], env, tmp_path)
    assert table.returncode == 0
    assert "REPROTECT_DATABASE__URL" in table.stdout
    assert "hunter2" not in table.stdout


@pytest.mark.parametrize("password", ["p#w", "pa?ss", "p w", "a@b?c#d e/f"])
def test_an_unencoded_password_is_masked_whatever_it_holds(password):
    url = f"postgresql+psycopg://reprotect:{password}@db.internal:5432/reprotect?sslmode=require"
    assert masked({"url": url}) == {
        "url": "postgresql+psycopg://reprotect:********@db.internal:5432/reprotect?sslmode=require"
    }


def test_config_check_exits_non_zero_on_a_problem(tmp_path):
    run = _run(["config", "check", "--output", "json"], {**GOOD, "REPROTECT_AZURE__MODE": "emulator"}, tmp_path)
    assert run.returncode == 1
    assert [p.split(":")[0] for p in json.loads(run.stdout)["problems"]] == ["REPROTECT_AZURE__MODE"]


def _environment(monkeypatch: pytest.MonkeyPatch, values: dict[str, str | None]) -> None:
    """Exactly ``values`` as the REPROTECT_ variables (others removed)."""
    for name in list(os.environ):
        if name.upper().startswith("REPROTECT_"):
            monkeypatch.delenv(name)
    for name, value in values.items():
        if value is not None:
            monkeypatch.setenv(name, value)


def test_a_setting_whose_own_name_ends_in_file_is_not_taken_for_a_file_variable(tmp_path):
    class Logging(BaseModel):
        file: str = "default.log"
        level_file: str = "unused"

    class Tiny(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="REPROTECT_", env_nested_delimiter="__")
        logging: Logging = Logging()

    (tmp_path / "level").write_text("DEBUG")
    environ = {"REPROTECT_LOGGING__FILE": "/var/log/x.log", "REPROTECT_LOGGING__LEVEL_FILE": str(tmp_path / "level")}
    # Both are settings of their own, not files holding REPROTECT_LOGGING or REPROTECT_LOGGING__LEVEL.
    assert FileSettingsSource(Tiny, environ)() == {}
