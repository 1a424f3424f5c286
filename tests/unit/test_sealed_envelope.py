"""Sealed values without a database: a v2 value opens only in the place (table, column, row) it was sealed for,
v1 values still open and re-seal as v2, and a key rolled out in the documented phases never leaves a process
unable to open what another one sealed."""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Iterator

import pytest

from app.idempotency.models import IdempotencyRecord
from app.sealed import envelope, keyring
from app.sealed.column import _canonical
from app.sealed.envelope import DoesNotOpen, NewerFormat, Place
from app.sealed.keyring import Keyring, UnknownKey, parse_keys
from app.settings import get_settings
from app.webhook.models import WebhookEndpoint
from migrations import _sealed_v1

OLD = parse_keys(keyring.new_key_text("old"))
NEW = parse_keys(keyring.new_key_text("new"))
SECRET = "whsec_" + "A" * 44
HERE = Place("webhook_endpoints", "secret", (uuid.UUID(int=1),))


def _ring(*rings: Keyring) -> Keyring:
    return Keyring(tuple(key for ring in rings for key in ring.keys))


def test_a_v2_value_opens_only_in_the_table_column_and_row_it_was_sealed_for():
    sealed = envelope.seal(OLD, SECRET, place=HERE)
    assert sealed.startswith("sealed:v2:old:")
    assert envelope.unseal(OLD, sealed, place=HERE) == SECRET
    elsewhere = [
        Place("webhook_endpoints", "secret", (uuid.UUID(int=2),)),  # another endpoint
        Place("webhook_endpoints", "previous_secret", HERE.row),  # another column of the same row
        Place("reprotect_requests", "secret", HERE.row),  # another table, same id
    ]
    for place in elsewhere:
        with pytest.raises(DoesNotOpen, match=f"the secret stored in {place.table}.{place.column} of row"):
            envelope.unseal(OLD, sealed, place=place)


def test_an_altered_value_does_not_open_and_a_missing_key_is_named():
    sealed = envelope.seal(OLD, SECRET, place=HERE)
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(DoesNotOpen):
        envelope.unseal(OLD, flipped, place=HERE)
    with pytest.raises(UnknownKey, match="no key named 'old'"):
        envelope.unseal(NEW, sealed, place=HERE)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda sealed: sealed[:-1], id="last character cut"),
        pytest.param(lambda sealed: sealed[:40], id="cut inside the wrapped key"),
        pytest.param(lambda sealed: sealed[: len("sealed:v2:old:") + 10], id="cut inside the first nonce"),
        pytest.param(lambda sealed: "sealed:v2:old:", id="nothing after the key name"),
        pytest.param(lambda sealed: "sealed:v2:old", id="no separator after the key name"),
        pytest.param(lambda sealed: "sealed:v2", id="cut inside the prefix"),
        pytest.param(lambda sealed: "sealed:v2:", id="no key name"),
        pytest.param(lambda sealed: sealed[:20] + "!!not base64!!" + sealed[34:], id="not base64"),
        pytest.param(lambda sealed: sealed + "=", id="padding added"),
        pytest.param(lambda sealed: "sealed:v2:o ld:" + sealed[14:], id="a key name no key can have"),
        pytest.param(lambda sealed: "sealed:v1:old:AAAA", id="a v1 value far too short"),
    ],
)
def test_a_damaged_value_does_not_open_whatever_the_damage(damage):
    broken = damage(envelope.seal(OLD, SECRET, place=HERE))
    with pytest.raises(DoesNotOpen, match=r"the secret stored in webhook_endpoints\.secret of row"):
        envelope.unseal(OLD, broken, place=HERE)
    # A rotation re-wraps the data key only (a cut in the value itself shows when it is opened): never a ValueError.
    with contextlib.suppress(DoesNotOpen):
        envelope.reseal(_ring(NEW, OLD), broken, place=HERE)


@pytest.mark.parametrize("stored", ["sealed:xyz:abc", "sealed:v1x:abc", "sealed:v:abc", "sealed:vv2:a:b"])
def test_a_sealed_prefix_without_a_version_is_damaged_not_newer(stored):
    with pytest.raises(DoesNotOpen, match="damaged"):
        envelope.unseal(OLD, stored, place=HERE)


def test_a_format_newer_than_this_release_is_refused_never_taken_for_a_clear_secret():
    # The release before v2 took any value without its one prefix for a secret stored in clear, and signed
    # with the sealed text; a v3 value meets this release the same way during a roll.
    newer = envelope.seal(OLD, SECRET, place=HERE).replace("sealed:v2:", "sealed:v3:")
    with pytest.raises(NewerFormat, match="sealed as 'v3', a format this release does not read"):
        envelope.unseal(OLD, newer, place=HERE)
    with pytest.raises(NewerFormat):
        envelope.reseal(OLD, newer, place=HERE)


