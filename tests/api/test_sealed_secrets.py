"""Webhook signing secrets at rest: sealed in the database (envelope encryption, ``app.sealed``) and bound to
their row, read back in clear by the service, re-sealed by a key rotation without a delivery ever signing
wrongly; the migrations that seal them (0010: v1, 0016: v2) run frozen code."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, make_url, text, update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.db import transaction, utcnow
from app.idempotency.models import IdempotencyRecord
from app.sealed import envelope, keyring, rotation
from app.sealed.documents import open_secrets
from app.sealed.envelope import Place
from app.sealed.keyring import Keyring, KeyringError, UnknownKey, parse_keys
from app.settings import get_settings
from app.webhook import service as webhooks
from app.webhook.models import WebhookDelivery, WebhookEndpoint
from migrations import _sealed_v1
from tests.conftest import POSTGRES_URL, ROOT, _unavailable, fresh_postgres_database
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


def _stored_secrets(container) -> list[tuple[Place, str]]:
    """Every stored secret's raw value and place, read over SQL (no model, no decryption): the endpoints'
    and requests' secret columns and the secrets inside stored idempotent answers."""
    found = []
    with container.engine.connect() as connection:
        for row_id, *values in connection.execute(text("SELECT id, secret, previous_secret FROM webhook_endpoints")):
            for name, value in zip(("secret", "previous_secret"), values, strict=True):
                found.append((Place("webhook_endpoints", name, (uuid.UUID(str(row_id)),)), value))
        for row_id, value in connection.execute(text("SELECT id, callback_secret FROM reprotect_requests")):
            found.append((Place("reprotect_requests", "callback_secret", (uuid.UUID(str(row_id)),)), value))
        for owner, key, body in connection.execute(text("SELECT owner, key, response_body FROM idempotency_keys")):
            document = json.loads(body) if isinstance(body, str) else body
            if isinstance(document, dict) and document.get("callback_secret"):
                found.append((Place("idempotency_keys", "response_body", (owner, key)), document["callback_secret"]))
    return [(place, value) for place, value in found if value is not None]


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
    # The endpoint's current and previous secret, the request's callback secret and its idempotent answer's copy.
    assert len(stored) == 4
    for place, value in stored:
        assert value.startswith("sealed:v2:a:"), value[:20]
        assert envelope.unseal(KEY_A, value, place=place) in secrets
    for secret in secrets:
        assert not any(secret.removeprefix("whsec_") in value for _, value in stored)
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
        assert rotation.reseal_all(connection, lambda: B_THEN_A) == rotation.Resealed(changed=4)  # answer's copy too
    with container.engine.begin() as connection:
        assert rotation.reseal_all(connection, lambda: B_THEN_A).changed == 0  # nothing left under the old key
    stored = _stored_secrets(container)
    assert {envelope.key_name_of(value) for _, value in stored} == {"b"}
    with pytest.raises(KeyringError):
        envelope.unseal(KEY_A, stored[0][1], place=stored[0][0])
    # The old key is dropped: deliveries are signed with the same secrets as before, the answer replays.
    keyring.install_keyring(KEY_B)
    replayed = api.post(
        "/reprotect",
        json={"vms": [{"item_id": demo["committed"][0]["id"]}], "callback_url": receiver.url},
        headers={"Idempotency-Key": "sealed-secrets-test"},
    )
    assert replayed.json()["callback_secret"] == callback_secret
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


ENDPOINT_ID = uuid.UUID("0123456789abcdef0123456789abcdef")
ENDPOINT_SECRET = Place("webhook_endpoints", "secret", (ENDPOINT_ID,))


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request, tmp_path) -> Iterator[str]:
    """The URL of an empty database of each backend, for migrating step by step."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/old.sqlite3"
        return
    if not POSTGRES_URL:
        _unavailable("postgres")
    with fresh_postgres_database() as url:
        yield url


def _database_at_0008_with_a_clear_secret(url: str) -> tuple[str, Config, str]:
    """The database at ``url`` migrated to 0008 (before sealing) holding one endpoint's secret in clear."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "0008")
    clear = "whsec_" + base64.b64encode(b"k" * 32).decode()
    _insert_endpoint(url, ENDPOINT_ID, secret=clear)
    return url, config, clear


