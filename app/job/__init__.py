"""Reprotect jobs: one per VM, moved step by step through the state machine by workers."""
