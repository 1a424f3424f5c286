"""Contract tests: the app against its own OpenAPI document (Schemathesis), and the regressions they found."""
