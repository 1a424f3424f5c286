"""Authentication and authorization primitives: principals, roles, resource scopes, Entra ID tokens,
API keys and per-principal rate limits. Framework-free; the HTTP edge wires them into requests."""
