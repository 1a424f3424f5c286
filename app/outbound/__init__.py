"""Calls to receivers the service does not control: SSRF policy, a pinned transport, Standard Webhooks signing."""
