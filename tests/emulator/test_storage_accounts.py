"""Storage accounts as the Storage resource provider serves them (create is asynchronous, names are global
across subscriptions), and switch protection refusing a cache account that does not exist or lies in the
wrong region: Site Recovery never creates it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from azure.mgmt.storage import StorageManagementClient
from azure.mgmt.storage.models import StorageAccountCheckNameAvailabilityParameters, StorageAccountCreateParameters

from emulator.app import create_app
from emulator.fleet import subscription_id
from tests.data import load
from tests.emulator.support import (
    ARM_SCOPE,
    LocalBearerTokenPolicy,
    StaticToken,
    advance,
    item_json,
    serve_in_thread,
    submit,
    switch_body,
)

API = "2023-05-01"
PORTAL_SETTINGS = {
    "location": "southeastasia",
    "kind": "StorageV2",
    "sku": {"name": "Standard_LRS"},
    "properties": {"minimumTlsVersion": "TLS1_2", "allowBlobPublicAccess": False},
}


def storage_client(url: str, subscription: str) -> StorageManagementClient:
    credential = StaticToken()
    return StorageManagementClient(
        credential,
        subscription,
        base_url=url,
        authentication_policy=LocalBearerTokenPolicy(credential, ARM_SCOPE),
        retry_total=0,
    )


@pytest.fixture
def storage(emu_url: str, demo: Any) -> Iterator[StorageManagementClient]:
    client = storage_client(emu_url, demo.sub)
    yield client
    client.close()


def _put(storage: StorageManagementClient, group: str, name: str, body: dict[str, Any]) -> Any:
    request = HttpRequest(
        "PUT",
        f"/subscriptions/{storage._config.subscription_id}/resourceGroups/{group}/providers/"
        f"Microsoft.Storage/storageAccounts/{name}",
        params={"api-version": API},
        json=body,
    )
    return storage.send_request(request)


def test_a_new_account_answers_202_then_shows_creating_then_succeeded(storage, admin, demo):
    created = _put(storage, "contoso-dr-rg", "drcachetestasrcache", PORTAL_SETTINGS)
    assert created.status_code == 202
    assert created.text() == ""
    location = created.headers["Location"]
    assert f"/subscriptions/{demo.sub}/providers/Microsoft.Storage/operations/" in location
    assert "monitor=true" in location
    account = storage.storage_accounts.get_properties("contoso-dr-rg", "drcachetestasrcache")
    assert account.provisioning_state == "Creating"
    assert (account.kind, account.sku.name, account.location) == ("StorageV2", "Standard_LRS", "southeastasia")
    assert account.minimum_tls_version == "TLS1_2"
    assert account.allow_blob_public_access is False
    polled = storage.send_request(HttpRequest("GET", location))
    assert polled.status_code == 202
    advance(admin, 60)
    done = storage.send_request(HttpRequest("GET", location))
    assert done.status_code == 200
    assert done.json()["properties"]["provisioningState"] == "Succeeded"
    again = _put(storage, "contoso-dr-rg", "drcachetestasrcache", PORTAL_SETTINGS)
    assert again.status_code == 200  # the same create again: the account as it is
    calls = admin.get("/_emulator/stats").json()["calls"]
    assert calls["ARM_StorageAccounts_Create"] == 2


def test_the_sdk_poller_follows_the_create_to_the_account(storage, admin):
    poller = storage.storage_accounts.begin_create(
        "contoso-dr-rg", "pollercacheasrcache", StorageAccountCreateParameters(PORTAL_SETTINGS), polling=False
    )
    assert poller.status() == "InProgress" or poller.done()
    advance(admin, 60)
    account = storage.storage_accounts.get_properties("contoso-dr-rg", "pollercacheasrcache")
    assert account.provisioning_state == "Succeeded"


@pytest.mark.parametrize("name", ["ab", "UpperCaseName", "has-dash", "a" * 25])
def test_an_invalid_name_is_account_name_invalid(storage, name):
    answer = _put(storage, "contoso-dr-rg", name, PORTAL_SETTINGS)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "AccountNameInvalid"
    check = storage.storage_accounts.check_name_availability(StorageAccountCheckNameAvailabilityParameters(name=name))
    assert (check.name_available, check.reason) == (False, "AccountNameInvalid")


def test_a_name_held_in_another_group_of_the_subscription_is_refused(storage):
    answer = _put(storage, "contoso-dr-rg", "k3v9qpcontosodrvasrcache", PORTAL_SETTINGS)
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "StorageAccountInAnotherResourceGroup"
    check = storage.storage_accounts.check_name_availability(
        StorageAccountCheckNameAvailabilityParameters(name="k3v9qpcontosodrvasrcache")
    )
    assert (check.name_available, check.reason) == (False, "AlreadyExists")
    assert "already taken" in check.message


def test_the_same_name_in_another_region_of_the_same_group_is_refused(storage):
    answer = _put(storage, "contoso-db-rg-asr", "k3v9qpcontosodrvasrcache", {**PORTAL_SETTINGS, "location": "eastasia"})
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "InvalidResourceLocation"


def test_a_missing_resource_group_is_refused(storage):
    answer = _put(storage, "no-such-rg", "freshnameasrcache", PORTAL_SETTINGS)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "ResourceGroupNotFound"


def test_account_names_are_global_across_subscriptions():
    with serve_in_thread(create_app("fleet:2:2", 800, 3)) as url:
        mine, other = subscription_id(1), subscription_id(0)  # subscription 0 holds fleetsub000asrcache
        storage = storage_client(url, mine)
        try:
            check = storage.storage_accounts.check_name_availability(
                StorageAccountCheckNameAvailabilityParameters(name="fleetsub000asrcache")
            )
            assert (check.name_available, check.reason) == (False, "AlreadyExists")
            with pytest.raises(HttpResponseError) as taken:
                storage.storage_accounts.begin_create(
                    "fleet-dr-rg", "fleetsub000asrcache", StorageAccountCreateParameters(PORTAL_SETTINGS), polling=False
                )
            assert taken.value.status_code == 409
            assert taken.value.error.code == "StorageAccountAlreadyTaken"
            free = storage.storage_accounts.check_name_availability(
                StorageAccountCheckNameAvailabilityParameters(name="fleetsub001asrcache")
            )
            assert free.name_available is True
            assert other != mine
        finally:
            storage.close()


def _asr_code(error: HttpResponseError) -> str:
    """ASR's own code: inside error.details[] (Azure's envelope) or, in older bodies, at the top."""
    body = error.response.json()["error"]
    details = body.get("details") or []
    return str(details[0]["code"] if details and details[0].get("code") else body["code"])


def _cache(demo: Any, group: str, name: str) -> str:
    return f"{demo.group_id(group)}/providers/Microsoft.Storage/storageAccounts/{name}"


def test_switch_protection_naming_a_missing_cache_account_is_refused(client, demo, admin):
    body = switch_body(demo, item_json(client, demo, "web-01"), cache=_cache(demo, "contoso-dr-rg", "nosuchasrcache"))
    with pytest.raises(HttpResponseError) as refused:
        submit(client, demo, body)
    assert refused.value.status_code == 400
    assert _asr_code(refused.value) == "28081"
    assert "nosuchasrcache" in refused.value.response.text()
    assert admin.get("/_emulator/items/web-01").json()["artifacts"] in ({}, None)
    stats = admin.get("/_emulator/stats").json()
    assert "ARM_StorageAccounts_Create" not in stats["calls"]


def test_switch_protection_naming_a_cache_account_in_the_wrong_region_is_refused(client, demo, storage, admin):
    assert (
        _put(storage, "contoso-web-rg", "eastcacheasrcache", {**PORTAL_SETTINGS, "location": "eastasia"}).status_code
        == 202
    )
    advance(admin, 60)
    body = switch_body(
        demo, item_json(client, demo, "web-01"), cache=_cache(demo, "contoso-web-rg", "eastcacheasrcache")
    )
    with pytest.raises(HttpResponseError) as refused:
        submit(client, demo, body)
    assert refused.value.status_code == 400
    assert _asr_code(refused.value) == "28082"
    assert "must be located in the same region as the source VM" in refused.value.response.text()


def test_switch_protection_naming_a_cache_account_still_being_created_is_refused_until_it_is_ready(
    client, demo, storage, admin
):
    """Not public what ASR answers for an account still Creating; the emulator refuses it (never easier than
    Azure), so the service must wait for Succeeded before sending, which it does."""
    assert _put(storage, "contoso-dr-rg", "slowcacheasrcache", PORTAL_SETTINGS).status_code == 202
    body = switch_body(
        demo, item_json(client, demo, "web-01"), cache=_cache(demo, "contoso-dr-rg", "slowcacheasrcache")
    )
    with pytest.raises(HttpResponseError) as refused:
        submit(client, demo, body)
    assert (refused.value.status_code, _asr_code(refused.value)) == (400, "28081")
    assert "not ready yet (provisioningState Creating)" in refused.value.response.text()
    advance(admin, 60)
    submit(client, demo, body)  # usable now: accepted


def _shape(value: Any) -> Any:
    """Keys and value types, recursively: what must match between a recorded answer and the emulator's."""
    if isinstance(value, dict):
        return {key: _shape(inner) for key, inner in value.items() if not key.startswith("_")}
    return type(value).__name__


