"""The images (Dockerfile, .dockerignore) and docker-compose.yml, read without a Docker engine: pinned bases,
dependencies from the lock before the code, non-root, no emulator in the production image, one build for every
service, a health check per process that fits it."""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.dockerfile import Stage, read_dockerfile
from tests.deploy.locks import ROOT
from tests.deploy.settings_env import unknown_settings

STAGES = read_dockerfile(ROOT / "Dockerfile")
BY_NAME = {stage.name: stage for stage in STAGES}
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
PRODUCTION_SERVICES = ("migrate", "api", "worker", "scheduler")
# CI (.ci/run) sets this: without docker-compose the compose file's validity is then a failure, not a skip.
REQUIRE_COMPOSE = os.environ.get("REPROTECT_TEST_REQUIRE_COMPOSE") == "1"


def _lineage(stage: Stage) -> list[Stage]:
    chain = [stage]
    while chain[-1].base in BY_NAME:
        chain.append(BY_NAME[chain[-1].base])
    return chain


def _context_sources(stage: Stage) -> list[str]:
    return [source for s in _lineage(stage) for frm, sources in s.copies() if frm is None for source in sources]


def test_every_base_image_is_a_stage_or_pinned_by_digest() -> None:
    external = [stage.base for stage in STAGES if stage.base not in BY_NAME]
    assert external
    unpinned = [base for base in external if "@sha256:" not in base or len(base.split("@sha256:")[1]) != 64]
    assert not unpinned


def test_the_default_target_is_the_production_image() -> None:
    assert STAGES[-1].name == "production"


@pytest.mark.parametrize("target", ["production", "emulator"])
def test_final_images_run_as_a_non_root_user(target: str) -> None:
    user = BY_NAME[target].last("USER")
    assert user is not None
    assert user.split(":")[0] not in {"root", "0"}


@pytest.mark.parametrize(("target", "lock"), [("production", "runtime.lock"), ("emulator", "emulator.lock")])
def test_the_virtualenv_comes_from_the_lock_alone(target: str, lock: str) -> None:
    """The dependency layer is built from the lock file only, so a code change reuses it."""
    venv_stages = [BY_NAME[frm] for frm, _ in BY_NAME[target].copies() if frm is not None]
    assert len(venv_stages) == 1
    builder = venv_stages[0]
    assert _context_sources(builder) == [f"requirements/{lock}"]
    install = " ".join(rest for kw, rest in builder.instructions if kw == "RUN")
    assert "--require-hashes" in install
    assert f"-r /tmp/{lock}" in install


def test_the_production_image_has_no_emulator() -> None:
    sources = _context_sources(BY_NAME["production"])
    assert not [s for s in sources if s.startswith("emulator")]


def test_the_emulator_image_has_the_emulator_and_not_the_service() -> None:
    sources = _context_sources(BY_NAME["emulator"])
    assert "emulator" in sources
    assert not [s for s in sources if s.startswith(("app", "workers", "migrations"))]


def test_dockerignore_lets_through_everything_the_dockerfile_copies() -> None:
    rules = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    rules = [rule for rule in rules if rule and not rule.startswith("#")]

    def sent(path: str) -> bool:
        included = True
        for rule in rules:
            negated = rule.startswith("!")
            pattern = rule.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
                included = negated
        return included

    copied = {source for stage in STAGES for frm, sources in stage.copies() if frm is None for source in sources}
    assert copied
    assert [path for path in sorted(copied) if not sent(path)] == []
    assert not sent("tests")
    assert not sent(".venv")


def test_production_code_runs_without_the_emulator_or_pyyaml(tmp_path: Path) -> None:
    """Lay out /srv as the production stage does and import every process's entry module there, with the
    emulator package and PyYAML made unimportable."""
    for source in _context_sources(BY_NAME["production"]):
        if source.startswith("requirements/"):
            continue
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, tmp_path / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / source, tmp_path / source)
    probe = f"""
import importlib.abc, sys
sys.path = [p for p in sys.path if p not in ("", {str(ROOT)!r})]
sys.path.insert(0, {str(tmp_path)!r})
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("emulator", "yaml"):
            raise ImportError("not in the production image: " + name)
sys.meta_path.insert(0, Block())
import app.api.app, workers.celery_app, cli.main, cli.healthcheck, migrations
app.api.app.create_app()
assert app.api.app.__file__.startswith({str(tmp_path)!r}), app.api.app.__file__
print("ok")
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPROTECT_")}
    env["REPROTECT_DATABASE__URL"] = f"sqlite:///{tmp_path}/probe.sqlite3"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "ok"


# --- docker-compose.yml ---


def test_compose_file_is_valid() -> None:
    if shutil.which("docker-compose") is None:
        message = "docker-compose is not installed (apt-get install docker-compose)"
        if REQUIRE_COMPOSE:
            pytest.fail(f"{message} (REPROTECT_TEST_REQUIRE_COMPOSE=1)")
        pytest.skip(message)
    done = subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", "config", "-q"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_compose_builds_the_production_image_once_and_every_service_uses_it() -> None:
    builds = {name: s["build"] for name, s in SERVICES.items() if "build" in s}
    production_builds = [name for name, build in builds.items() if build.get("target") == "production"]
    assert production_builds == ["migrate"]
    image = SERVICES["migrate"]["image"]
    assert {SERVICES[name]["image"] for name in PRODUCTION_SERVICES} == {image}
    assert [name for name in PRODUCTION_SERVICES if name != "migrate" and "build" in SERVICES[name]] == []


def test_compose_builds_the_emulator_from_its_target() -> None:
    assert SERVICES["emulator"]["build"]["target"] == "emulator"
    assert SERVICES["emulator"]["image"] != SERVICES["migrate"]["image"]


@pytest.mark.parametrize(("service", "replicas"), [("api", 2), ("worker", 2), ("scheduler", 1)])
def test_compose_replicas(service: str, replicas: int) -> None:
    assert SERVICES[service].get("deploy", {}).get("replicas", 1) == replicas


@pytest.mark.parametrize("service", ["api", "worker", "scheduler", "emulator"])
def test_each_compose_process_checks_its_own_health(service: str) -> None:
    test = SERVICES[service]["healthcheck"]["test"]
    assert test[:4] == ["CMD", "python", "-m", "cli.healthcheck"]
    assert test[4] == service


def test_compose_workers_serve_their_metrics_on_the_port_the_kubernetes_sidecar_uses() -> None:
    command = SERVICES["worker"]["command"]
    port = command[command.index("--metrics-port") + 1]
    assert [str(p) for p in SERVICES["worker"]["expose"]] == [port]
    pod = yaml.safe_load((ROOT / "deploy/kubernetes/base/worker.yaml").read_text())["spec"]["template"]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == port
    assert "--no-supervise" not in command  # the supervisor serves them


def test_migrate_runs_once_before_the_services() -> None:
    assert "restart" not in SERVICES["migrate"]
    for name in ("api", "worker", "scheduler"):
        assert SERVICES[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_compose_sets_only_existing_settings() -> None:
    names = {name for service in SERVICES.values() for name in (service.get("environment") or {})}
    assert any(name.startswith("REPROTECT_") for name in names)
    assert unknown_settings(names) == []
