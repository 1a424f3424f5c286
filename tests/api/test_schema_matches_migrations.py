"""The migrations build the schema the models describe, on SQLite and on Postgres.

Production creates its tables with Alembic (``migrate`` in tests/conftest.py does the same), while the
code reads and writes them through the SQLAlchemy models: a column, type, index or foreign key added to
one and not the other only shows up at run time. ``compare_metadata`` diffs the migrated database
against the models' metadata. It does not look at an index's WHERE clause, so the partial unique index
that keeps one active job per VM, whose state list migration 0001 froze, is checked on its own.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import warnings
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DefaultClause,
    ForeignKeyConstraint,
    Index,
    Table,
    UniqueConstraint,
    create_engine,
    text,
)

import app
from app.auth import models as auth_models  # noqa: F401
from app.db import Base
from app.idempotency import models as idempotency_models  # noqa: F401
from app.job import models as job_models  # noqa: F401
from app.job.states import ACTIVE_STATES
from app.webhook import models as webhook_models  # noqa: F401

# The modules above are the ones migrations/env.py imports; importing every module of the app as
# well puts any table a model defines elsewhere on Base.metadata too, so none escapes the comparison.
for _module in pkgutil.walk_packages(app.__path__, "app."):
    importlib.import_module(_module.name)


def _json_server_default(rendered: str | None) -> Any:
    """A JSON column's server default as a value: ``'["*"]'`` (SQLite, the model) or ``'["*"]'::json``."""
    if rendered is None:
        return None
    literal = re.sub(r"::\w+$", "", rendered.strip())
    literal = literal.removeprefix("'").removesuffix("'").replace("''", "'")
    try:
        return json.loads(literal)
    except ValueError:
        return literal


def _compare_server_default(
    context: MigrationContext,
    inspected_column: Column[Any],
    metadata_column: Column[Any],
    inspected_default: str | None,
    metadata_default: Any,
    rendered_metadata_default: str | None,
) -> bool | None:
    """Server defaults are compared (a NOT NULL column added to existing rows relies on one), but Alembic's
    Postgres comparison runs ``SELECT '<db default>' = '<model default>'`` on the server, which fails
    for JSON (json has no ``=``): JSON defaults are compared here as JSON values instead. Every other
    column returns None: Alembic's own comparison."""
    if isinstance(metadata_column.type, JSON):
        return _json_server_default(inspected_default) != _json_server_default(rendered_metadata_default)
    return None


def _show(value: Any) -> str:
    """A type, nullability or server default as it would read in DDL."""
    if isinstance(value, DefaultClause):  # a model's string is quoted in DDL; a reflected one is SQL already
        return "'{}'".format(value.arg.replace("'", "''")) if isinstance(value.arg, str) else str(value.arg)
    return repr(value)


def _describe(diff: Any) -> list[str]:
    """One readable line per difference (``compare_metadata`` groups a column's changes in a list)."""
    if isinstance(diff, list):
        return [line for change in diff for line in _describe(change)]
    kind = diff[0]
    where = {"add": "in the models only (no migration creates it)", "remove": "in the migrated database only"}
    verb = kind.split("_", 1)[0]
    if kind in ("add_table", "remove_table"):
        table: Table = diff[1]
        return [f"table {table.name}: {where[verb]}"]
    if kind in ("add_column", "remove_column"):
        column: Column[Any] = diff[3]
        nullable = "NULL" if column.nullable else "NOT NULL"
        return [f"column {diff[2]}.{column.name} ({column.type} {nullable}): {where[verb]}"]
    if kind in ("add_index", "remove_index"):
        index: Index = diff[1]
        columns = ", ".join(c.name for c in index.columns) or str(index.expressions)
        unique = "unique " if index.unique else ""
        return [f"{unique}index {index.name} on {index.table.name}({columns}): {where[verb]}"]
    if kind in ("add_constraint", "remove_constraint") and isinstance(diff[1], UniqueConstraint):
        constraint: UniqueConstraint = diff[1]
        columns = ", ".join(c.name for c in constraint.columns)
        return [f"unique constraint {constraint.name} on {constraint.table.name}({columns}): {where[verb]}"]
    if kind in ("add_fk", "remove_fk"):
        fk: ForeignKeyConstraint = diff[1]
        columns = ", ".join(fk.column_keys)
        target = ", ".join(e.target_fullname for e in fk.elements)
        ondelete = f" ON DELETE {fk.ondelete}" if fk.ondelete else ""
        return [f"foreign key {fk.table.name}({columns}) -> {target}{ondelete}: {where[verb]}"]
    if kind.startswith("modify_"):
        _, _schema, table_name, column_name, _existing, in_database, in_models = diff
        what = kind.removeprefix("modify_")
        return [
            f"column {table_name}.{column_name} {what}: migrated database {_show(in_database)}, models {_show(in_models)}"
        ]
    return [repr(diff)]


