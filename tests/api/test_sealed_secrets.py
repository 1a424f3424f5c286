"""Webhook signing secrets at rest: sealed in the database (envelope encryption, ``app.sealed``), read
back in clear by the service, re-sealed by a key rotation without a delivery ever signing wrongly."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, make_url, text
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.sealed import envelope, keyring, rotation
from app.sealed.keyring import Keyring, KeyringError, parse_keys
from app.settings import get_settings
from tests.conftest import ROOT
from tests.drive import deliver_due, drive
from tests.receiver import running_receiver

KEY_A = parse_keys(keyring.new_key_text("a"))
KEY_B = parse_keys(keyring.new_key_text("b"))
B_THEN_A = Keyring((*KEY_B.keys, *KEY_A.keys))


@pytest.fixture
def receiver():
    with running_receiver() as r:
        yield r


@pytest.fixture
def keys_a() -> Iterator[None]:
    """The process seals under key ``a`` for the test; the environment's keyring afterwards."""
    keyring.install_keyring(KEY_A)
    yield
    keyring.install(get_settings().secrets)


def _stored_secrets(container) -> list[str]:
    """Every secret column's raw value, read over SQL (no model, no decryption)."""
    with container.engine.connect() as connection:
        rows = [
            *connection.execute(text("SELECT secret, previous_secret FROM webhook_endpoints")),
            *connection.execute(text("SELECT callback_secret FROM reprotect_requests")),
        ]
    return [value for row in rows for value in row if value is not None]


def _with_secrets(api, demo, receiver) -> list[str]:
    """An endpoint whose secret was rotated once (two secrets sign) and a request with a callback secret."""
    endpoint = api.post("/webhooks", json={"url": receiver.url, "event_types": ["reprotect.job.succeeded"]}).json()
    rotated = api.post(f"/webhooks/{endpoint['id']}/rotate-secret", json={"grace_seconds": 3600})
    assert rotated.status_code == 200, rotated.text
    body = {"vms": [{"item_id": demo["committed"][0]["id"]}], "callback_url": receiver.url}
    once = {"Idempotency-Key": "sealed-secrets-test"}  # the answer (with the new secret) is kept for replays
    accepted = api.post("/reprotect", json=body, headers=once)
    assert accepted.status_code == 202, accepted.text
    replayed = api.post("/reprotect", json=body, headers=once)
    assert replayed.headers.get("Idempotent-Replayed") == "true"
    assert replayed.json()["callback_secret"] == accepted.json()["callback_secret"]
    return [endpoint["secret"], rotated.json()["secret"], accepted.json()["callback_secret"]]


def _every_row_as_text(container) -> str:
    """Every row of every table as stored (raw SQL: no column type opens a sealed value), as text: a secret
    kept anywhere in clear shows up here."""
    from app.db import Base

    with container.engine.connect() as connection:
        return "\n".join(
            str(tuple(row))
            for table in Base.metadata.sorted_tables
            for row in connection.execute(text(f"SELECT * FROM {table.name}"))
        )


def _clear_forms(secret: str) -> list[bytes]:
    """How a secret could sit in the database in clear: as shown, its base64 key, the key's bytes."""
    key = secret.removeprefix("whsec_")
    return [secret.encode(), key.encode(), base64.b64decode(key)]


def test_the_database_never_holds_a_webhook_secret_in_clear(api, container, demo, receiver, keys_a):
    secrets = _with_secrets(api, demo, receiver)
    stored = _stored_secrets(container)
    assert len(stored) == 3  # the endpoint's current and previous secret, the request's callback secret
    for value in stored:
        assert value.startswith("sealed:v1:a:"), value[:20]
    for secret in secrets:
        assert not any(secret.removeprefix("whsec_") in value for value in stored)
    everything = _every_row_as_text(container)  # idempotent answers, audit, history, deliveries included
    for secret in secrets:
        assert secret.removeprefix("whsec_") not in everything
    url = make_url(container.settings.database.url)
    if url.get_backend_name() == "sqlite":  # the whole file, write-ahead log included
        files = [Path(str(url.database)), Path(f"{url.database}-wal")]
        raw = b"".join(path.read_bytes() for path in files if path.exists())
        for secret in secrets:
            for form in _clear_forms(secret):
                assert form not in raw


