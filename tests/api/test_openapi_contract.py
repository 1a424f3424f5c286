"""The OpenAPI document as a contract: valid OpenAPI 3.1, every error answer with the Problem schema, an
example per operation that validates against its schema, every parameter described, tags, webhook events,
the error-code catalogue in step with the code and the docs, and /docs and /redoc working offline."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from app.api import error_codes
from app.api.app import create_app
from app.api.problems import PROBLEM_JSON
from app.errors import ServiceError
from app.webhook.events import EventType
from tests.contract.findings import AZURE_STATE_CODES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app().openapi()


def _operations(section: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, operations in section.items()
        for method, operation in operations.items()
        if isinstance(operation, dict)
    ]


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for ``schema`` whose ``#/components/...`` references resolve in the document: the schema is
    merged into the document's root (OpenAPI's own keys are no JSON Schema keywords, so they are ignored)."""
    return Draft202012Validator({**document, **schema}, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_error_answer_has_a_schema(document):
    empty = [
        f"{name} {status}"
        for name, operation in _operations(document["paths"])
        for status, answer in operation["responses"].items()
        if status[0] in "45" and not any(media.get("schema") for media in answer.get("content", {}).values())
    ]
    assert not empty, empty


def test_every_problem_answer_is_the_problem_schema(document):
    others = [
        f"{name} {status}"
        for name, operation in _operations(document["paths"])
        for status, answer in operation["responses"].items()
        if PROBLEM_JSON in answer.get("content", {})
        and answer["content"][PROBLEM_JSON]["schema"] != {"$ref": "#/components/schemas/Problem"}
    ]
    assert not others, others


def test_the_problem_schema_documents_the_refused_vms_and_the_codes(document):
    schemas = document["components"]["schemas"]
    problem = schemas["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}
    vms = problem["properties"]["vms"]["anyOf"][0]
    assert vms["items"] == {"$ref": "#/components/schemas/VmRefusal"}
    assert set(schemas["VmRefusal"]["required"]) == {"vm", "code", "message"}
    codes = {entry["code"] for entry in problem["x-error-codes"]}
    assert {"prerequisites_failed", "validation_failed", "failover_not_committed"} <= codes


def test_every_operation_has_examples_of_its_body_and_its_answer(document):
    missing = []
    for name, operation in _operations(document["paths"]):
        body = operation.get("requestBody", {}).get("content", {})
        if body and not any(media.get("examples") for media in body.values()):
            missing.append(f"{name} request")
        for status, answer in operation["responses"].items():
            described = any(media.get("examples") for media in answer.get("content", {}).values())
            if status.startswith("2") and answer.get("content") and not described:
                missing.append(f"{name} {status}")
        if not any(
            media.get("examples")
            for answer in operation["responses"].values()
            for media in answer.get("content", {}).values()
        ):
            missing.append(f"{name}: no answer example")
    assert not missing, missing


def test_every_example_matches_its_schema(document):
    checked, wrong = 0, []
    for name, operation in _operations(document["paths"]) + _operations(document.get("webhooks", {})):
        medias = [("request", m) for m in operation.get("requestBody", {}).get("content", {}).values()]
        medias += [(s, m) for s, a in operation["responses"].items() for m in a.get("content", {}).values()]
        for where, media in medias:
            validator = _validator(document, media.get("schema", {}))
            for example_name, example in media.get("examples", {}).items():
                checked += 1
                errors = [e.message for e in validator.iter_errors(example["value"])]
                if errors:
                    wrong.append(f"{name} {where} {example_name}: {errors[:3]}")
    assert not wrong, "\n".join(wrong)
    assert checked > 40


def test_every_parameter_has_a_description(document):
    bare = [
        f"{name} {parameter['in']} {parameter['name']}"
        for name, operation in _operations(document["paths"]) + _operations(document["webhooks"])
        for parameter in operation.get("parameters", [])
        if not parameter.get("description")
    ]
    assert not bare, bare


def test_every_tag_is_declared_with_a_description(document):
    declared = {tag["name"]: tag.get("description") for tag in document["tags"]}
    used = {tag for _, operation in _operations(document["paths"]) for tag in operation.get("tags", [])}
    assert used <= set(declared), used - set(declared)
    assert all(declared.values()), declared


def test_every_webhook_event_is_documented_with_its_payload_and_signature_headers(document):
    webhooks = document["webhooks"]
    assert set(webhooks) == {event.value for event in EventType}
    for event in EventType:
        operation = webhooks[event.value]["post"]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        payload = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        assert payload["properties"]["type"]["const"] == event.value
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
        assert {"204", "410", "default"} <= set(operation["responses"])


def test_a_public_base_url_becomes_the_documents_server(container):
    base = "https://reprotect.example.com/api"
    container.settings = container.settings.model_copy(
        update={"api": container.settings.api.model_copy(update={"public_base_url": base})}
    )
    assert create_app(container).openapi()["servers"] == [{"url": base, "description": "This deployment"}]


def _emitted_codes() -> set[str]:
    """Every ``code`` a ServiceError class carries (what the service raises on purpose)."""
    pending, codes = [ServiceError], set()
    while pending:
        cls = pending.pop()
        codes.add(cls.code)
        pending.extend(cls.__subclasses__())
    return codes


def test_the_catalogue_names_every_error_class_and_every_refusal_the_contract_run_tolerates():
    problems, vms = error_codes.by_code("problem"), error_codes.by_code("vm")
    missing = sorted(_emitted_codes() - set(problems) - {"service_error"})
    assert not missing, missing
    assert not sorted(AZURE_STATE_CODES - set(vms) - {"prerequisites_failed"})


def test_the_catalogue_names_every_code_literal_of_the_app():
    literal = re.compile(
        r"""\bcode\s*=\s*"([a-z][a-z0-9_]+)"|_fail\(\s*target,\s*"([a-z][a-z0-9_]+)"|Refused\(\s*"([a-z_]+)\""""
    )
    internal = {"taken", "cache_storage_account_names_taken", "cache_storage_account_not_created"}  # job errors only
    found = {
        next(group for group in match.groups() if group)
        for path in (ROOT / "app").rglob("*.py")
        for match in literal.finditer(path.read_text())
    }
    known = {entry.code for entry in error_codes.CATALOGUE}
    assert not sorted(found - known - internal)


def test_the_error_code_table_in_docs_is_generated_from_the_catalogue():
    committed = (ROOT / "docs" / "error-codes.md").read_text()
    assert committed == error_codes.markdown(), "docs/error-codes.md is stale: run `make openapi`"


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_documentation_pages_load_every_asset_from_the_service(page):
    with TestClient(create_app()) as client:
        html = client.get(page)
        assert html.status_code == 200
        assets = re.findall(
            r"""(?:src|href)=["']([^"']+)["']|url: ?['"]([^'"]+)['"]|spec-url=["']([^"']+)""", html.text
        )
        urls = {next(u for u in found if u) for found in assets}
        assert not [u for u in urls if "//" in u], urls
        scripts = [u for u in urls if u.endswith(".js")]
        assert scripts, html.text
        for url in urls:
            assert client.get(url).status_code == 200, url


def test_real_problem_answers_match_the_problem_schema(api, document, demo):
    validator = _validator(document, {"$ref": "#/components/schemas/Problem"})
    refused = api.post("/reprotect", json={"vms": [{"vault_id": demo["vault_id"], "vm_name": "no-such-vm"}]})
    answers = [
        refused,
        api.get(f"/jobs/{'0' * 8}-0000-4000-8000-{'0' * 12}"),
        api.get("/jobs?limit=0"),
        api.get("/jobs", headers={"Authorization": "Bearer nope"}),
    ]
    assert [a.status_code for a in answers] == [422, 404, 422, 401]
    assert refused.json()["vms"][0]["code"] == "vm_not_found"
    for answer in answers:
        assert answer.headers["content-type"] == PROBLEM_JSON
        assert not [e.message for e in validator.iter_errors(answer.json())], answer.json()
        assert answer.json()["code"] in error_codes.by_code("problem")
