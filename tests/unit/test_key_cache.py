"""The per-process cache of API key lookups: an entry serves only under its epoch, within its time to
live and before the key expires."""

from __future__ import annotations

from datetime import timedelta

from app.auth.key_cache import KeyCache
from app.auth.principal import Principal, PrincipalKind, Role
from app.db import utcnow
from app.scopes import ScopeSet

WHO = Principal(
    id="key:0123abcd", kind=PrincipalKind.API_KEY, name="dash", role=Role.READER, scopes=ScopeSet.parse(["*"])
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_serves_under_its_epoch_until_its_time_to_live():
    clock = Clock()
    cache = KeyCache(5.0, clock=clock)
    cache.put("rpk_a", WHO, epoch=3, expires_at=None)
    assert cache.get("rpk_a", epoch=3) == WHO
    assert cache.get("rpk_b", epoch=3) is None
    assert cache.get("rpk_a", epoch=4) is None  # a key was revoked somewhere since
    clock.now += 5.0
    assert cache.get("rpk_a", epoch=3) is None


def test_an_entry_never_outlives_the_key():
    cache = KeyCache(60.0, clock=Clock())
    cache.put("rpk_a", WHO, epoch=1, expires_at=utcnow() - timedelta(seconds=1))
    cache.put("rpk_b", WHO, epoch=1, expires_at=utcnow() + timedelta(hours=1))
    assert cache.get("rpk_a", epoch=1) is None
    assert cache.get("rpk_b", epoch=1) == WHO