def test_deliveries_keep_signing_across_a_key_rotation(api, container, demo, receiver, keys_a):
    old_endpoint_secret, endpoint_secret, callback_secret = _with_secrets(api, demo, receiver)
    # Rotation: the new key first, the old one still there; every process reads both meanwhile.
    keyring.install_keyring(B_THEN_A)
    with container.engine.begin() as connection:
        assert rotation.reseal_all(connection, lambda: B_THEN_A) == 3
    with container.engine.begin() as connection:
        assert rotation.reseal_all(connection, lambda: B_THEN_A) == 0  # nothing left under the old key
    stored = _stored_secrets(container)
    assert {envelope.key_name_of(value) for value in stored} == {"b"}
    with pytest.raises(KeyringError):
        envelope.unseal(KEY_A, stored[0])
    # The old key is dropped: deliveries are signed with the same secrets as before.
    keyring.install_keyring(KEY_B)
    drive(container)
    deliver_due(container)
    secrets = {"endpoint": endpoint_secret, "before rotation": old_endpoint_secret, "callback": callback_secret}
    signed_with = [
        {name for name, secret in secrets.items() if _verifies(Webhook(secret), received)}
        for received in receiver.received
    ]
    # The endpoint's one event carries two signatures (its secret and, in the grace period, the one before);
    # the callback's two events carry the request's secret.
    assert sorted(map(sorted, signed_with)) == [["before rotation", "endpoint"], ["callback"], ["callback"]]


def _verifies(hook: Webhook, received) -> bool:
    """Whether one of the delivery's signatures is the secret's (the reference library checks)."""
    try:
        hook.verify(received.body, received.headers)
    except WebhookVerificationError:
        return False
    return True


def _database_at_0008_with_a_clear_secret(tmp_path: Path) -> tuple[str, Config, str]:
    """A SQLite database migrated to 0008 (before sealing) holding one endpoint's secret in clear."""
    url = f"sqlite:///{tmp_path}/old.sqlite3"
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "0008")
    clear = "whsec_" + base64.b64encode(b"k" * 32).decode()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO webhook_endpoints (id, url, event_types, secret, enabled, scopes, created_at, updated_at) "
                "VALUES ('0123456789abcdef0123456789abcdef', 'https://r.example', '[]', :s, 1, '[\"*\"]', "
                "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            ),
            {"s": clear},
        )
    engine.dispose()
    return url, config, clear


def _stored_endpoint_secret(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SELECT secret FROM webhook_endpoints")).scalar_one())
    finally:
        engine.dispose()


def test_the_migration_seals_secrets_stored_in_clear_and_the_downgrade_opens_them(tmp_path, keys_a):
    url, config, clear = _database_at_0008_with_a_clear_secret(tmp_path)
    command.upgrade(config, "head")
    sealed = _stored_endpoint_secret(url)
    assert sealed.startswith("sealed:v1:a:")
    assert envelope.unseal(KEY_A, sealed) == clear
    command.downgrade(config, "0008")
    assert _stored_endpoint_secret(url) == clear


def test_secrets_rotate_reseals_under_the_first_configured_key(tmp_path, keys_a):
    url, config, clear = _database_at_0008_with_a_clear_secret(tmp_path)
    command.upgrade(config, "head")
    keys = f"{keyring.new_key_text('c')},{_key_text(KEY_A)}"
    env = {**os.environ, "REPROTECT_ENV": "dev", "REPROTECT_DATABASE__URL": url, "REPROTECT_SECRETS__KEYS": keys}
    run = subprocess.run(
        [sys.executable, "-m", "cli", "secrets", "rotate"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert "1 stored secret(s) re-sealed under key 'c'" in run.stdout
    resealed = _stored_endpoint_secret(url)
    assert envelope.key_name_of(resealed) == "c"
    assert envelope.unseal(parse_keys(keys.split(",")[0]), resealed) == clear


def _key_text(ring: Keyring) -> str:
    name, key = ring.primary
    return f"{name}:{base64.b64encode(key).decode()}"
