"""Who may call: ARM's 401 for a token it rejects and 403 for an action the caller's roles do not grant.

Driven from ``/_emulator/auth`` and ``/_emulator/rbac``; bodies and messages are ARM's, sources in README.md
("Credential and permission failures").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from emulator.errors import ArmError

# The principal the emulator pretends the caller's token names (a service principal: appid and oid).
DEFAULT_CLIENT_ID = "3f0c2a4e-6d1b-4e8a-9c57-2b9e0d4a7f13"
DEFAULT_OBJECT_ID = "8a6e1f30-5b2c-4d9e-a0f4-71c3e9b2d658"

_VERBS = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}


@dataclass
class Access:
    """Token validity and the actions denied to the caller (everything else is granted)."""

    tokens_valid: bool = True
    denied: list[str] = field(default_factory=list)
    client_id: str = DEFAULT_CLIENT_ID
    object_id: str = DEFAULT_OBJECT_ID

    def clear(self) -> None:
        """Every token valid, nothing denied, the default principal."""
        self.tokens_valid = True
        self.denied = []
        self.client_id = DEFAULT_CLIENT_ID
        self.object_id = DEFAULT_OBJECT_ID

    def describe(self) -> dict[str, object]:
        """``GET /_emulator/rbac`` and ``/_emulator/auth``."""
        return {
            "tokens_valid": self.tokens_valid,
            "deny": list(self.denied),
            "client_id": self.client_id,
            "object_id": self.object_id,
        }

    def set_rbac(self, body: dict[str, object]) -> None:
        """``{"deny": ["Microsoft.RecoveryServices/*/switchprotection/action"], "client_id", "object_id"}``."""
        deny = body.get("deny", [])
        if not isinstance(deny, list) or not all(isinstance(a, str) and a for a in deny):
            raise ValueError('"deny" must be a list of RBAC actions (wildcards * allowed).')
        self.denied = list(deny)
        for key in ("client_id", "object_id"):
            value = body.get(key)
            if value is not None:
                if not isinstance(value, str) or not value:
                    raise ValueError(f'"{key}" must be a non-empty string.')
                setattr(self, key, value)

    def set_auth(self, body: dict[str, object]) -> None:
        """``{"tokens_valid": false}``: every bearer token is refused with 401 until set back."""
        valid = body.get("tokens_valid")
        if not isinstance(valid, bool):
            raise ValueError('Send {"tokens_valid": true|false}.')
        self.tokens_valid = valid

    def check(self, method: str, path: str) -> None:
        """Raise ARM's 401 or 403 for this request, or return."""
        if not self.tokens_valid:
            raise ArmError(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid.",
                headers={
                    "WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/common", '
                    'error="invalid_token", error_description="The access token is invalid."'
                },
            )
        action, scope = action_of(method, path)
        if action and any(fnmatchcase(action.lower(), pattern.lower()) for pattern in self.denied):
            raise ArmError(
                403,
                "AuthorizationFailed",
                f"The client '{self.client_id}' with object id '{self.object_id}' does not have authorization "
                f"to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was "
                "recently granted, please refresh your credentials.",
            )


def action_of(method: str, path: str) -> tuple[str, str]:
    """The RBAC action a request needs and the scope it acts on (``("", path)`` when not an ARM path).

    ``GET .../providers/Microsoft.Compute/virtualMachines/vm1`` needs
    ``Microsoft.Compute/virtualMachines/read`` over the VM's id; ``POST .../replicationProtectionContainers/c1/
    switchprotection`` needs ``Microsoft.RecoveryServices/vaults/replicationFabrics/
    replicationProtectionContainers/switchprotection/action`` over the container's id.
    """
    parts = [p for p in path.split("/") if p]
    verb = method.upper()
    action_name = parts.pop() if verb == "POST" and len(parts) % 2 == 1 else None
    scope = "/" + "/".join(parts)
    lowered = [p.lower() for p in parts]
    if "providers" in lowered:
        at = len(lowered) - 1 - lowered[::-1].index("providers")
        namespace, rest = parts[at + 1] if at + 1 < len(parts) else "", parts[at + 2 :]
        types = [namespace, *rest[0::2]]
    elif lowered[:1] == ["subscriptions"]:
        types = ["Microsoft.Resources", *parts[0::2]]
    else:
        return "", scope
    tail = f"{action_name}/action" if action_name else _VERBS.get(verb, "action")
    return "/".join([*types, tail]), scope
