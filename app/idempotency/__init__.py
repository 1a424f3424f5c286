"""Idempotency-Key semantics for any use case that must not run twice: claim, replay, release, purge."""
