"""Completion webhooks: outbox, signing, delivery."""