def schema_differences(connection: Connection) -> list[str]:
    """What separates the migrated database from the models, one line per difference."""
    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "compare_server_default": _compare_server_default},
    )
    # No difference is ignored: Alembic already matches what reflection reports for these models (Uuid
    # read back as CHAR(32) on SQLite, the model's Float against the migration's Double). SQLite has no
    # time zones in its types, so a timezone=True/False mismatch is only caught by the Postgres run.
    # Reflection cannot read expression indexes (lower(vault_id), ...): they are checked on their own below.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression-based index")
        return [line for diff in compare_metadata(context, Base.metadata) for line in _describe(diff)]


def test_migrations_build_the_schema_the_models_describe(database_url):
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            differences = schema_differences(connection)
    finally:
        engine.dispose()
    if differences:
        pytest.fail(
            "The database built by the migrations differs from the SQLAlchemy models "
            "(add a migration, or fix the model):\n  " + "\n  ".join(differences),
            pytrace=False,
        )


def _index_definition(connection: Connection, name: str) -> str | None:
    if connection.dialect.name == "sqlite":
        query = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name"
    else:
        query = "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = :name"
    return connection.execute(text(query), {"name": name}).scalar()


def test_the_one_active_job_per_vm_index_covers_exactly_the_active_states(database_url):
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            definition = _index_definition(connection, "uq_jobs_active_vm")
    finally:
        engine.dispose()
    assert definition, "the migrated database has no uq_jobs_active_vm index"
    # SQLite keeps the CREATE statement as written: ... WHERE state IN ('accepted', ...)
    # Postgres rewrites it: ... WHERE ((state)::text = ANY ((ARRAY['accepted'::character varying, ...])::text[]))
    assert "UNIQUE" in definition.upper(), definition
    head, _, predicate = definition.partition(" WHERE ")
    assert re.search(r"\(\s*vm_key\s*\)", head), definition
    assert "state" in predicate, definition
    in_database = set(re.findall(r"'([^']*)'", predicate))
    active = {state.value for state in ACTIVE_STATES}
    assert in_database == active, (
        "uq_jobs_active_vm (at most one active job per VM) does not cover the states the code calls active: "
        f"missing {sorted(active - in_database)}, extra {sorted(in_database - active)}. "
        "Add a migration that recreates the index with the current ACTIVE_STATES.\n"
        f"Index in the database: {definition}"
    )


def _bare(sql: str) -> str:
    """SQL without blanks, parentheses or Postgres casts: ``lower((vm_name)::text)`` reads ``lowervm_name``."""
    return re.sub(r"::\w+|[\s()]", "", sql).lower()


def test_the_expression_indexes_of_the_models_exist_with_their_expressions(database_url):
    expected = {
        index.name: index
        for table in Base.metadata.tables.values()
        for index in table.indexes
        if any(not isinstance(expression, Column) for expression in index.expressions)
    }
    assert expected, "the models declare no expression index (the read path's case-folded filters need them)"
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            for name, index in expected.items():
                definition = _index_definition(connection, str(name))
                assert definition, f"the migrated database has no index {name}"
                for expression in index.expressions:
                    shown = expression.name if isinstance(expression, Column) else str(expression)
                    assert _bare(shown) in _bare(definition), (name, definition)
    finally:
        engine.dispose()
