"""Who is calling: a :class:`Principal` with at most one (cumulative) :class:`Role` and the resource
scopes it may see. Roles answer *what* a caller may do; scopes answer *where*."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from app.scopes import ScopeSet


class Role(StrEnum):
    """A cumulative role: admin ⊇ operator ⊇ reader."""

    READER = "reader"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Position in the hierarchy; higher grants more."""
        return _RANK[self]

    def grants(self, needed: Role) -> bool:
        """Whether holding this role is enough for something that needs ``needed``."""
        return self.rank >= needed.rank


_RANK = {Role.READER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}


def highest_role(roles: Iterable[Role]) -> Role | None:
    """The most powerful of ``roles``, or None when there are none."""
    return max(roles, key=lambda role: role.rank, default=None)


class PrincipalKind(StrEnum):
    """How the caller authenticated."""

    USER = "user"
    APPLICATION = "application"
    API_KEY = "api_key"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller.

    ``id`` is stable and used for rate limits and audit: the token's ``oid`` (else ``sub``), or
    ``key:<key id>`` for an API key. ``role`` None means authenticated but allowed nothing.
    """

    id: str
    kind: PrincipalKind
    name: str
    role: Role | None
    scopes: ScopeSet

    def can(self, needed: Role) -> bool:
        """Whether the principal's role is enough for an action that needs ``needed``."""
        return self.role is not None and self.role.grants(needed)
