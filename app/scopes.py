"""Azure-RBAC-like resource scopes: everything, a subscription, a resource group or one Recovery
Services vault. Pure parsing and case-insensitive, whole-segment containment of ARM ids.

Vocabulary below every layer but the error kernel: settings validate configured scopes with it,
the auth and job domains filter by it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

EVERYTHING = "*"


def any_case(word: str) -> str:
    """A regex for ``word`` in any letter case (JSON Schema patterns have no case-insensitive flag)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


_VAULT_TYPE = ("providers", "microsoft.recoveryservices", "vaults")  # lowercase, as compared
# Python's whitespace (str.strip, re's \s) spelled out, for SCOPE_PATTERN: JSON Schema's \s lacks \x1c-\x1f.
_SPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Characters that never appear in subscription, resource group or vault names, and that would make a
# scope ambiguous (wildcards, URL syntax, whitespace).
_FORBIDDEN = re.compile(rf"[{_SPACE}*?#%&\\]")
_LIKE_SPECIAL = re.compile(r"([\\%_])")
_SCOPE_FORMS = (
    "'*', '/subscriptions/{id}', '/subscriptions/{id}/resourceGroups/{name}' or "
    "'/subscriptions/{id}/resourceGroups/{name}/providers/Microsoft.RecoveryServices/vaults/{name}'"
)


_NAME = rf"(?!\.\.?(?:/|[{_SPACE}]*$))[^/{_SPACE}*?#%&\\]+"
# What parse_scope accepts, for the API document (JSON Schema patterns have no case-insensitive flag).
SCOPE_PATTERN = (
    rf"^[{_SPACE}]*(?:\*|/{any_case('subscriptions')}/{_NAME}(?:/{any_case('resourceGroups')}/{_NAME}"
    rf"(?:/{any_case('providers')}/{any_case('Microsoft.RecoveryServices')}/{any_case('vaults')}/{_NAME})?)?/?)[{_SPACE}]*$"
)


@dataclass(frozen=True)
class Scope:
    """Everything (all fields None), a subscription, a resource group, or one vault. Names are lowercase."""

    subscription: str | None = None
    resource_group: str | None = None
    vault: str | None = None

    @property
    def is_everything(self) -> bool:
        """Whether this is ``*``."""
        return self.subscription is None

    @property
    def segments(self) -> tuple[str, ...]:
        """The lowercase ARM path segments an id must start with to be inside the scope."""
        parts: tuple[str, ...] = ()
        if self.subscription is not None:
            parts = ("subscriptions", self.subscription)
        if self.resource_group is not None:
            parts += ("resourcegroups", self.resource_group)
        if self.vault is not None:
            parts += (*_VAULT_TYPE, self.vault)
        return parts

    @property
    def prefix(self) -> str:
        """Lowercase id prefix ending in ``/`` (``/`` for everything)."""
        return "/" + "".join(f"{segment}/" for segment in self.segments)

    def covers(self, resource_id: str) -> bool:
        """Whether ``resource_id`` (an ARM id) is this scope or lies under it; False for malformed ids."""
        segments = arm_segments(resource_id)
        return segments is not None and segments[: len(self.segments)] == self.segments

    def __str__(self) -> str:
        if self.subscription is None:
            return EVERYTHING
        text = f"/subscriptions/{self.subscription}"
        if self.resource_group is not None:
            text += f"/resourceGroups/{self.resource_group}"
        if self.vault is not None:
            text += f"/providers/Microsoft.RecoveryServices/vaults/{self.vault}"
        return text


def parse_scope(text: str) -> Scope:
    """Parse and normalise one scope; case-insensitive, a trailing slash is tolerated.

    Raises ValueError naming the accepted forms for anything else.
    """
    raw = text.strip()
    if raw == EVERYTHING:
        return Scope()
    parts = _path_parts(raw)
    if parts is None or any(not _is_name(part) for part in parts):
        raise ValueError(f"{text!r} is not a scope: use {_SCOPE_FORMS}")
    match [part.lower() for part in parts]:
        case ["subscriptions", subscription]:
            return Scope(subscription)
        case ["subscriptions", subscription, "resourcegroups", group]:
            return Scope(subscription, group)
        case ["subscriptions", subscription, "resourcegroups", group, *kind, vault] if tuple(kind) == _VAULT_TYPE:
            return Scope(subscription, group, vault)
    raise ValueError(f"{text!r} is not a scope: use {_SCOPE_FORMS}")


@functools.lru_cache(maxsize=16384)
def arm_path(arm_id: str) -> tuple[str, ...] | None:
    """The path segments of a subscription-rooted ARM id, as written, or None when it is malformed.

    The one reader of ARM id paths (``app.cloud.ids`` builds on it). Empty, ``.`` and ``..`` segments make
    an id malformed: they could otherwise smuggle a path out of a scope once the id is used in a URL.
    Remembered for the last 16,384 ids: the inventory reads the same fleet's ids on every call.
    """
    parts = _path_parts(arm_id.strip())
    if parts is None or len(parts) < 2 or parts[0].lower() != "subscriptions":
        return None
    if any(part in ("", ".", "..") for part in parts):
        return None
    return tuple(parts)


def arm_segments(resource_id: str) -> tuple[str, ...] | None:
    """The lowercase path segments of an ARM id (for containment), or None when it is malformed."""
    parts = arm_path(resource_id)
    return None if parts is None else tuple(part.lower() for part in parts)


def _path_parts(path: str) -> list[str] | None:
    if not path.startswith("/"):
        return None
    body = path[1:].removesuffix("/")
    return body.split("/") if body else None


def _is_name(part: str) -> bool:
    return part not in ("", ".", "..") and _FORBIDDEN.search(part) is None


class ScopeSet(frozenset[Scope]):
    """The scopes a principal may see; empty means it sees nothing."""

    @classmethod
    def parse(cls, texts: Iterable[str]) -> ScopeSet:
        """Parse every text with :func:`parse_scope` (ValueError on the first bad one)."""
        return cls(parse_scope(text) for text in texts)

    @property
    def is_unrestricted(self) -> bool:
        """Whether the set contains ``*``."""
        return any(scope.is_everything for scope in self)

    def covers(self, resource_id: str) -> bool:
        """Whether ``resource_id`` lies inside any scope of the set (whole segments, case-insensitive)."""
        return any(scope.covers(resource_id) for scope in self)

    def as_strings(self) -> list[str]:
        """Normalised scopes, sorted: for display and for storing."""
        return sorted(str(scope) for scope in self)

    def prefixes(self) -> list[str]:
        """Lowercase id prefixes, each ending in ``/``; prefixes under another one are dropped.

        A row is visible when ``lower(vault_id) || '/'`` starts with any prefix. An empty list means
        *nothing* is visible: turn it into a false condition, never into "no filter". With ``LIKE`` use
        :meth:`like_patterns`, because ``_`` (legal in resource group names) and ``%`` are wildcards.
        """
        candidates = sorted({scope.prefix for scope in self})
        return [p for p in candidates if not any(p != q and p.startswith(q) for q in candidates)]

    def like_patterns(self) -> list[str]:
        """:meth:`prefixes` as ``LIKE`` patterns escaped with backslash and ending in ``%``.

        Use as ``lower(vault_id) || '/' LIKE :pattern ESCAPE '\\'`` (SQLite needs the ESCAPE clause),
        or in SQLAlchemy prefer ``(func.lower(col) + "/").startswith(prefix, autoescape=True)``.
        """
        return [_LIKE_SPECIAL.sub(r"\\\1", prefix) + "%" for prefix in self.prefixes()]
