"""Whether the service's Azure identity can sign in: a token for the ARM scope, asked for at most every
``ttl_seconds`` so ``/readyz`` stays cheap. In emulator mode the static token always works."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from azure.core.credentials import TokenCredential
from azure.core.exceptions import ClientAuthenticationError

from app.cloud.clients import arm_scope, build_credential
from app.settings import AzureMode, AzureSettings


@dataclass(frozen=True)
class IdentityStatus:
    """The last answer: can the identity get a token, and what was said."""

    ok: bool
    detail: str


class IdentityCheck:
    """Asks ``credential`` for an ARM token (``None``: the emulator's static token, nothing to ask)."""

    def __init__(
        self,
        credential: TokenCredential | None,
        *,
        scope: str = "https://management.azure.com/.default",
        ttl_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._credential = credential
        self._scope = scope
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._last: tuple[float, IdentityStatus] | None = None

    @classmethod
    def for_settings(cls, settings: AzureSettings) -> IdentityCheck:
        """The check for the configured mode: Entra ID in Azure mode, nothing to ask of the emulator."""
        if settings.mode == AzureMode.EMULATOR:
            return cls(None)
        return cls(build_credential(settings), scope=arm_scope(settings))

    def status(self) -> IdentityStatus:
        """The identity's state, asked anew once the cached answer is older than the TTL."""
        if self._credential is None:
            return IdentityStatus(ok=True, detail="static token (emulator)")
        with self._lock:
            now = self._clock()
            if self._last is not None and now - self._last[0] < self._ttl:
                return self._last[1]
            answer = self._ask(self._credential)
            self._last = (now, answer)
            return answer

    def _ask(self, credential: TokenCredential) -> IdentityStatus:
        try:
            credential.get_token(self._scope)
        except ClientAuthenticationError as exc:
            return IdentityStatus(ok=False, detail=f"cannot sign in: {exc.message or exc}")
        except Exception as exc:  # a probe: whatever the credential raises means it cannot give a token
            return IdentityStatus(ok=False, detail=f"cannot sign in: {type(exc).__name__}: {exc}")
        return IdentityStatus(ok=True, detail=f"token for {self._scope}")
