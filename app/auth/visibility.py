"""What a principal may see: rows outside its scopes do not exist for it (404, never 403).

Rows are placed by an ARM id (a job by its vault id, see ``app.job.visibility``); an endpoint or a key
is visible when all of its scopes lie inside the caller's; a reprotect may only name resources inside them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, bindparam, false, func, or_, true

from app.auth.principal import Principal
from app.errors import Forbidden
from app.scopes import ScopeSet, parse_scope


def vault_visible(column: Any, scopes: ScopeSet) -> ColumnElement[bool]:
    """SQL: the row's vault id lies inside ``scopes`` (false for an empty set)."""
    if scopes.is_unrestricted:
        return true()
    prefixes = scopes.prefixes()
    if not prefixes:
        return false()
    return or_(*(_under(func.lower(column), prefix) for prefix in prefixes))


_VAULT_DEPTH = 8  # /subscriptions/{s}/resourcegroups/{g}/providers/microsoft.recoveryservices/vaults/{v}/


def _under(folded: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
    """``folded || '/'`` starts with ``prefix``, in a form the ``lower(vault_id) text_pattern_ops`` index
    serves: a vault scope is the vault id itself (nothing lies under a vault id in a vault id column), a
    subscription or resource group a ``LIKE`` on the id's prefix; values inline (literal_execute), so that
    Postgres plans each statement with the prefix known rather than a generic plan of ``LIKE $1``."""
    if prefix.count("/") - 1 >= _VAULT_DEPTH:
        return folded == bindparam(None, prefix.removesuffix("/"), literal_execute=True)
    pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return folded.like(bindparam(None, pattern, literal_execute=True), escape="\\")


def require_in_scope(principal: Principal, resource_ids: list[str]) -> None:
    """403 naming every resource (VM, vault) outside the caller's scopes."""
    outside = [rid for rid in resource_ids if not principal.scopes.covers(rid)]
    if outside:
        raise Forbidden(
            f"{len(outside)} of the named VMs lie outside your scopes ({', '.join(principal.scopes.as_strings())}).",
            code="outside_scope",
            details={"outside_scope": outside},
        )


def scopes_within(inner: list[str], principal: Principal) -> bool:
    """Whether every scope of ``inner`` lies inside the caller's scopes (``*`` only inside ``*``)."""
    if principal.scopes.is_unrestricted:
        return True
    for text in inner:
        scope = parse_scope(text)
        if scope.is_everything or not principal.scopes.covers(str(scope)):
            return False
    return True
