"""The ``reprotect`` command line: run the service's processes, the embedded stack, and client commands."""