def test_the_create_answers_have_the_shape_of_the_storage_specs_example(storage, admin):
    recorded = load("storage_account_create_example.json")["responses"]
    # As in the example's request: tags and allowSharedKeyAccess given (Storage echoes what was set).
    settings = {**PORTAL_SETTINGS, "tags": {"key1": "value1"}}
    settings["properties"] = {**PORTAL_SETTINGS["properties"], "allowSharedKeyAccess": True}
    created = _put(storage, "contoso-dr-rg", "shapecheckasrcache", settings)
    assert created.status_code == 202
    assert created.text() == ""  # the spec's 202 has no body either
    assert recorded["202"] == {}
    advance(admin, 60)
    path = _cache_path(storage, "contoso-dr-rg", "shapecheckasrcache")
    account = storage.send_request(HttpRequest("GET", path, params={"api-version": API})).json()
    want = _shape(recorded["200"])
    got = _shape(account)
    missing = {key for key in want if key not in got}
    assert not missing, f"top-level fields the spec example has and the emulator lacks: {missing}"
    for key in ("sku", "properties"):
        lacking = {inner for inner in want[key] if inner not in got[key]}
        assert not lacking, f"{key}: fields the spec example has and the emulator lacks: {lacking}"
    assert got["properties"]["primaryEndpoints"].keys() >= want["properties"]["primaryEndpoints"].keys()
    assert (account["type"], account["properties"]["provisioningState"]) == (
        "Microsoft.Storage/storageAccounts",
        "Succeeded",
    )


def _cache_path(storage: StorageManagementClient, group: str, name: str) -> str:
    return (
        f"/subscriptions/{storage._config.subscription_id}/resourceGroups/{group}/providers/"
        f"Microsoft.Storage/storageAccounts/{name}"
    )
