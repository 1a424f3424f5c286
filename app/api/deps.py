"""Request dependencies as ``Annotated`` aliases: the container, and strict timestamps in queries and bodies."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Request
from pydantic import AwareDatetime, BeforeValidator

from app.bootstrap import Container


async def get_container(request: Request) -> Container:
    """The process's container, built in the app's lifespan (async: no thread hop for a lookup)."""
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _not_a_number(value: object) -> object:
    """Pydantic reads numbers as Unix timestamps; the document promises RFC 3339 date-times only."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("expected an ISO 8601 date-time with an offset, such as 2026-01-31T12:00:00Z")
    return value


IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_not_a_number)]
