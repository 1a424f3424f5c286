"""Resource scopes and roles: parsing and normalising scopes, case-insensitive whole-segment
containment of ARM ids, and SQL prefixes for filtering lists."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from app.auth.principal import Principal, PrincipalKind, Role, highest_role
from app.scopes import Scope, ScopeSet, parse_scope

VAULT = "/subscriptions/SUB-1/resourceGroups/RG-DR/providers/Microsoft.RecoveryServices/vaults/Vault-1"
ITEM = (
    f"{VAULT}/replicationFabrics/asr-a2a-default-westeurope/replicationProtectionContainers/"
    "asr-a2a-default-westeurope-container/replicationProtectedItems/vm-1"
)


@pytest.mark.parametrize(
    ("text", "normalised", "scope"),
    [
        ("*", "*", Scope()),
        (" * ", "*", Scope()),
        ("/subscriptions/SUB-1", "/subscriptions/sub-1", Scope("sub-1")),
        ("/SUBSCRIPTIONS/sub-1/", "/subscriptions/sub-1", Scope("sub-1")),
        (
            "/subscriptions/sub-1/resourcegroups/RG_dr",
            "/subscriptions/sub-1/resourceGroups/rg_dr",
            Scope("sub-1", "rg_dr"),
        ),
        (
            VAULT.upper() + "/",
            "/subscriptions/sub-1/resourceGroups/rg-dr/providers/Microsoft.RecoveryServices/vaults/vault-1",
            Scope("sub-1", "rg-dr", "vault-1"),
        ),
    ],
)
def test_scopes_parse_case_insensitively_and_normalise(text, normalised, scope):
    assert parse_scope(text) == scope
    assert str(parse_scope(text)) == normalised
    assert parse_scope(normalised) == scope


@pytest.mark.parametrize(
    "text",
    [
        "",
        "/",
        "**",
        "subscriptions/sub-1",
        "/subscriptions",
        "/subscriptions/",
        "/subscriptions/*",
        "/subscriptions/sub-1/resourceGroups",
        "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.RecoveryServices",
        "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm",
        "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/replicationFabrics/f",
        "/subscriptions/sub-1//resourceGroups/rg",
        "/subscriptions/..",
        "/subscriptions/sub 1",
        "/subscriptions/sub-1/resourceGroups/rg%",
        "/tenants/t-1",
    ],
)
def test_anything_else_is_not_a_scope(text):
    with pytest.raises(ValueError, match="is not a scope"):
        parse_scope(text)


def test_a_vault_scope_covers_the_vault_and_its_items_in_any_case():
    scopes = ScopeSet.parse([VAULT])

    assert scopes.covers(VAULT)
    assert scopes.covers(VAULT.lower() + "/")
    assert scopes.covers(ITEM.upper())
    assert not scopes.covers(VAULT.replace("Vault-1", "Vault-2"))
    assert not scopes.covers(VAULT.replace("/resourceGroups/RG-DR", "/resourceGroups/other"))


def test_covering_is_on_whole_segments():
    assert not ScopeSet.parse(["/subscriptions/ab"]).covers("/subscriptions/abc/resourceGroups/rg")
    assert not ScopeSet.parse(["/subscriptions/s/resourceGroups/rg"]).covers("/subscriptions/s/resourceGroups/rg-2")
    assert not ScopeSet.parse([VAULT]).covers(VAULT + "-old")
    assert ScopeSet.parse(["/subscriptions/sub-1"]).covers(ITEM)
    assert ScopeSet.parse(["/subscriptions/sub-1/resourceGroups/rg-dr"]).covers(ITEM)


@pytest.mark.parametrize(
    "resource_id",
    [
        "",
        "subscriptions/sub-1/resourceGroups/rg-dr",
        "/subscriptions/sub-1//resourceGroups/rg-dr",
        "/subscriptions/sub-1/resourceGroups/rg-dr/../../sub-2",
        "/subscriptions/sub-1/./resourceGroups/rg-dr",
        "/providers/Microsoft.RecoveryServices/vaults/v",
    ],
)
def test_malformed_ids_are_covered_by_nothing_not_even_everything(resource_id):
    assert not ScopeSet.parse(["/subscriptions/sub-1", "*"]).covers(resource_id)


def test_everything_covers_every_well_formed_id_and_empty_covers_none():
    assert ScopeSet.parse(["*"]).is_unrestricted
    assert ScopeSet.parse(["*"]).covers(ITEM)
    assert not ScopeSet().is_unrestricted
    assert not ScopeSet().covers(ITEM)
    assert ScopeSet().prefixes() == []


def test_as_strings_is_sorted_normalised_and_deduplicated():
    scopes = ScopeSet.parse(["/subscriptions/B", "/subscriptions/a/", "/SUBSCRIPTIONS/b"])

    assert scopes.as_strings() == ["/subscriptions/a", "/subscriptions/b"]


def test_prefixes_are_lowercase_end_in_a_slash_and_drop_nested_ones():
    scopes = ScopeSet.parse([VAULT, "/subscriptions/sub-1/resourceGroups/rg-dr", "/subscriptions/sub-2"])

    assert scopes.prefixes() == ["/subscriptions/sub-1/resourcegroups/rg-dr/", "/subscriptions/sub-2/"]
    assert ScopeSet.parse(["*", VAULT]).prefixes() == ["/"]


def visible_vault_ids(scopes: ScopeSet, vault_ids: list[str]) -> list[str]:
    """Filter rows in SQL with :meth:`ScopeSet.like_patterns`, the way a list query would."""
    patterns = scopes.like_patterns()
    if not patterns:
        return []
    with closing(sqlite3.connect(":memory:")) as db:
        db.execute("create table jobs (vault_id text)")
        db.executemany("insert into jobs values (?)", [(v,) for v in vault_ids])
        condition = " or ".join(["lower(vault_id) || '/' like ? escape '\\'"] * len(patterns))
        rows = db.execute(f"select vault_id from jobs where {condition} order by vault_id", patterns).fetchall()
    return [row[0] for row in rows]


def test_like_patterns_filter_rows_on_whole_segments_with_wildcards_escaped():
    in_scope = "/subscriptions/S/resourceGroups/RG_DR/providers/Microsoft.RecoveryServices/vaults/v1"
    lookalike = "/subscriptions/s/resourceGroups/rgXdr/providers/Microsoft.RecoveryServices/vaults/v1"
    longer = "/subscriptions/s/resourceGroups/rg_dr2/providers/Microsoft.RecoveryServices/vaults/v1"
    scopes = ScopeSet.parse(["/subscriptions/s/resourceGroups/rg_dr"])

    assert scopes.like_patterns() == ["/subscriptions/s/resourcegroups/rg\\_dr/%"]
    assert visible_vault_ids(scopes, [in_scope, lookalike, longer]) == [in_scope]
    assert visible_vault_ids(ScopeSet.parse(["*"]), [in_scope, lookalike]) == sorted([in_scope, lookalike])


def test_roles_are_cumulative():
    grants = {(held, needed) for held in Role for needed in Role if held.grants(needed)}

    assert grants == {
        (Role.READER, Role.READER),
        (Role.OPERATOR, Role.READER),
        (Role.OPERATOR, Role.OPERATOR),
        (Role.ADMIN, Role.READER),
        (Role.ADMIN, Role.OPERATOR),
        (Role.ADMIN, Role.ADMIN),
    }
    assert highest_role([Role.READER, Role.ADMIN, Role.OPERATOR]) is Role.ADMIN
    assert highest_role([]) is None


def test_a_principal_without_a_role_can_do_nothing():
    principal = Principal(id="x", kind=PrincipalKind.USER, name="x", role=None, scopes=ScopeSet.parse(["*"]))

    assert not any(principal.can(role) for role in Role)