def test_v1_values_still_open_anywhere_and_reseal_as_v2_bound_to_their_row():
    v1 = _sealed_v1.seal(tuple(OLD.keys), SECRET)  # what migration 0010 and the service wrote before 0016
    other = Place("webhook_endpoints", "secret", (uuid.UUID(int=2),))
    assert envelope.unseal(OLD, v1, place=HERE) == envelope.unseal(OLD, v1, place=other) == SECRET  # no binding
    v2 = envelope.reseal(OLD, v1, place=HERE)
    assert v2.startswith("sealed:v2:old:")
    assert envelope.unseal(OLD, v2, place=HERE) == SECRET
    with pytest.raises(DoesNotOpen):
        envelope.unseal(OLD, v2, place=other)
    assert envelope.reseal(OLD, v2, place=HERE) == v2  # already v2 under the first key: unchanged


def test_rotation_rewraps_the_data_key_only():
    sealed = envelope.seal(OLD, SECRET, place=HERE)
    moved = envelope.reseal(_ring(NEW, OLD), sealed, place=HERE)
    assert envelope.key_name_of(moved) == "new"
    assert envelope.unseal(NEW, moved, place=HERE) == SECRET
    # Same value ciphertext: only the wrapped data key changed.
    tail = 60  # the last bytes of the base64 text are the value's ciphertext and tag
    assert moved[-tail:] == sealed[-tail:]


# The phases of docs/deployment.md ("Key rotation"), as each process's REPROTECT_SECRETS__KEYS. A rolling
# deploy runs the configurations of two consecutive phases side by side.
PHASES = [
    ("before", _ring(OLD)),
    ("1: new key added decrypt-only", _ring(OLD, NEW)),
    ("2: new key first", _ring(NEW, OLD)),
    ("4: old key dropped", _ring(NEW)),
]


def test_the_documented_key_rotation_keeps_every_stored_value_open_in_every_running_process():
    stored: list[str] = []
    for (_, before), (phase, after) in itertools.pairwise(PHASES):
        if phase.startswith("4"):  # phase 3, `reprotect secrets rotate`, runs before the old key is dropped
            stored = [envelope.reseal(before, value, place=HERE) for value in stored]
        stored += [envelope.seal(ring, SECRET, place=HERE) for ring in (before, after)]  # written during the roll
        for ring, value in itertools.product((before, after), stored):
            assert envelope.unseal(ring, value, place=HERE) == SECRET, phase


def test_skipping_the_decrypt_only_phase_leaves_old_processes_unable_to_open_new_values():
    sealed_by_new = envelope.seal(_ring(NEW, OLD), SECRET, place=HERE)
    with pytest.raises(UnknownKey):
        envelope.unseal(OLD, sealed_by_new, place=HERE)


@pytest.fixture
def old_key() -> Iterator[None]:
    keyring.install_keyring(OLD)
    yield
    keyring.install(get_settings().secrets)


def test_a_models_secret_is_sealed_for_its_row_and_needs_the_row_id_first(old_key):
    endpoint = WebhookEndpoint(id=uuid.UUID(int=1), secret=SECRET)
    assert endpoint.sealed_secret.startswith("sealed:v2:old:")
    assert endpoint.secret == SECRET
    assert envelope.unseal(OLD, endpoint.sealed_secret, place=HERE) == SECRET
    impostor = WebhookEndpoint(id=uuid.UUID(int=2), sealed_secret=endpoint.sealed_secret)
    with pytest.raises(DoesNotOpen):
        _ = impostor.secret
    with pytest.raises(ValueError, match="set WebhookEndpoint's primary key before its sealed secret"):
        WebhookEndpoint(secret=SECRET)
    endpoint.previous_secret = None
    assert endpoint.sealed_previous_secret is None


def test_a_uuid_key_held_as_text_seals_as_the_uuid_it_is_read_back_as(old_key):
    row_id = HERE.row[0]
    assert isinstance(row_id, uuid.UUID)
    for spelling in (row_id.hex, row_id.hex.upper(), str(row_id).upper(), str(row_id)):
        endpoint = WebhookEndpoint(id=spelling, secret=SECRET)  # before a flush makes it a UUID
        assert envelope.unseal(OLD, endpoint.sealed_secret, place=HERE) == SECRET, spelling
        assert WebhookEndpoint(id=row_id, sealed_secret=endpoint.sealed_secret).secret == SECRET


def test_a_text_key_is_bound_as_it_is_even_when_it_reads_as_a_uuid():
    # An idempotency key is the caller's text: "ABC…" and "abc…" are two keys, each answer bound to its own.
    key = str(uuid.UUID("0123456789abcdef0123456789abcdef"))
    sealed = envelope.seal(OLD, SECRET, place=Place("idempotency_keys", "response_body", ("key:abc", key.upper())))
    with pytest.raises(DoesNotOpen):
        envelope.unseal(OLD, sealed, place=Place("idempotency_keys", "response_body", ("key:abc", key)))
    key_column = IdempotencyRecord.__table__.c.key  # the text column the answer's place names
    assert _canonical(key.upper(), key_column) == key.upper()  # not turned into the UUID it reads as