def _insert_endpoint(url: str, endpoint_id: uuid.UUID, *, secret: str) -> None:
    """One webhook endpoint holding ``secret`` as stored, over SQL (the columns every revision since 0008 has)."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO webhook_endpoints (id, url, event_types, secret, enabled, scopes, created_at, updated_at) "
                "VALUES (:id, 'https://r.example', '[]', :s, TRUE, '[\"*\"]', "
                "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            ),
            {"id": endpoint_id.hex, "s": secret},
        )
    engine.dispose()


def _stored_endpoint_secret(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SELECT secret FROM webhook_endpoints")).scalar_one())
    finally:
        engine.dispose()


def test_the_migrations_seal_secrets_stored_in_clear_bind_them_to_their_row_and_the_downgrades_undo_it(
    empty_database, keys_a
):
    url, config, clear = _database_at_0008_with_a_clear_secret(empty_database)
    command.upgrade(config, "0010")
    v1 = _stored_endpoint_secret(url)
    assert v1.startswith("sealed:v1:a:")  # 0010 runs its frozen format, whatever the application writes today
    assert envelope.unseal(KEY_A, v1, place=ENDPOINT_SECRET) == clear
    command.upgrade(config, "head")
    v2 = _stored_endpoint_secret(url)
    assert v2.startswith("sealed:v2:a:")  # 0016
    assert envelope.unseal(KEY_A, v2, place=ENDPOINT_SECRET) == clear
    with pytest.raises(envelope.DoesNotOpen):
        envelope.unseal(KEY_A, v2, place=Place("webhook_endpoints", "secret", (uuid.uuid4(),)))
    command.downgrade(config, "0015")
    back = _stored_endpoint_secret(url)
    assert back.startswith("sealed:v1:a:")
    assert envelope.unseal(KEY_A, back, place=ENDPOINT_SECRET) == clear  # v1 values still open
    command.downgrade(config, "0008")
    assert _stored_endpoint_secret(url) == clear


def test_migration_0016_reseals_the_secrets_of_stored_idempotent_answers(empty_database, keys_a):
    url, config, _ = _database_at_0008_with_a_clear_secret(empty_database)
    command.upgrade(config, "0015")
    clear = "whsec_" + base64.b64encode(b"c" * 32).decode()
    sealed_v1 = _sealed_v1.seal(tuple(KEY_A.keys), clear)  # as the service wrote answers before 0016
    engine = create_engine(url)
    with engine.begin() as connection:
        for key, secret in (("sealed", sealed_v1), ("clear", clear)):
            connection.execute(
                text(
                    "INSERT INTO idempotency_keys (owner, key, fingerprint, status, claim_token, response_status, "
                    "response_body, created_at, locked_until, expires_at) VALUES ('key:abc', :key, 'f', 'completed', "
                    "'t', 202, :body, '2026-01-01 00:00:00', '2026-01-01 00:00:00', '2026-01-02 00:00:00')"
                ),
                {"key": key, "body": json.dumps({"request_id": "r", "callback_secret": secret, "jobs": []})},
            )
    command.upgrade(config, "head")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT key, response_body FROM idempotency_keys")).all()
    engine.dispose()
    assert len(rows) == 2
    for key, body in rows:
        document = json.loads(body) if isinstance(body, str) else body
        assert document["callback_secret"].startswith("sealed:v2:a:")
        place = Place("idempotency_keys", "response_body", ("key:abc", key))
        assert open_secrets(document, place=place) == {"request_id": "r", "callback_secret": clear, "jobs": []}


def test_secrets_rotate_reseals_under_the_first_configured_key(empty_database, keys_a):
    url, config, clear = _database_at_0008_with_a_clear_secret(empty_database)
    command.upgrade(config, "head")
    keys = f"{keyring.new_key_text('c')},{_key_text(KEY_A)}"
    env = {**os.environ, "REPROTECT_ENV": "dev", "REPROTECT_DATABASE__URL": url, "REPROTECT_SECRETS__KEYS": keys}
    run = subprocess.run(
        [sys.executable, "-m", "cli", "secrets", "rotate"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert "1 stored secret(s) re-sealed under key 'c'" in run.stdout
    resealed = _stored_endpoint_secret(url)
    assert resealed.startswith("sealed:v2:c:")
    assert envelope.unseal(parse_keys(keys.split(",")[0]), resealed, place=ENDPOINT_SECRET) == clear


def test_secrets_rotate_reseals_what_opens_and_names_where_the_values_are_that_do_not(empty_database, keys_a):
    url, config, clear = _database_at_0008_with_a_clear_secret(empty_database)
    command.upgrade(config, "head")
    damaged_id = uuid.UUID(int=7)
    damaged = _stored_endpoint_secret(url)[:40]  # cut short
    _insert_endpoint(url, damaged_id, secret=damaged)
    keys = f"{keyring.new_key_text('c')},{_key_text(KEY_A)}"
    env = {**os.environ, "REPROTECT_ENV": "dev", "REPROTECT_DATABASE__URL": url, "REPROTECT_SECRETS__KEYS": keys}
    run = subprocess.run(
        [sys.executable, "-m", "cli", "secrets", "rotate"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert "1 stored secret(s) re-sealed under key 'c'" in run.stdout  # the one that opens, all the same
    assert f"  webhook_endpoints.secret of row {damaged_id} (DoesNotOpen)\n" in run.stdout
    assert "sealed:" not in run.stdout + run.stderr
    engine = create_engine(url)
    with engine.connect() as connection:
        stored = dict(connection.execute(text("SELECT id, secret FROM webhook_endpoints")).all())
    engine.dispose()
    by_id = {uuid.UUID(str(row_id)): value for row_id, value in stored.items()}
    assert by_id[damaged_id] == damaged  # left as it was
    assert by_id[ENDPOINT_ID].startswith("sealed:v2:c:")
    assert envelope.unseal(parse_keys(keys.split(",")[0]), by_id[ENDPOINT_ID], place=ENDPOINT_SECRET) == clear


def test_secrets_rotate_leaves_an_answer_claimed_again_meanwhile_as_its_new_claim_stored_it(empty_database, keys_a):
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", empty_database)
    command.upgrade(config, "head")
    answers = IdempotencyRecord.__table__
    place = Place("idempotency_keys", "response_body", ("key:abc", "k"))
    first = {"request_id": "r1", "callback_secret": envelope.seal(KEY_A, "whsec_first", place=place), "jobs": []}
    second = {"request_id": "r2", "callback_secret": envelope.seal(KEY_A, "whsec_second", place=place), "jobs": []}
    at = utcnow()
    row = {"owner": "key:abc", "key": "k", "fingerprint": "f", "status": "completed", "response_status": 202}
    row |= {"created_at": at, "locked_until": at, "expires_at": at}
    engine = create_engine(empty_database)
    with engine.begin() as connection:
        connection.execute(answers.insert().values(**row, claim_token="first-claim", response_body=first))

        def keys_once_the_answer_is_read() -> Keyring:  # meanwhile, the key expired and was claimed and answered again
            connection.execute(update(answers).values(claim_token="second-claim", response_body=second))
            return B_THEN_A

        assert rotation.reseal_all(connection, keys_once_the_answer_is_read) == rotation.Resealed(changed=0)
    with engine.connect() as connection:
        body = connection.execute(answers.select().with_only_columns(answers.c.response_body)).scalar_one()
    engine.dispose()
    assert body == second  # not the first answer, re-sealed over it


def test_secrets_rotate_turns_v1_values_left_by_a_downgrade_into_v2(empty_database, keys_a):
    url, config, clear = _database_at_0008_with_a_clear_secret(empty_database)
    command.upgrade(config, "0015")
    assert _stored_endpoint_secret(url).startswith("sealed:v1:a:")
    engine = create_engine(url)
    with engine.begin() as connection:
        assert rotation.reseal_all(connection, lambda: KEY_A).changed == 1  # same key: only the format changes
    engine.dispose()
    v2 = _stored_endpoint_secret(url)
    assert v2.startswith("sealed:v2:a:")
    assert envelope.unseal(KEY_A, v2, place=ENDPOINT_SECRET) == clear


def _key_text(ring: Keyring) -> str:
    name, key = ring.primary
    return f"{name}:{base64.b64encode(key).decode()}"


# --- a secret moved to another row, a process without the key ---


def _register(api, url: str) -> dict:
    created = api.post("/webhooks", json={"url": url, "event_types": ["reprotect.job.succeeded"]})
    assert created.status_code == 201, created.text
    return created.json()


def _deliveries(api, endpoint_id: str) -> list[dict]:
    return api.get("/webhook-deliveries", params={"endpoint_id": endpoint_id}).json()["items"]


def test_a_secret_copied_into_another_row_does_not_open_and_that_delivery_fails_with_the_reason(
    api, container, demo, receiver, keys_a
):
    kept, victim = _register(api, receiver.url), _register(api, receiver.url)
    endpoints = WebhookEndpoint.__table__
    with container.engine.begin() as connection:  # someone with write access to the table swaps a secret in
        stolen = connection.execute(
            endpoints.select().with_only_columns(endpoints.c.secret).where(endpoints.c.id == uuid.UUID(kept["id"]))
        ).scalar_one()
        connection.execute(update(endpoints).where(endpoints.c.id == uuid.UUID(victim["id"])).values(secret=stolen))
    assert api.get("/webhooks").status_code == 200  # reading endpoints never needs their secrets
    api.post("/reprotect", json={"vms": [{"item_id": demo["committed"][0]["id"]}]}).raise_for_status()
    drive(container)
    deliver_due(container)  # the sweep goes on: one delivery sent, the other failed, none left pending

    [sent] = receiver.received
    Webhook(kept["secret"]).verify(sent.body, sent.headers)
    [failed] = _deliveries(api, victim["id"])
    assert failed["status"] == "failed"
    assert failed["attempts"] == 0  # nothing was sent
    assert "does not open: it was altered or copied from another row" in failed["last_error"]
    assert f"webhook_endpoints.secret of row {victim['id']}" in failed["last_error"]

    # The remedy: a new secret (the broken one cannot keep signing through a grace period).
    rotated = api.post(f"/webhooks/{victim['id']}/rotate-secret", json={"grace_seconds": 3600})
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["previous_secret_expires_at"] is None
    api.post(f"/webhook-deliveries/{failed['id']}/redeliver").raise_for_status()
    deliver_due(container)
    resent = receiver.received[-1]
    Webhook(rotated.json()["secret"]).verify(resent.body, resent.headers)
    assert len(resent.headers["webhook-signature"].split(" ")) == 1


def test_a_process_without_the_key_leaves_the_delivery_to_one_that_has_it(api, container, demo, receiver, keys_a):
    endpoint = _register(api, receiver.url)  # sealed under key a
    api.post("/reprotect", json={"vms": [{"item_id": demo["committed"][0]["id"]}]}).raise_for_status()
    drive(container)
    keyring.install_keyring(KEY_B)  # a process rolled out with only key b (the decrypt-only phase skipped)
    due = webhooks.sweep(container, now=utcnow(), redispatch_after=0)
    assert len(due) == 1
    assert not webhooks.deliver(container, delivery_id=due[0], worker="pod-with-b").ran
    with transaction(container.sessions) as session:
        waiting = session.get_one(WebhookDelivery, due[0])
        assert waiting.status == "pending"
        assert waiting.attempts == 0
        assert waiting.last_error == (
            "not sent by pod-with-b: no key named 'a' in REPROTECT_SECRETS__KEYS (was it removed before a rotation?)"
        )
        with pytest.raises(UnknownKey):
            _ = session.get_one(WebhookEndpoint, uuid.UUID(endpoint["id"])).secret
    assert receiver.received == []

    keyring.install_keyring(B_THEN_A)  # a process that has key a (decrypt-only) sends it at its next due time
    deliver_due(container)
    [sent] = receiver.received
    Webhook(endpoint["secret"]).verify(sent.body, sent.headers)


def test_a_damaged_secret_fails_its_delivery_with_the_reason_instead_of_staying_due(
    api, container, demo, receiver, keys_a
):
    endpoint = _register(api, receiver.url)
    endpoints = WebhookEndpoint.__table__
    row = endpoints.c.id == uuid.UUID(endpoint["id"])
    with container.engine.begin() as connection:  # cut short, inside the first nonce (a bad restore, say)
        stored = connection.execute(endpoints.select().with_only_columns(endpoints.c.secret).where(row)).scalar_one()
        connection.execute(update(endpoints).where(row).values(secret=stored[: len("sealed:v2:a:") + 8]))
    api.post("/reprotect", json={"vms": [{"item_id": demo["committed"][0]["id"]}]}).raise_for_status()
    drive(container)
    deliver_due(container)  # returns: nothing left pending

    [failed] = _deliveries(api, endpoint["id"])
    assert failed["status"] == "failed"
    assert failed["attempts"] == 0
    assert failed["last_error"] == (
        f"not sent: the secret stored in webhook_endpoints.secret of row {endpoint['id']} does not open: "
        "it is damaged (truncated or not base64) (give the receiver a new secret)"
    )
    assert receiver.received == []


def test_a_previous_secret_that_does_not_open_leaves_the_current_one_to_sign_alone(
    api, container, demo, receiver, keys_a, caplog
):
    endpoint = _register(api, receiver.url)
    rotated = api.post(f"/webhooks/{endpoint['id']}/rotate-secret", json={"grace_seconds": 3600})
    assert rotated.status_code == 200, rotated.text
    endpoints = WebhookEndpoint.__table__
    row = endpoints.c.id == uuid.UUID(endpoint["id"])
    with container.engine.begin() as connection:  # the current secret's value in the other column: bound elsewhere
        connection.execute(update(endpoints).where(row).values(previous_secret=endpoints.c.secret))
    api.post("/reprotect", json={"vms": [{"item_id": demo["committed"][0]["id"]}]}).raise_for_status()
    drive(container)
    deliver_due(container)

    [sent] = receiver.received
    Webhook(rotated.json()["secret"]).verify(sent.body, sent.headers)
    assert len(sent.headers["webhook-signature"].split(" ")) == 1
    [delivered] = _deliveries(api, endpoint["id"])
    assert delivered["status"] == "delivered"
    [warning] = [r.getMessage() for r in caplog.records if "previous one does not open" in r.getMessage()]
    assert warning.endswith("(DoesNotOpen)")  # the class, never the value
    assert "sealed:" not in warning


def test_tries_skipped_for_want_of_the_key_grow_the_backoff_without_counting_as_attempts(
    api, container, demo, receiver, keys_a
):
    _register(api, receiver.url)  # sealed under key a
    api.post("/reprotect", json={"vms": [{"item_id": demo["committed"][0]["id"]}]}).raise_for_status()
    drive(container)
    keyring.install_keyring(KEY_B)  # a process without key a
    [delivery_id] = webhooks.sweep(container, now=utcnow(), redispatch_after=0)
    base, ceiling = container.settings.webhook.backoff_base_seconds, container.settings.webhook.backoff_max_seconds
    assert 0.75 * ceiling > 2 * 1.25 * base  # the ceiling, jitter down, is well past the first step, jitter up
    waits = []
    for _ in range(4):
        with container.engine.begin() as connection:  # due now (no sleeping through the backoff)
            connection.execute(
                update(WebhookDelivery.__table__)
                .where(WebhookDelivery.__table__.c.id == delivery_id)
                .values(next_attempt_at=utcnow())
            )
        before = utcnow()
        assert not webhooks.deliver(container, delivery_id=delivery_id, worker="pod-with-b").ran
        with transaction(container.sessions) as session:
            waiting = session.get_one(WebhookDelivery, delivery_id)
            waits.append((waiting.next_attempt_at - before).total_seconds())
    assert waiting.status == "pending"
    assert waiting.attempts == 0  # nothing was sent
    assert waiting.skipped_tries == 4
    # base · 2^(n-1), capped, with ±25 % jitter: the fourth skip waits at the ceiling, not one base as the first.
    assert waits[3] >= 0.75 * ceiling
    assert receiver.received == []


def test_an_answer_needing_a_secret_this_replica_cannot_open_is_a_503_problem(api, demo, receiver, keys_a):
    endpoint = _register(api, receiver.url)
    headers = {"Idempotency-Key": "vm-0-with-callback"}
    body = {"vms": [{"item_id": demo["committed"][0]["id"]}], "callback_url": receiver.url}
    accepted = api.post("/reprotect", json=body, headers=headers)
    assert accepted.status_code == 202, accepted.text
    keyring.install_keyring(KEY_B)  # a replica rolled out with only key b

    replayed = api.post("/reprotect", json=body, headers=headers)  # its stored answer holds the callback secret
    rotated = api.post(f"/webhooks/{endpoint['id']}/rotate-secret", json={"grace_seconds": 60})

    for answer in (replayed, rotated):
        assert answer.status_code == 503, (answer.request.url, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["retry-after"] == "5"
        assert answer.json()["code"] == "secret_unavailable"
    assert accepted.json()["callback_secret"] not in replayed.text
    keyring.install_keyring(B_THEN_A)  # a replica that has key a answers the replay
    again = api.post("/reprotect", json=body, headers=headers)
    assert again.status_code == 202
    assert again.json()["callback_secret"] == accepted.json()["callback_secret"]


def test_an_answer_needing_a_secret_that_does_not_open_is_a_500_problem_not_a_retry(
    api, container, demo, receiver, keys_a, caplog
):
    headers = {"Idempotency-Key": "vm-0-altered"}
    body = {"vms": [{"item_id": demo["committed"][0]["id"]}], "callback_url": receiver.url}
    accepted = api.post("/reprotect", json=body, headers=headers)
    assert accepted.status_code == 202, accepted.text
    answers = IdempotencyRecord.__table__
    with container.engine.begin() as connection:  # the stored answer's sealed callback secret is altered
        stored = connection.execute(answers.select().with_only_columns(answers.c.response_body)).scalar_one()
        sealed = stored["callback_secret"]
        altered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
        connection.execute(update(answers).values(response_body={**stored, "callback_secret": altered}))

    replayed = api.post("/reprotect", json=body, headers=headers)

    assert replayed.status_code == 500, replayed.text
    assert replayed.headers["content-type"] == "application/problem+json"
    assert "retry-after" not in replayed.headers  # no retry opens it
    assert replayed.json()["code"] == "internal_error"
    assert accepted.json()["callback_secret"] not in replayed.text
    assert "sealed:" not in replayed.text
    [logged] = [r.getMessage() for r in caplog.records if "could not be opened" in r.getMessage()]
    assert logged == "a stored secret could not be opened: DoesNotOpen"
