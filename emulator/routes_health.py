"""Azure Resource Health: the current availability status of a virtual machine
(``AvailabilityStatuses_GetByResource``, ``GET {resourceUri}/providers/Microsoft.ResourceHealth/
availabilityStatuses/current``), shaped as the REST spec's example (resourcehealth stable 2025-05-01
``AvailabilityStatus_GetByResource.json``).

Resource Health is a global service: it answers while the resource's region is in an outage (reporting the
outage is what it is for), unlike the regional Compute reads (``routes_arm``).
"""

from __future__ import annotations

from typing import Any

from emulator import arm_resources as arm
from emulator import lookup
from emulator.clock import SimClock
from emulator.errors import group_not_found, resource_not_found
from emulator.paging import paged_render
from emulator.router import Ctx, Reply, Router
from emulator.state import Resource, World

G = "/subscriptions/{sub}/resourceGroups/{rg}"
RH = "/providers/Microsoft.ResourceHealth/availabilityStatuses/current"


def availability_status(world: World, vm: Resource, clock: SimClock) -> dict[str, Any]:
    """The VM's current status: an outage of its region, else what its owner did to it, else Available."""
    now = clock.now()
    location = vm.location.lower()
    if world.region_down(location):
        props: dict[str, Any] = {
            "availabilityState": "Unavailable",
            "title": "Unavailable",
            "summary": "We're sorry, your virtual machine isn't available because of an Azure service issue in "
            f"region '{vm.location}'.",
            "detailedStatus": "We're working to automatically recover your virtual machine.",
            # The spec example's words for a platform event: reasonType Unplanned, context Platform Initiated,
            # category Unplanned; healthEventCause PlatformInitiated (the SDK model's example value).
            "reasonType": "Unplanned",
            "context": "Platform Initiated",
            "category": "Unplanned",
            "healthEventCause": "PlatformInitiated",
            "healthEventCategory": "Unplanned",
            "reasonChronicity": "Persistent",
            "occuredTime": clock.iso(world.outage_started.get(location, now)),
            "rootCauseAttributionTime": clock.iso(world.outage_started.get(location, now)),
        }
    elif (vm.power_state or "running") in ("stopped", "deallocated"):
        stopped = "stopped and deallocated" if vm.power_state == "deallocated" else "stopped"
        props = {
            "availabilityState": "Unavailable",
            "title": "Unavailable",
            "summary": f"This virtual machine is {stopped} by an authorized user or process.",
            "detailedStatus": f"This virtual machine is {stopped}.",
            # The VM annotations page: Context "Customer Initiated" for user actions (stop, deallocate).
            "reasonType": "Customer Initiated",
            "context": "Customer Initiated",
            "category": "Not Applicable",
            "healthEventCause": "UserInitiated",
            "reasonChronicity": "Persistent",
        }
    else:
        props = {
            "availabilityState": "Available",
            "title": "Available",
            "summary": "There aren't any known Azure platform problems affecting this virtual machine.",
            "reasonChronicity": "Persistent",
        }
    props["reportedTime"] = clock.iso(now)
    return {
        "id": f"{vm.id}{RH}",
        "name": "current",
        "type": "Microsoft.ResourceHealth/AvailabilityStatuses",
        "location": vm.location,
        "properties": props,
    }


def _current(ctx: Ctx) -> Reply:
    world = ctx.emulator.world
    sub, group, name = ctx.params["sub"], ctx.params["rg"], ctx.params["name"]
    lookup.subscription(world, sub)
    if world.group(sub, group) is None:
        raise group_not_found(group)
    vm = world.get(f"/subscriptions/{sub}/resourceGroups/{group}/providers/{arm.VM}/{name}")
    if vm is None:
        raise resource_not_found(arm.VM, name, group)
    return Reply(200, availability_status(world, vm, ctx.emulator.clock))


def _of_subscription(ctx: Ctx) -> Reply:
    """``AvailabilityStatuses_ListBySubscriptionId``: the current status of every resource of the subscription
    (here: its virtual machines), paged."""
    world = ctx.emulator.world
    sub = lookup.subscription(world, ctx.params["sub"])
    vms = sorted(world.of_type(arm.VM, sub), key=lambda r: r.id.lower())
    return paged_render(ctx, vms, lambda vm: availability_status(world, vm, ctx.emulator.clock))


def register(router: Router) -> None:
    """Add the Resource Health routes (virtual machines)."""
    router.add(
        "GET",
        "/subscriptions/{sub}/providers/Microsoft.ResourceHealth/availabilityStatuses",
        "ResourceHealth_AvailabilityStatuses_ListBySubscriptionId",
        _of_subscription,
    )
    router.add(
        "GET", G + f"/providers/{arm.VM}/{{name}}" + RH, "ResourceHealth_AvailabilityStatuses_GetByResource", _current
    )
