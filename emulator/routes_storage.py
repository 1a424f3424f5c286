"""The Storage resource provider's account writes: create (PUT, asynchronous) and checkNameAvailability.

As Azure serves them (README.md "Storage accounts", with sources): account names are global across every
subscription; a name that is not 3-24 lowercase letters and digits is ``AccountNameInvalid``; a name held
in another subscription is ``StorageAccountAlreadyTaken``, in another resource group of the same
subscription ``StorageAccountInAnotherResourceGroup``, in the same group in another region
``InvalidResourceLocation``. A new account answers 202 with a ``Location`` to poll
(``.../providers/Microsoft.Storage/operations/{id}?monitor=true``); it shows ``provisioningState``
``Creating`` until it is ready (:data:`CREATE_SECONDS` simulated), then ``Succeeded``. Repeating the PUT
of an existing account answers 200 with the account.
"""

from __future__ import annotations

import re
from typing import Any

from emulator import arm_resources as arm
from emulator import ids, lookup
from emulator.errors import ArmError, bad_request, group_not_found
from emulator.router import Ctx, Reply, Router
from emulator.state import Resource, World

CREATE_SECONDS = 25.0  # simulated seconds a new account stays Creating
_NAME = re.compile(r"^[a-z0-9]{3,24}$")
_KINDS = {"storage", "storagev2", "blobstorage", "blockblobstorage", "filestorage"}
G = "/subscriptions/{sub}/resourceGroups/{rg}"


def invalid_name(name: str) -> str:
    """Storage's words for a name it refuses."""
    return (
        f"{name} is not a valid storage account name. Storage account name must be between 3 and 24 "
        "characters in length and use numbers and lower-case letters only."
    )


def holder(world: World, name: str) -> Resource | None:
    """The account holding ``name`` anywhere in Azure (names are global)."""
    wanted = name.lower()
    return next((r for r in world.resources.values() if r.type == arm.STORAGE and r.name.lower() == wanted), None)


def settle(world: World, now: float) -> None:
    """Accounts whose creation time has passed become usable (``Succeeded``)."""
    for key, ready_at in list(world.creating_accounts.items()):
        if ready_at <= now:
            account = world.resources.get(key)
            if account is not None:
                account.body.setdefault("properties", {})["provisioningState"] = "Succeeded"
            del world.creating_accounts[key]


def _check_name(ctx: Ctx) -> Reply:
    world = ctx.emulator.world
    lookup.subscription(world, ctx.params["sub"])
    body = ctx.json()
    name = body.get("name")
    if not isinstance(name, str):
        raise bad_request("'name' is required.")
    if str(body.get("type", "")).lower() != arm.STORAGE.lower():
        raise bad_request("'type' must be 'Microsoft.Storage/storageAccounts'.")
    if not _NAME.match(name):
        return Reply(200, {"nameAvailable": False, "reason": "AccountNameInvalid", "message": invalid_name(name)})
    if holder(world, name) is not None:
        message = f"The storage account named {name} is already taken."
        return Reply(200, {"nameAvailable": False, "reason": "AlreadyExists", "message": message})
    return Reply(200, {"nameAvailable": True})


