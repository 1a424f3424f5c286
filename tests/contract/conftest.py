"""Contract fixtures: the real app on the shared test container (SQLite + the emulator process), seeded
with real jobs and webhooks, its credentials, and a Schemathesis schema built from its own document."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.python import asgi
from schemathesis.specs.openapi.schemas import OpenApiSchema

from app.api.app import create_app
from app.auth.authenticator import Authenticator
from app.bootstrap import Container
from app.settings import AuthConfig, RateLimitConfig
from tests.conftest import migrate
from tests.contract.counting import RequestCounter
from tests.contract.credentials import ApiKeyCredentials, schemathesis_auth
from tests.contract.examples import request_examples, with_examples
from tests.contract.findings import FailureFilter
from tests.contract.seed import Seeded, seed
from tests.receiver import running_receiver

# Far above what one run sends: 429 is proven in tests/api; here it would only hide answers.
RUN_RATE_LIMIT = "1000000/minute"
STREAMS = ["streamJobEvents"]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite only: the contract is the HTTP edge's, the Postgres variants run in tests/api."""
    url = f"sqlite:///{tmp_path_factory.mktemp('contract-db')}/jobs.sqlite3"
    migrate(url)
    return url


@pytest.fixture
def container(container: Container) -> Container:
    """The shared test container, with a rate limit no contract run reaches."""
    auth = AuthConfig(rate_limit=RateLimitConfig(limit=RUN_RATE_LIMIT, unauthenticated_limit=RUN_RATE_LIMIT))
    container.auth = Authenticator(auth, container.sessions)
    return container


@pytest.fixture
def credentials(container: Container) -> ApiKeyCredentials:
    """The one source of the headers every contract request carries (today: an admin API key)."""
    return ApiKeyCredentials(container.sessions)


@pytest.fixture
def api(container: Container, credentials: ApiKeyCredentials) -> Iterator[TestClient]:
    """The app over an in-process client, with the contract headers (for seeding and regression tests)."""
    with TestClient(create_app(container), headers=credentials.headers()) as client:
        yield client


@pytest.fixture
def seeded(api: TestClient, container: Container, emulator) -> Iterator[Seeded]:
    """Protected, failed and cancelled jobs, a registered receiver, delivered webhooks."""
    with running_receiver() as receiver:
        yield seed(api, container, emulator, receiver_url=receiver.url)


@dataclass(frozen=True)
class ContractTarget:
    """The app's own OpenAPI document and the app (counting requests); builds Schemathesis schemas on them."""

    document: dict[str, Any]
    counter: RequestCounter
    credentials: ApiKeyCredentials
    failure_filter: FailureFilter = field(default_factory=FailureFilter)

    def schema(self, config: dict[str, Any]) -> OpenApiSchema:
        """The document as a Schemathesis schema calling the app, configured as a ``schemathesis.toml`` would."""
        schema = schemathesis.openapi.from_dict(
            copy.deepcopy(self.document), config=schemathesis.Config.from_dict(config)
        )
        # A stream never finishes an answer (tests/api/test_event_stream.py covers it over a real server).
        schema = schema.exclude(operation_id=STREAMS)
        schema.app, schema.location = self.counter, "/openapi.json"
        schema.auth(refresh_interval=None)(schemathesis_auth(self.credentials))
        schema.hooks.register_hook_with_name(self.failure_filter, "filter_failure")
        return schema


@pytest.fixture
def contract_target(
    container: Container, credentials: ApiKeyCredentials, seeded: Seeded, api: TestClient
) -> Iterator[ContractTarget]:
    """The document the app serves, with request examples made of the seeded data, and the app to call."""
    served = api.get("/openapi.json")
    assert served.status_code == 200, served.text
    document = with_examples(served.json(), request_examples(seeded))
    try:
        yield ContractTarget(document, RequestCounter(create_app(container)), credentials)
    finally:
        asgi.shutdown_lifespans()  # Schemathesis started the app's lifespan; end it with the test
