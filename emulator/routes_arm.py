"""Plain ARM reads: locations, resource groups, and the Compute/Storage/Network resources a reprotect
touches. A resource in a region under outage answers 503 ``ServiceUnavailable`` (Retry-After 5)."""

from __future__ import annotations

from collections.abc import Callable

from emulator import arm_resources as arm
from emulator import lookup
from emulator.builder import LOCATIONS
from emulator.errors import ArmError, group_not_found, resource_not_found
from emulator.paging import paged_render
from emulator.router import Ctx, Reply, Router
from emulator.routes_asr import page
from emulator.routes_storage import settle
from emulator.state import Resource

# type -> (operation group, get verb, list-in-group verb, list-in-subscription verb), swagger style
TYPES = {
    arm.VM: ("VirtualMachines", "Get", "List", "ListAll"),
    arm.DISK: ("Disks", "Get", "ListByResourceGroup", "List"),
    arm.AVSET: ("AvailabilitySets", "Get", "List", "ListBySubscription"),
    arm.PPG: ("ProximityPlacementGroups", "Get", "ListByResourceGroup", "ListBySubscription"),
    arm.STORAGE: ("StorageAccounts", "GetProperties", "ListByResourceGroup", "List"),
    arm.VNET: ("VirtualNetworks", "Get", "List", "ListAll"),
    arm.NIC: ("NetworkInterfaces", "Get", "List", "ListAll"),
    arm.KEY_VAULT: ("KeyVaults", "Get", "ListByResourceGroup", "ListBySubscription"),
    arm.DES: ("DiskEncryptionSets", "Get", "ListByResourceGroup", "List"),
    arm.VMSS: ("VirtualMachineScaleSets", "Get", "List", "ListAll"),
    "Microsoft.RecoveryServices/vaults": ("Vaults", "Get", "ListByResourceGroup", "ListBySubscriptionId"),
}
G = "/subscriptions/{sub}/resourceGroups/{rg}"


def region_unavailable(location: str) -> ArmError:
    """What a read of a resource in a region under outage gets."""
    return ArmError(
        503,
        "ServiceUnavailable",
        f"The resource provider is unavailable in region '{location}' (regional outage). Retry later.",
        headers={"Retry-After": "5"},
    )


def _locations(ctx: Ctx) -> Reply:
    sub = lookup.subscription(ctx.emulator.world, ctx.params["sub"])
    return page(
        [
            {
                "id": f"/subscriptions/{sub}/locations/{name}",
                "name": name,
                "displayName": display,
                "regionalDisplayName": f"({geo}) {display}",
                "type": "Region",
                "metadata": {"regionType": "Physical", "geographyGroup": geo},
            }
            for name, (display, geo) in LOCATIONS.items()
        ]
    )


def _group_json(ctx: Ctx, sub: str, name: str) -> dict[str, object]:
    group = ctx.emulator.world.group(sub, name)
    if group is None:
        raise group_not_found(name)
    return {
        "id": group.id,
        "name": group.name,
        "type": "Microsoft.Resources/resourceGroups",
        "location": group.location,
        "properties": {"provisioningState": "Succeeded"},
    }


def _group(ctx: Ctx) -> Reply:
    sub = lookup.subscription(ctx.emulator.world, ctx.params["sub"])
    return Reply(200, _group_json(ctx, sub, ctx.params["rg"]))


def _groups(ctx: Ctx) -> Reply:
    world = ctx.emulator.world
    sub = lookup.subscription(world, ctx.params["sub"])
    return page([_group_json(ctx, sub, g.name) for (s, _), g in world.groups.items() if s == sub.lower()])


def _render(ctx: Ctx, resource: Resource) -> dict[str, object]:
    body = resource.as_json()
    if resource.type == arm.VM and "instanceview" in ctx.query.get("$expand", "").lower():
        body = {**body, "properties": {**body["properties"], "instanceView": arm.instance_view(resource)}}
    return body


def _find(ctx: Ctx, resource_type: str) -> Resource:
    world = ctx.emulator.world
    settle(world, ctx.now)  # storage accounts being created become usable in their time
    sub, group, name = ctx.params["sub"], ctx.params["rg"], ctx.params["name"]
    lookup.subscription(world, sub)
    if world.group(sub, group) is None:
        raise group_not_found(group)
    found = world.get(f"/subscriptions/{sub}/resourceGroups/{group}/providers/{resource_type}/{name}")
    if found is None:
        raise resource_not_found(resource_type, name, group)
    if world.region_down(found.location):
        raise region_unavailable(found.location)
    return found


def _getter(resource_type: str) -> Callable[[Ctx], Reply]:
    def get(ctx: Ctx) -> Reply:
        return Reply(200, _render(ctx, _find(ctx, resource_type)))

    return get


def _lister(resource_type: str, in_group: bool) -> Callable[[Ctx], Reply]:
    def list_(ctx: Ctx) -> Reply:
        world = ctx.emulator.world
        settle(world, ctx.now)
        sub = lookup.subscription(world, ctx.params["sub"])
        group = ctx.params["rg"] if in_group else None
        if group is not None and world.group(sub, group) is None:
            raise group_not_found(group)
        # Resources of a region under outage are left out (ARM cannot reach that region's provider).
        found = [r for r in world.of_type(resource_type, sub, group) if not world.region_down(r.location)]
        return paged_render(ctx, sorted(found, key=lambda r: r.id.lower()), lambda r: _render(ctx, r))

    return list_


def _instance_view(ctx: Ctx) -> Reply:
    return Reply(200, arm.instance_view(_find(ctx, arm.VM)))


def register(router: Router) -> None:
    """Add the ARM read routes."""
    router.add("GET", "/subscriptions/{sub}/locations", "ARM_Subscriptions_ListLocations", _locations)
    router.add("GET", "/subscriptions/{sub}/resourcegroups", "ARM_ResourceGroups_List", _groups)
    router.add("GET", G, "ARM_ResourceGroups_Get", _group)
    router.add(
        "GET",
        G + f"/providers/{arm.VM}/{{name}}/instanceView",
        "ARM_VirtualMachines_InstanceView",
        _instance_view,
    )
    for resource_type, (group, get, list_in_group, list_all) in TYPES.items():
        router.add("GET", G + f"/providers/{resource_type}/{{name}}", f"ARM_{group}_{get}", _getter(resource_type))
        router.add(
            "GET",
            G + f"/providers/{resource_type}",
            f"ARM_{group}_{list_in_group}",
            _lister(resource_type, True),
        )
        router.add(
            "GET",
            f"/subscriptions/{{sub}}/providers/{resource_type}",
            f"ARM_{group}_{list_all}",
            _lister(resource_type, False),
        )
