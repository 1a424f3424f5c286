"""Views kept per key and served stale while one background load renews them (stale-while-revalidate).

A view renewed less than ``ttl`` ago is served as is. An older one (or one built from another basis, e.g. newer
vault lists) is still served at once while a single background load per key rebuilds it; only a key with no view
yet, or with one older than ``max_age``, makes its caller wait, and callers waiting on one key share one load.
The TTL counts from the end of the last load, so a slow load (a busy process) is not followed at once by the next.
A background load that fails is logged, the old view stays (until ``max_age``) and is retried after ``ttl``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class _View(Generic[V]):
    value: V
    at: float  # clock time the load that built it started: its data is at least this old (for ``max_age``)
    done: float  # clock time that load ended (``ttl`` counts from here)
    basis: Hashable


@dataclass
class _Entry(Generic[V]):
    loading: threading.Lock = field(default_factory=threading.Lock)  # held by the one load in flight
    view: _View[V] | None = None
    refreshing: bool = False  # a background load is scheduled or running
    retry_at: float = float("-inf")  # no background load before this (set when one failed)


class KeptViews(Generic[K, V]):
    """Up to ``max_keys`` views, each kept under its key (a caller's scope: one key never serves another's)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 64, name: str = "view"):
        self._clock = clock
        self._max_keys = max_keys
        self._name = name
        self._entries: dict[K, _Entry[V]] = {}
        self._guard = threading.Lock()

    def get(self, key: K, basis: Hashable, load: Callable[[], V], *, ttl: float, max_age: float) -> V:
        """The view kept under ``key``, renewed with ``load()``: in the background once its load ended ``ttl``
        ago or when it was built from another ``basis``; before answering when there is none or its load began
        ``max_age`` ago (never less than ``ttl``). ``ttl`` 0: nothing is kept, every call loads."""
        if ttl <= 0:
            return load()
        max_age = max(max_age, ttl)
        entry = self._entry(key)
        held, now = entry.view, self._clock()
        if held is not None and now - held.at < max_age:
            if now - held.done >= ttl or held.basis != basis:
                self._renew_later(key, entry, basis, load, ttl)
            return held.value
        with entry.loading:  # single flight: callers arriving meanwhile wait for this load, not their own
            held, now = entry.view, self._clock()
            if held is not None and now - held.at < max_age:
                return held.value  # loaded by the one this caller waited for (or in the background)
            return self._load(entry, basis, load).value

    def _load(self, entry: _Entry[V], basis: Hashable, load: Callable[[], V]) -> _View[V]:
        started = self._clock()
        value = load()
        view = _View(value, started, self._clock(), basis)
        entry.view = view
        return view

    def _renew_later(self, key: K, entry: _Entry[V], basis: Hashable, load: Callable[[], V], ttl: float) -> None:
        with self._guard:
            if entry.refreshing or self._clock() < entry.retry_at:
                return
            entry.refreshing = True

        def renew() -> None:
            try:
                with entry.loading:
                    held = entry.view
                    if held is not None and self._clock() - held.done < ttl and held.basis == basis:
                        return  # renewed meanwhile by a caller that had to wait
                    self._load(entry, basis, load)
            except Exception:
                with self._guard:
                    entry.retry_at = self._clock() + ttl
                log.exception("%s %r: background refresh failed; the kept view stays until too old", self._name, key)
            finally:
                with self._guard:
                    entry.refreshing = False

        threading.Thread(target=renew, name=f"{self._name}-refresh", daemon=True).start()

    def _entry(self, key: K) -> _Entry[V]:
        entry = self._entries.get(key)  # every call passes here: no lock unless the key is new
        if entry is not None:
            return entry
        with self._guard:
            entry = self._entries.get(key)
            if entry is None:
                if len(self._entries) >= self._max_keys:
                    self._forget_oldest()
                entry = self._entries[key] = _Entry()
            return entry

    def _forget_oldest(self) -> None:
        """Let go of the key whose view is oldest (one with none, first); its load in flight still answers."""
        oldest = min(self._entries, key=lambda k: v.at if (v := self._entries[k].view) else float("-inf"))
        del self._entries[oldest]
