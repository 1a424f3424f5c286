"""Scopes at their edges: empty and dot names refused, a subscription's own id inside its scope, and any-case patterns that match exactly the word."""

from __future__ import annotations

import re

import pytest

from app.scopes import Scope, ScopeSet, any_case, arm_segments, parse_scope


@pytest.mark.parametrize(
    "text",
    [
        "/subscriptions//resourceGroups/rg",  # an empty subscription
        "/subscriptions//",
        "/subscriptions/.",
        "/subscriptions/./resourceGroups/rg",
        "/subscriptions/s-1/resourceGroups/.",
        "/subscriptions/s-1/resourceGroups//providers/Microsoft.RecoveryServices/vaults/v",
        "/subscriptions/s-1/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/.",
    ],
)
def test_empty_and_dot_names_are_not_scopes(text):
    with pytest.raises(ValueError, match="is not a scope"):
        parse_scope(text)


def test_names_that_merely_contain_dots_are_scopes():
    assert parse_scope("/subscriptions/s-1/resourceGroups/rg.v2") == Scope("s-1", "rg.v2")
    assert parse_scope("/subscriptions/s-1/resourceGroups/...") == Scope("s-1", "...")


def test_a_subscriptions_own_id_is_inside_its_scope():
    assert arm_segments("/subscriptions/S-1") == ("subscriptions", "s-1")
    assert arm_segments("/Subscriptions/S-1/") == ("subscriptions", "s-1")
    assert ScopeSet.parse(["/subscriptions/s-1"]).covers("/subscriptions/S-1")
    assert ScopeSet.parse(["*"]).covers("/subscriptions/s-1")
    assert not ScopeSet.parse(["/subscriptions/s-1/resourceGroups/rg"]).covers("/subscriptions/s-1")
    assert arm_segments("/subscriptions") is None


@pytest.mark.parametrize(
    ("word", "matching", "not_matching"),
    [
        ("resourceGroups", ["resourceGroups", "RESOURCEGROUPS", "resourcegroups", "rEsOuRcEgRoUpS"], ["resourceGroup"]),
        (
            "Microsoft.RecoveryServices",
            ["microsoft.recoveryservices", "MICROSOFT.RECOVERYSERVICES"],
            ["MicrosoftXRecoveryServices", "Microsoft.RecoveryService"],
        ),
        ("v-2^x", ["V-2^X", "v-2^x"], ["v-2-x", "v-3^x", "v2^x"]),  # punctuation and digits stand for themselves
    ],
)
def test_an_any_case_pattern_matches_the_word_in_any_letter_case_and_nothing_else(word, matching, not_matching):
    pattern = re.compile(any_case(word))
    assert all(pattern.fullmatch(text) for text in matching)
    assert not any(pattern.fullmatch(text) for text in not_matching)
