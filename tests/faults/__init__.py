"""The fault-injection suite: real processes, injected faults, and the invariants of app.invariants."""
