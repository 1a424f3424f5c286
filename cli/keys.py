"""``reprotect keys``: create, list and revoke API keys directly in the job database (operators' CLI)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cli.output import Output, OutputOption, print_json


def _key_json(row: Any) -> dict[str, Any]:
    """A key's row as ``GET /api-keys`` lists it (never the key or its hash)."""
    fields = ("id", "name", "role", "scopes", "created_by", "created_at", "expires_at", "revoked_at", "last_used_at")
    return {name: getattr(row, name, None) for name in fields}


app = typer.Typer(help="API keys for automation: created and revoked here or through /api-keys.", no_args_is_help=True)
console = Console()


def _sessions() -> tuple[Engine, sessionmaker[Session]]:
    from app.bootstrap import wired_sessions
    from app.db import build_engine
    from app.settings import get_settings

    settings = get_settings()
    engine = build_engine(settings.database.url)
    sessions = wired_sessions(engine)
    if url := settings.auth.effective_revocation_url:  # a revoke here reaches every API process's key cache
        from app.auth import revocation

        revocation.wire(sessions, revocation.RedisRevocations(url))
    return engine, sessions


@app.command()
def create(
    name: Annotated[str, typer.Option(help="Who or what uses the key.")],
    role: Annotated[str, typer.Option(help="reader, operator or admin.")] = "operator",
    scope: Annotated[
        list[str] | None, typer.Option(help="'*', a subscription, resource group or vault id (repeatable).")
    ] = None,
    expires_in_days: Annotated[float | None, typer.Option(help="Expire the key after this many days.")] = None,
    plain: Annotated[bool, typer.Option(help="Print only the key (for scripts).")] = False,
) -> None:
    """Create a key; it is printed once and only its hash is kept."""
    from app.auth import service
    from app.auth.principal import Role
    from app.db import utcnow
    from app.errors import ServiceError

    engine, sessions = _sessions()
    now = utcnow()
    try:
        created = service.issue_key(
            sessions,
            name=name,
            role=Role(role),
            scopes=scope or [],
            created_by="cli",
            expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
        )
    except (ServiceError, ValueError) as exc:
        console.print(f"[red]{getattr(exc, 'message', exc)}[/]")
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    if plain:
        print(created.plaintext)
        return
    console.print(
        f"key {created.row.id} ({role}, scopes {', '.join(created.row.scopes)}): store it now, it is not kept:"
    )
    print(created.plaintext)


@app.command("list")
def list_keys(output: OutputOption = Output.TABLE) -> None:
    """Every key with its role, scopes and state (never the key itself)."""
    from app.auth import service

    engine, sessions = _sessions()
    table = Table("id", "name", "role", "scopes", "created", "expires", "revoked", "last used")
    rows, _ = service.list_keys(sessions, principal=None, limit=1000, cursor=None)
    if output == Output.JSON:
        engine.dispose()
        print_json([_key_json(r) for r in rows])
        return
    for r in rows:
        table.add_row(r.id, r.name, r.role, " ".join(r.scopes), str(r.created_at), str(r.expires_at or ""),
                      str(r.revoked_at or ""), str(r.last_used_at or ""))  # fmt: skip
    engine.dispose()
    console.print(table)


@app.command()
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id (as `keys list` shows it).")]) -> None:
    """Revoke a key at once."""
    from app.auth import service
    from app.errors import NotFound

    engine, sessions = _sessions()
    try:
        service.revoke_key(sessions, principal=None, key_id=key_id, by="cli")
    except NotFound as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    console.print(f"key {key_id} revoked")
