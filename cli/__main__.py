"""``python -m cli``: the same as the ``reprotect`` console script."""

from cli.main import main

main()
