"""ARM's authorization refusals read as Azure states them: which principal was refused which action over
which scope (``AuthorizationFailed``, ``LinkedAuthorizationFailed``; message formats in README.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# "The client '<name or appid>' with object id '<oid>' does not have authorization to perform action
# '<action>' over scope '<scope>' or the scope is invalid. ..." (the client's name is sometimes absent).
_DIRECT = re.compile(
    r"The client (?:'(?P<client>[^']*)' )?with object id '(?P<oid>[^']*)' does not have authorization to "
    r"perform action '(?P<action>[^']*)' over scope '(?P<scope>[^']*)'",
    re.IGNORECASE,
)
# "The client '<appid>' with object id '<oid>' has permission to perform action '<a>' on scope '<s>'; however,
# it does not have permission to perform action(s) '<action>' on the linked scope(s) '<scope>' ..."
_LINKED = re.compile(
    r"The client (?:'(?P<client>[^']*)' )?(?:with object id '(?P<oid>[^']*)' )?has permission to perform action "
    r"'[^']*' on scope '[^']*'[;,]? however,? it does not have permission to perform action(?:\(s\))? "
    r"'(?P<action>[^']*)' on the linked scope(?:\(s\))? '(?P<scope>[^']*)'",
    re.IGNORECASE,
)
FORBIDDEN_CODES = frozenset({"authorizationfailed", "linkedauthorizationfailed", "linkedaccesscheckfailed"})


@dataclass(frozen=True)
class Denial:
    """What ARM said was refused: to whom, which action, over which scope (``None`` where it did not say)."""

    client_id: str | None
    object_id: str | None
    action: str | None
    scope: str | None

    def as_details(self) -> dict[str, str]:
        """The fields ARM named, for a problem's or a job's details."""
        named = {"client_id": self.client_id, "object_id": self.object_id, "action": self.action, "scope": self.scope}
        return {key: value for key, value in named.items() if value}


def read_denial(message: str) -> Denial:
    """The principal, action and scope in an ARM 403 message; the fields it does not state stay ``None``."""
    found = _DIRECT.search(message) or _LINKED.search(message)
    if found is None:
        return Denial(None, None, None, None)
    return Denial(found["client"] or None, found["oid"] or None, found["action"] or None, found["scope"] or None)


def forbidden_message(denial: Denial, azure_message: str) -> str:
    """What the operator reads: who lacks which permission where, and what to do."""
    who = ", ".join(
        part
        for part in (
            f"client {denial.client_id}" if denial.client_id else "",
            f"object id {denial.object_id}" if denial.object_id else "",
        )
        if part
    )
    identity = f"The service's identity ({who})" if who else "The service's identity"
    if denial.action and denial.scope:
        lacks = f"{identity} is not allowed to perform '{denial.action}' over '{denial.scope}'."
    else:
        lacks = f"{identity} lacks a permission Azure requires: {azure_message}"
    return f"{lacks} Grant it a role with that permission (README: 'Azure permissions'), then retry."
