"""``reprotect secrets``: key-encryption keys for the secrets stored in the database.

Rotation without downtime (docs/deployment.md, "Key rotation"), a roll of every process after each
``REPROTECT_SECRETS__KEYS`` change: add the new key after the old one (decrypt-only) and roll; put it first
and roll; run ``reprotect secrets rotate``, which re-wraps each stored secret's data key under the new key
(and re-seals any ``sealed:v1`` value as v2); drop the old key and roll.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="Keys of the secrets stored in the database (envelope encryption).", no_args_is_help=True)
console = Console()


@app.command()
def rotate() -> None:
    """Re-seal every stored secret (as sealed:v2) under the first key of REPROTECT_SECRETS__KEYS (safe while the
    service runs); exits 1 naming the places of values that do not open (the others are re-sealed)."""
    from app.db import build_engine
    from app.sealed import keyring, rotation
    from cli.configuration import load_settings

    settings = load_settings()
    ring = keyring.keyring_for(settings.secrets)
    engine = build_engine(settings.database.url)
    try:
        with engine.begin() as connection:
            done = rotation.reseal_all(connection, lambda: ring)
    finally:
        engine.dispose()
    console.print(f"{done.changed} stored secret(s) re-sealed under key {ring.primary[0]!r}", highlight=False)
    if done.unopened:
        # Where, never what: a value that does not open is left as it was; the others are re-sealed all the same.
        console.print(f"{len(done.unopened)} stored secret(s) do not open and were left as they are:", highlight=False)
        for place, error in done.unopened:  # one line each, however narrow the terminal
            console.print(f"  {place} ({error})", highlight=False, markup=False, soft_wrap=True)  # keys hold "["
        console.print(
            "UnknownKey: sealed under a key not configured here; add it after the first key and run again before "
            "dropping any key. DoesNotOpen: altered or damaged, it opens with no key (dropping the old one loses "
            "nothing more); give such a webhook endpoint a new secret (POST /webhooks/{id}/rotate-secret).",
            highlight=False,
        )
        raise typer.Exit(1)


@app.command("new-key")
def new_key(name: Annotated[str, typer.Argument(help="The key's name (letters, digits, '_.-').")]) -> None:
    """Print a fresh name:base64 key for REPROTECT_SECRETS__KEYS (32 random bytes)."""
    from app.sealed.keyring import new_key_text, parse_keys

    text = new_key_text(name)
    parse_keys(text)  # refuses a bad name
    print(text)
