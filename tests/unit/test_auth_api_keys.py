"""API keys: generated keys parse, match their stored hash and are findable by secret scanners;
anything malformed or wrong is refused."""

from __future__ import annotations

import hashlib

import pytest

from app.auth import api_keys
from app.auth.principal import PrincipalKind, Role
from app.scopes import ScopeSet


def test_a_generated_key_parses_back_to_its_id_and_matches_its_hash():
    key = api_keys.generate()

    assert api_keys.parse(key.plaintext) == (key.key_id, key.plaintext.split("_", 2)[2])
    assert api_keys.matches(key.plaintext, key.hash)
    assert key.hash == hashlib.sha256(key.plaintext.encode()).hexdigest()


def test_generated_keys_have_the_documented_shape_and_differ():
    keys = [api_keys.generate() for _ in range(50)]

    for key in keys:
        assert key.plaintext.startswith("rpk_")
        assert len(key.key_id) == 8
        assert len(key.plaintext) == len("rpk_") + 8 + 1 + 43
        assert api_keys.API_KEY_PATTERN.fullmatch(key.plaintext)
    assert len({key.plaintext for key in keys}) == len(keys)


def test_the_plaintext_never_shows_in_the_repr():
    key = api_keys.generate()

    assert key.plaintext not in repr(key)


def test_the_scanner_pattern_finds_keys_inside_text_but_not_glued_to_other_tokens():
    key = api_keys.generate().plaintext

    assert api_keys.API_KEY_PATTERN.findall(f'export REPROTECT_KEY="{key}"\n') == [key]
    assert api_keys.API_KEY_PATTERN.findall(f"Authorization: ApiKey {key}") == [key]
    assert not api_keys.API_KEY_PATTERN.search(f"x{key}")
    assert not api_keys.API_KEY_PATTERN.search(f"{key}x")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "rpk_",
        "rpk_0123abcd_",
        "rpk_0123abcd_" + "A" * 42,  # secret one short
        "rpk_0123abcd_" + "A" * 44,  # one long
        "rpk_0123ABCD_" + "A" * 43,  # key ids are lowercase hex
        "rpk_0123abc_" + "A" * 44,  # seven-digit key id
        "RPK_0123abcd_" + "A" * 43,
        "xpk_0123abcd_" + "A" * 43,
        "rpk_0123abcd_" + "A" * 42 + "=",
        " rpk_0123abcd_" + "A" * 43,
        "rpk_0123abcd_" + "A" * 42 + "\n",
        "Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig",
    ],
)
def test_malformed_keys_do_not_parse_or_match(text):
    assert api_keys.parse(text) is None
    assert not api_keys.matches(text, api_keys.hash_secret(text))


def test_a_wrong_secret_or_another_keys_hash_does_not_match():
    key, other = api_keys.generate(), api_keys.generate()
    key_id, secret = api_keys.parse(key.plaintext) or ("", "")
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")

    assert not api_keys.matches(f"rpk_{key_id}_{flipped}", key.hash)
    assert not api_keys.matches(key.plaintext, other.hash)
    assert not api_keys.matches(key.plaintext, "")
    assert not api_keys.matches(key.plaintext, "é" * 64)


def test_a_matched_key_becomes_an_api_key_principal():
    principal = api_keys.principal(
        key_id="0123abcd", name="nightly-dr-drill", role=Role.OPERATOR, scopes=ScopeSet.parse(["/subscriptions/s"])
    )

    assert principal.id == "key:0123abcd"
    assert principal.kind is PrincipalKind.API_KEY
    assert [principal.can(role) for role in Role] == [True, True, False]  # reader, operator, admin