def _create(ctx: Ctx) -> Reply:
    world = ctx.emulator.world
    sub = lookup.subscription(world, ctx.params["sub"])
    group, name = ctx.params["rg"], ctx.params["name"]
    if world.group(sub, group) is None:
        raise group_not_found(group)
    if not _NAME.match(name):
        raise ArmError(400, "AccountNameInvalid", invalid_name(name))
    body = ctx.json()
    location, kind, sku = _parameters(body)
    settle(world, ctx.now)
    account_id = ids.resource_id(sub, group, arm.STORAGE, name)
    held = holder(world, name)
    if held is not None and ids.key(held.id) != ids.key(account_id):
        held_sub = held.id.split("/")[2]
        if held_sub.lower() == sub.lower():
            message = f"The account {name} is already in another resource group in this subscription."
            raise ArmError(409, "StorageAccountInAnotherResourceGroup", message)
        raise ArmError(409, "StorageAccountAlreadyTaken", f"The storage account named {name} is already taken.")
    if held is not None:
        if held.location.lower() != location:
            raise ArmError(
                409,
                "InvalidResourceLocation",
                f"The resource '{name}' already exists in location '{held.location}' in resource group "
                f"'{group}'. A resource with the same name cannot be created in location '{location}'. "
                "Please select a new resource name.",
            )
        return Reply(200, held.as_json())  # a repeated create of the same account answers with it
    account = arm.make_storage_account(sub, group, name, location, sku=sku, kind=kind)
    account.body["properties"].update(_settings(body))
    account.body["tags"] = body.get("tags") if isinstance(body.get("tags"), dict) else {}
    # Always in Storage's answer (spec example StorageAccountCreate.json); HTTPS-only is the default since
    # api-version 2019-04-01 (the spec's supportsHttpsTrafficOnly description).
    account.body["properties"]["creationTime"] = ctx.emulator.clock.iso(ctx.now)
    account.body["properties"].setdefault("supportsHttpsTrafficOnly", True)
    account.body["properties"]["provisioningState"] = "Creating"
    world.put(account)
    world.creating_accounts[ids.key(account.id)] = ctx.now + CREATE_SECONDS
    operation = ctx.emulator.new_guid()
    world.storage_operations[operation] = account.id
    monitor = f"{ctx.base_url.rstrip('/')}/subscriptions/{sub}/providers/Microsoft.Storage/operations/{operation}"
    return Reply(202, None, {"Location": f"{monitor}?monitor=true&api-version={ctx.api_version}"})


def _parameters(body: dict[str, Any]) -> tuple[str, str, str]:
    location = body.get("location")
    kind = body.get("kind")
    sku = body.get("sku")
    if not isinstance(location, str) or not location:
        raise bad_request("'location' is required.")
    if not isinstance(kind, str) or kind.lower() not in _KINDS:
        raise bad_request(
            f"'kind' must be one of Storage, StorageV2, BlobStorage, BlockBlobStorage, FileStorage; got {kind!r}."
        )
    if not isinstance(sku, dict) or not isinstance(sku.get("name"), str):
        raise bad_request("'sku.name' is required.")
    return location.lower().replace(" ", ""), kind, sku["name"]


def _settings(body: dict[str, Any]) -> dict[str, Any]:
    raw = body.get("properties")
    props: dict[str, Any] = raw if isinstance(raw, dict) else {}
    wanted = ("minimumTlsVersion", "allowBlobPublicAccess", "allowSharedKeyAccess", "supportsHttpsTrafficOnly")
    return {k: props[k] for k in wanted if k in props}


def _operation(ctx: Ctx) -> Reply:
    world = ctx.emulator.world
    lookup.subscription(world, ctx.params["sub"])
    settle(world, ctx.now)
    account_id = world.storage_operations.get(ctx.params["op"])
    account = world.get(account_id)
    if account is None:
        raise ArmError(404, "ResourceNotFound", f"The operation '{ctx.params['op']}' was not found.")
    if ids.key(account.id) in world.creating_accounts:
        return Reply(
            202, None, {"Location": f"{ctx.base_url.rstrip('/')}{ctx.path}?monitor=true&api-version={ctx.api_version}"}
        )
    return Reply(200, account.as_json())


def register(router: Router) -> None:
    """Add the Storage write routes (reads are served with the other ARM reads)."""
    router.add(
        "POST",
        "/subscriptions/{sub}/providers/Microsoft.Storage/checkNameAvailability",
        "ARM_StorageAccounts_CheckNameAvailability",
        _check_name,
    )
    router.add("PUT", G + f"/providers/{arm.STORAGE}/{{name}}", "ARM_StorageAccounts_Create", _create)
    router.add(
        "GET",
        "/subscriptions/{sub}/providers/Microsoft.Storage/operations/{op}",
        "ARM_StorageAccounts_CreateOperation",
        _operation,
    )
