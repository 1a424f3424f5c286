"""Secrets at rest: envelope encryption of the secrets the service keeps in its database."""
