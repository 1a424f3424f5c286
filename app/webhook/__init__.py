"""Completion webhooks: the outbox written with each job transition, endpoints, and delivery with retries."""
