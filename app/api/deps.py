"""Request dependencies as ``Annotated`` aliases: the container, its settings and the Azure adapter."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.bootstrap import Container
from app.cloud.types import Cloud


def get_container(request: Request) -> Container:
    """The process's container, built in the app's lifespan."""
    container: Container = request.app.state.container
    return container


def get_cloud(request: Request) -> Cloud:
    """The Azure adapter."""
    return get_container(request).cloud


ContainerDep = Annotated[Container, Depends(get_container)]
CloudDep = Annotated[Cloud, Depends(get_cloud)]
