"""Log lines operators can search: one schema for every process, the context each line names, no secrets."""
