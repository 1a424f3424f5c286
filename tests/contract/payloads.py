"""Request bodies the contract tests send by hand."""

from __future__ import annotations

from collections.abc import Iterator


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A JSON body of more than ``total`` bytes, sent in chunks without a Content-Length."""
    yield b'{"description": "'
    for _ in range(total // size + 1):
        yield b"x" * size
    yield b'"}'
