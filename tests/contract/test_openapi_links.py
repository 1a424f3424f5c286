"""The document's OpenAPI links: present on the answers they start from, and refused when they name nothing."""

from __future__ import annotations

import copy

import pytest

from app.api import openapi_links
from app.api.app import create_app
from app.api.openapi_links import LINKS, Link, LinkError, add_links

pytestmark = pytest.mark.contract


@pytest.fixture(scope="module")
def document() -> dict:
    return create_app().openapi()


def _answer(document: dict, operation_id: str, status: str) -> dict:
    return next(
        op["responses"][status]
        for path in document["paths"].values()
        for op in path.values()
        if op["operationId"] == operation_id
    )


def test_an_accepted_reprotect_links_to_its_request_and_its_first_job(document):
    links = _answer(document, "reprotect", "202")["links"]

    assert links["GetReprotectRequest"] == {
        "operationId": "getReprotectRequest",
        "parameters": {"request_id": "$response.body#/request_id"},
        "description": "The request",
    }
    assert {name: link["parameters"] for name, link in links.items() if name != "GetReprotectRequest"} == {
        "GetJob": {"job_id": "$response.body#/jobs/0/id"},
        "CancelJob": {"job_id": "$response.body#/jobs/0/id"},
        "RetryJob": {"job_id": "$response.body#/jobs/0/id"},
        "ListJobs": {"request_id": "$response.body#/request_id"},
    }


def test_a_created_webhook_links_to_reading_changing_rotating_and_deleting_it(document):
    links = _answer(document, "createWebhook", "201")["links"]

    assert {link["operationId"] for link in links.values()} == {
        "getWebhook",
        "updateWebhook",
        "rotateWebhookSecret",
        "deleteWebhook",
    }
    assert {link["parameters"]["webhook_id"] for link in links.values()} == {"$response.body#/id"}


def test_listed_deliveries_link_to_reading_and_redelivering_the_first(document):
    links = _answer(document, "listWebhookDeliveries", "200")["links"]

    assert links["GetWebhookDelivery"]["parameters"] == {"delivery_id": "$response.body#/items/0/id"}
    assert links["RedeliverWebhook"]["operationId"] == "redeliverWebhook"


def test_every_link_names_an_operation_and_parameters_of_the_document(document):
    operations = {op["operationId"]: op for path in document["paths"].values() for op in path.values()}
    for link in LINKS:
        target = operations[link.target]
        assert {name for name, _ in link.parameters} <= {p["name"] for p in target.get("parameters", [])}


@pytest.mark.parametrize(
    "link",
    [
        Link("noSuchOperation", "200", "X", "getJob", (("job_id", "$response.body#/id"),), "x"),
        Link("getJob", "201", "X", "getJob", (("job_id", "$response.body#/id"),), "x"),
        Link("getJob", "200", "X", "noSuchOperation", (("job_id", "$response.body#/id"),), "x"),
        Link("getJob", "200", "X", "getJob", (("no_such_parameter", "$response.body#/id"),), "x"),
    ],
    ids=["source", "status", "target", "parameter"],
)
def test_a_link_naming_what_the_document_lacks_fails_loudly_and_changes_nothing(document, link):
    untouched = copy.deepcopy(document)

    with pytest.raises(LinkError):
        add_links(untouched, (link,))
    assert untouched == document


def test_a_link_named_twice_on_one_answer_fails_loudly(document):
    link = Link("getJob", "200", "Again", "getJob", (("job_id", "$response.body#/id"),), "x")

    with pytest.raises(LinkError, match="named twice"):
        add_links(copy.deepcopy(document), (link, link))


def test_an_app_whose_links_fail_serves_no_document_at_all(monkeypatch):
    def refuse(document: dict) -> dict:
        raise LinkError("no such operation")

    monkeypatch.setattr(openapi_links, "add_links", refuse)
    app = create_app()

    for _ in range(2):  # not cached without its links: every call fails
        with pytest.raises(LinkError):
            app.openapi()
