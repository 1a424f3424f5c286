"""The import graph runs one way: edges → bootstrap → domains → infrastructure → settings → kernel.

Every ``import`` in ``app/``, ``workers/`` and ``cli/`` (function-level and ``TYPE_CHECKING`` ones
included: an arrow is an arrow) is read with ``ast`` and checked against :data:`LAYERS`. A module may
import its own unit or any unit of a strictly lower rank; units of the same rank are independent of
each other. The emulator is Azure's stand-in: the service (``app``, ``workers``) never imports it, nor
it the service; only the command line, which starts every process, may start it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# (rank, unit): higher ranks may import lower ones. Units of equal rank must not import each other.
LAYERS: list[tuple[int, str]] = [
    (10, "cli"),  # the command line starts every process: it may reach the edges it starts
    (9, "app.api"),  # HTTP edge
    (9, "workers"),  # Celery edge
    (8, "app.bootstrap"),  # composition root: builds and wires everything below
    (8, "app.metrics.fleet"),  # scrape-time gauges read from the job and webhook tables
    (8, "app.console"),  # the operator console's files, mounted by the HTTP edge at /console
    (8, "app.campaign"),  # campaigns: chain the job kinds, read the inventory, announce through the webhooks
    (7, "app.webhook"),  # domains, in the order they lean on each other
    (7, "app.events"),  # the job event stream: reads the job domain's transition log
    (7, "app.fleet"),  # the inventory and selectors: read jobs and Azure, submit through app.job
    (7, "app.health"),  # heartbeats and the pipeline's status: read jobs, the broker and the identity
    (7, "app.logs.job_lines"),  # a log line per job transition: reads the job domain's history entries
    (7, "app.metrics.transitions"),  # a listener on the job domain's transitions
    (6, "app.job"),
    (5, "app.auth"),
    (5, "app.idempotency"),
    (4, "app.cloud"),  # infrastructure: Azure, the broker, calls to receivers' URLs
    (4, "app.queue"),
    (4, "app.outbound"),
    (4, "app.sealed"),  # secrets at rest: envelope encryption of stored secrets
    (3, "app.settings"),
    (4, "app.logs.setup"),  # a process's logging, from the settings
    (3, "app.metrics"),  # metric definitions and one-line hooks every layer above may call
    (2, "app.settings_files"),  # settings read from *_FILE variables and a secrets directory
    (2, "app.leases"),  # kernel: generic machinery over the database, and vocabulary settings validate with
    (2, "app.pagination"),
    (2, "app.scopes"),
    (2, "app.logs"),  # log context (request, job), line formats, secret redaction
    (1, "app.errors"),
    (1, "app.db"),
    (1, "app.read_pool"),  # the API's async Postgres pool for the hottest reads
    (1, "app.heap"),  # a started process's heap kept out of the collector's full passes
]
SEPARATE = "emulator"  # never imported by the service, never importing it
SERVICE = ("app", "workers")
OUTSIDE = ("tests", "benchmarks", "scripts", "migrations")  # use the service; the service never uses them
SCANNED = ("app", "workers", "cli", "emulator")


@dataclass(frozen=True)
class Arrow:
    """One import: which module imports which, and where."""

    source: str
    target: str
    where: str

    def __str__(self) -> str:
        return f"{self.where}: {self.source} imports {self.target}"


def unit_of(module: str) -> tuple[int, str] | None:
    """The layer unit a dotted module name belongs to (longest prefix wins), or None if outside the service."""
    matches = [(rank, unit) for rank, unit in LAYERS if module == unit or module.startswith(unit + ".")]
    return max(matches, key=lambda m: len(m[1]), default=None)


def module_name(path: Path, root: Path) -> str:
    """``app/job/service.py`` → ``app.job.service``; packages are their ``__init__``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(root: Path, dotted: str) -> bool:
    """Whether ``dotted`` names a module or package of the tree at ``root``."""
    path = root.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(source: str, module: str, *, root: Path, is_package: bool, where: str) -> list[Arrow]:
    """Every module ``source`` (the text of ``module``) imports, relative imports resolved."""
    arrows = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            arrows += [Arrow(module, alias.name, f"{where}:{node.lineno}") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from app.job import service`` names a module; ``from app.job.models import Job`` does not.
            names = [f"{base}.{alias.name}" for alias in node.names]
            targets = {name if is_module(root, name) else base for name in names}
            arrows += [Arrow(module, target, f"{where}:{node.lineno}") for target in sorted(targets)]
    return arrows


def against_layers(arrow: Arrow) -> bool:
    """Whether an arrow runs sideways or upwards through the layers (or between the service and the emulator)."""
    source_top, target_top = arrow.source.split(".")[0], arrow.target.split(".")[0]
    if target_top in OUTSIDE:
        return source_top in (*SERVICE, "cli")
    if arrow.source == "app":  # the package's own __init__ sits above nothing: it imports nothing of the service
        return target_top in (*SERVICE, "cli")
    if SEPARATE in (source_top, target_top):
        return (source_top, target_top) in {(s, SEPARATE) for s in SERVICE} | {(SEPARATE, t) for t in (*SERVICE, "cli")}
    source, target = unit_of(arrow.source), unit_of(arrow.target)
    if source is None or target is None or source[1] == target[1]:
        return False
    return target[0] >= source[0]


def all_arrows(root: Path = ROOT) -> list[Arrow]:
    """Every import arrow of the scanned folders."""
    arrows = []
    for folder in SCANNED:
        for path in sorted((root / folder).rglob("*.py")):
            module = module_name(path, root)
            where = str(path.relative_to(root))
            is_package = path.name == "__init__.py"
            arrows += imports_of(path.read_text(), module, root=root, is_package=is_package, where=where)
    return arrows


def violations(root: Path = ROOT) -> list[Arrow]:
    """Arrows running against the layering."""
    return [arrow for arrow in all_arrows(root) if against_layers(arrow)]


def test_no_import_runs_against_the_layers():
    found = violations()
    assert not found, "imports against the layering:\n" + "\n".join(str(a) for a in found)


def test_every_service_module_belongs_to_a_layer():
    unplaced = [
        module_name(path, ROOT)
        for folder in ("app", "workers", "cli")
        for path in (ROOT / folder).rglob("*.py")
        if module_name(path, ROOT) != "app" and unit_of(module_name(path, ROOT)) is None
    ]
    assert not unplaced, f"modules outside every layer (add them to LAYERS): {unplaced}"


def test_an_upward_import_is_caught(tmp_path):
    # A domain reaching up into the HTTP edge, and a kernel module reaching into a domain.
    (tmp_path / "app" / "job").mkdir(parents=True)
    (tmp_path / "app" / "job" / "__init__.py").write_text("")
    (tmp_path / "app" / "job" / "service.py").write_text("from app.api import problems\nfrom ..webhook import outbox\n")
    (tmp_path / "app" / "db.py").write_text("from app.job.models import Job\n")
    for folder in ("workers", "cli", "emulator"):
        (tmp_path / folder).mkdir()
    found = {(a.source, a.target) for a in violations(tmp_path)}
    assert found == {  # names that are not modules of the tree are judged by their package
        ("app.job.service", "app.api"),
        ("app.job.service", "app.webhook"),
        ("app.db", "app.job.models"),
    }


def test_sideways_imports_between_edges_or_with_the_emulator_are_caught():
    assert against_layers(Arrow("workers.celery_app", "app.api.idempotency", "x"))
    assert against_layers(Arrow("app.auth.visibility", "app.idempotency.models", "x"))
    assert against_layers(Arrow("app.cloud.azure_sdk", "emulator.engine", "x"))
    assert against_layers(Arrow("emulator.engine", "app.cloud.ids", "x"))
    assert not against_layers(Arrow("app.job.service", "app.scopes", "x"))
    assert not against_layers(Arrow("app.job.service", "app.job.steps", "x"))
    assert not against_layers(Arrow("emulator.engine", "emulator.state", "x"))
    assert not against_layers(Arrow("cli.main", "emulator.server", "x"))  # the CLI starts the emulator
    assert against_layers(Arrow("app.job.steps", "tests.fakes", "x"))
    assert against_layers(Arrow("workers.celery_app", "benchmarks.fleet", "x"))
    assert against_layers(Arrow("app", "app.job.service", "x"))


# Where a migration may get its keys from (configuration, read live); every other module of migrations/ that
# seals or opens a stored value does so with a frozen copy of that format.
MIGRATION_KEY_SOURCE = "migrations/_sealed_keys.py"


def _migration_imports() -> list[Arrow]:
    arrows = []
    for path in sorted((ROOT / "migrations").rglob("*.py")):
        where = str(path.relative_to(ROOT))
        module = module_name(path, ROOT)
        arrows += imports_of(path.read_text(), module, root=ROOT, is_package=False, where=where)
    return arrows


def test_migrations_seal_with_frozen_code_not_the_live_sealing_package():
    """A migration must do tomorrow what it did when written: one importing ``app.sealed`` would change
    what it does to an old database whenever the application's sealing changes."""
    arrows = _migration_imports()
    live = [a for a in arrows if a.target.startswith("app.sealed") and not a.where.startswith(MIGRATION_KEY_SOURCE)]
    assert not live, "migrations importing the live sealing code:\n" + "\n".join(map(str, live))
    frozen = [a for a in arrows if "/_sealed_v" in a.where and a.target.split(".")[0] == "app"]
    assert not frozen, "frozen sealing formats must not import the application:\n" + "\n".join(map(str, frozen))
    assert any(a.target == "migrations._sealed_v1" for a in arrows if "0010_" in a.where)
