"""The one place the contract suite gets its request headers from: an admin API key that stays valid.

``DELETE /api-keys/{key_id}`` is part of the API under test, so the run may revoke the very key it
authenticates with; the key is then minted again rather than letting the rest of the run collect 401s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.auth import api_keys, key_store
from app.auth.models import ApiKey
from app.auth.principal import Role
from app.db import transaction, utcnow


@dataclass
class ApiKeyCredentials:
    """An unrestricted admin key in the test database, re-minted whenever it was revoked."""

    sessions: sessionmaker[Session]
    name: str = "contract"
    minted: int = 0
    _key: str | None = field(default=None, repr=False)

    def headers(self) -> dict[str, str]:
        """Every header a contract request carries (the single place to add one)."""
        return {"Authorization": f"Bearer {self.key()}"}

    def key(self) -> str:
        """A key the service accepts right now."""
        if self._key is None or self._revoked(self._key):
            self._key = self._mint()
        return self._key

    def _mint(self) -> str:
        with transaction(self.sessions) as session:
            created = key_store.create(
                session, name=self.name, role=Role.ADMIN, scopes=["*"], created_by="tests", now=utcnow()
            )
        self.minted += 1
        return created.plaintext

    def _revoked(self, plaintext: str) -> bool:
        parsed = api_keys.parse(plaintext)
        assert parsed is not None
        with transaction(self.sessions) as session:
            row = session.get(ApiKey, parsed[0])
            return row is None or row.revoked_at is not None


def schemathesis_auth(credentials: ApiKeyCredentials) -> type:
    """A Schemathesis auth provider class putting ``credentials.headers()`` on every generated case."""

    class ContractAuth:
        def get(self, case: Any, context: Any) -> dict[str, str]:
            return credentials.headers()

        def set(self, case: Any, data: dict[str, str], context: Any) -> None:
            case.headers.update(data)

    return ContractAuth
