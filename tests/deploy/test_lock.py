"""The lock: every dependency pyproject declares is pinned (==, with hashes) in the pip lock files exported from
``uv.lock``; the exports match ``uv.lock``; this environment is exactly the lock (what `make install` does)."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from tests.deploy.locks import LOCK_DIR, ROOT, declared, read_lock

# Which lock holds what: the production image, the emulator image, developers and CI.
LOCKS = {"runtime.lock": (), "emulator.lock": ("emulator",), "dev.lock": ("dev", "emulator")}
UV = Path(sys.executable).parent / "uv"


@pytest.mark.parametrize(("lock", "extras"), LOCKS.items())
def test_every_declared_dependency_is_locked(lock: str, extras: tuple[str, ...]) -> None:
    pins = read_lock(LOCK_DIR / lock)
    missing = sorted(set(declared(*extras)) - set(pins))
    assert not missing, f"{lock} lacks {missing}: run `make lock`"


@pytest.mark.parametrize("lock", LOCKS)
def test_every_pin_is_exact_and_hashed(lock: str) -> None:
    pins = read_lock(LOCK_DIR / lock)
    loose = sorted(p.name for p in pins.values() if [s.operator for s in p.requirement.specifier] != ["=="])
    unhashed = sorted(p.name for p in pins.values() if p.hashes == 0)
    assert not loose, f"not pinned with ==: {loose}"
    assert not unhashed, f"no --hash: {unhashed}"


@pytest.mark.parametrize(("lock", "extras"), LOCKS.items())
def test_locked_versions_satisfy_pyproject(lock: str, extras: tuple[str, ...]) -> None:
    pins = read_lock(LOCK_DIR / lock)
    outside = []
    for name, requirement in declared(*extras).items():
        if name not in pins:
            continue  # test_every_declared_dependency_is_locked
        version = next(iter(pins[name].requirement.specifier)).version
        if not requirement.specifier.contains(version, prereleases=True):
            outside.append(f"{name}=={version} not in {requirement.specifier}")
    assert not outside


@pytest.mark.parametrize("extras", [(), ("emulator",)])
def test_what_the_images_install_is_bounded_below_its_next_major(extras: tuple[str, ...]) -> None:
    """`make lock-upgrade` stays within releases we could have tested: every runtime and emulator requirement
    has an upper bound (or an exact pin)."""
    unbounded = sorted(
        name
        for name, requirement in declared(*extras).items()
        if not any(spec.operator in ("<", "<=", "==", "~=") for spec in requirement.specifier)
    )
    assert unbounded == []


def test_production_lock_has_no_emulator_dependency() -> None:
    runtime = read_lock(LOCK_DIR / "runtime.lock")
    assert "pyyaml" not in runtime, "PyYAML is the emulator's: keep it out of the production image"


def test_the_locks_agree_on_every_version() -> None:
    versions: dict[str, set[str]] = {}
    for lock in LOCKS:
        for name, pin in read_lock(LOCK_DIR / lock).items():
            versions.setdefault(name, set()).add(str(pin.requirement.specifier))
    assert {name: v for name, v in versions.items() if len(v) > 1} == {}


@pytest.mark.parametrize(("lock", "extras"), LOCKS.items())
def test_exports_match_uv_lock(lock: str, extras: tuple[str, ...], tmp_path: Path) -> None:
    out = tmp_path / lock
    extra_args = [arg for extra in extras for arg in ("--extra", extra)]
    export = [str(UV), "export", "--frozen", "--quiet", "--format", "requirements-txt", "--no-emit-project"]
    subprocess.run(
        [*export, "--no-dev", *extra_args, "-o", str(out)],
        cwd=ROOT,
        check=True,
    )
    body = [line for line in out.read_text().splitlines() if not line.startswith("#")]
    committed = [line for line in (LOCK_DIR / lock).read_text().splitlines() if not line.startswith("#")]
    assert body == committed, f"requirements/{lock} is not uv.lock's export: run `make lock-export`"


def test_uv_lock_matches_pyproject() -> None:
    done = subprocess.run(
        [str(UV), "lock", "--check", "--offline"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"uv.lock is stale for pyproject.toml (run `make lock`): {done.stderr}"


def test_this_environment_is_the_dev_lock() -> None:
    """`make install` installs exactly requirements/dev.lock: every pin that applies here, at its version."""
    wrong = []
    for name, pin in read_lock(LOCK_DIR / "dev.lock").items():
        if pin.requirement.marker is not None and not pin.requirement.marker.evaluate():
            continue
        wanted = next(iter(pin.requirement.specifier)).version
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "missing"
        if canonicalize_name(installed) != canonicalize_name(wanted):
            wrong.append(f"{name}: {installed} installed, {wanted} locked")
    assert not wrong, "run `make install` (a fresh .venv if need be)"
