"""ASR reads: fabrics, containers, mappings, networks, policies, replicated items, recovery points."""

from __future__ import annotations

from typing import Any

from emulator import lookup
from emulator import views_asr as view
from emulator.errors import asr_not_found
from emulator.paging import paged_render
from emulator.router import Ctx, Reply, Router
from emulator.views_item import item_json, recovery_points

V = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.RecoveryServices/vaults/{vault}"
F = V + "/replicationFabrics/{fabric}"
C = F + "/replicationProtectionContainers/{container}"


def page(values: list[dict[str, Any]]) -> Reply:
    """A list answer: everything in one page."""
    return Reply(200, {"value": values, "nextLink": None})


def _fabrics(ctx: Ctx) -> Reply:
    v = lookup.vault(ctx)
    return page([view.fabric(ctx.emulator.world, v, f, ctx.emulator.clock) for f in v.fabrics.values()])


def _fabric(ctx: Ctx) -> Reply:
    v = lookup.vault(ctx)
    return Reply(200, view.fabric(ctx.emulator.world, v, lookup.fabric(ctx, v), ctx.emulator.clock))


def _containers_of_fabric(ctx: Ctx) -> Reply:
    v = lookup.vault(ctx)
    return page([view.container(v, lookup.fabric(ctx, v))])


def _containers(ctx: Ctx) -> Reply:
    v = lookup.vault(ctx)
    return page([view.container(v, f) for f in v.fabrics.values()])


def _container(ctx: Ctx) -> Reply:
    v = lookup.vault(ctx)
    return Reply(200, view.container(v, lookup.container(ctx, v)))


def _container_mappings(ctx: Ctx, source: str | None) -> list[dict[str, Any]]:
    v = lookup.vault(ctx)
    world, clock = ctx.emulator.world, ctx.emulator.clock
    return [
        view.container_mapping(world, v, m, clock)
        for m in v.container_mappings
        if source is None or m.source_fabric.lower() == source.lower()
    ]


def _mappings_of_container(ctx: Ctx) -> Reply:
    return page(_container_mappings(ctx, lookup.container(ctx, lookup.vault(ctx)).name))


def _mapping(ctx: Ctx) -> Reply:
    for mapping in _container_mappings(ctx, lookup.container(ctx, lookup.vault(ctx)).name):
        if mapping["name"].lower() == ctx.params["mapping"].lower():
            return Reply(200, mapping)
    raise asr_not_found("protection container mapping", ctx.params["mapping"])


def _all_mappings(ctx: Ctx) -> Reply:
    return page(_container_mappings(ctx, None))


def _networks_of_fabric(ctx: Ctx) -> Reply:
    v = lookup.vault(ctx)
    return page([view.network(v, lookup.fabric(ctx, v))])


def _networks(ctx: Ctx) -> Reply:
    v = lookup.vault(ctx)
    return page([view.network(v, f) for f in v.fabrics.values()])


def _network(ctx: Ctx) -> Reply:
    v = lookup.vault(ctx)
    f = lookup.fabric(ctx, v)
    if ctx.params["network"].lower() != view.NETWORK_NAME.lower():
        raise asr_not_found("network", ctx.params["network"])
    return Reply(200, view.network(v, f))


def _network_mappings(ctx: Ctx, fabric: str | None) -> list[dict[str, Any]]:
    v = lookup.vault(ctx)
    return [
        view.network_mapping(v, m)
        for m in v.network_mappings
        if fabric is None or m.primary_fabric.lower() == fabric.lower()
    ]


def _network_mappings_of_network(ctx: Ctx) -> Reply:
    v = lookup.vault(ctx)
    _network(ctx)
    return page(_network_mappings(ctx, lookup.fabric(ctx, v).name))


def _network_mapping(ctx: Ctx) -> Reply:
    v = lookup.vault(ctx)
    _network(ctx)
    for mapping in _network_mappings(ctx, lookup.fabric(ctx, v).name):
        if mapping["name"].lower() == ctx.params["mapping"].lower():
            return Reply(200, mapping)
    raise asr_not_found("network mapping", ctx.params["mapping"])


def _all_network_mappings(ctx: Ctx) -> Reply:
    return page(_network_mappings(ctx, None))


def _policies(ctx: Ctx) -> Reply:
    v = lookup.vault(ctx)
    return page([view.policy(v, p) for p in v.policies.values()])


def _policy(ctx: Ctx) -> Reply:
    v = lookup.vault(ctx)
    found = v.policies.get(ctx.params["policy"].lower())
    if found is None:
        raise asr_not_found("policy", ctx.params["policy"])
    return Reply(200, view.policy(v, found))


def _items(ctx: Ctx) -> Reply:
    v = lookup.vault(ctx)
    f = lookup.container(ctx, v)
    world, clock = ctx.emulator.world, ctx.emulator.clock
    mine = [i for i in v.items.values() if i.fabric == f.name]
    return paged_render(ctx, mine, lambda i: item_json(world, v, i, clock, ctx.now))


def _all_items(ctx: Ctx) -> Reply:
    """Pages of at most ``PAGE_SIZE`` items that never span two fabrics (the spec's skipToken is "FabricId" or
    "FabricId_CloudId": pages are cut per fabric), ``nextLink`` naming the next.

    $filter (e.g. SourceFabricName eq '...') is accepted and ignored.
    """
    v = lookup.vault(ctx)
    world, clock = ctx.emulator.world, ctx.emulator.clock
    items = sorted(v.items.values(), key=lambda i: i.fabric.lower())
    return paged_render(ctx, items, lambda i: item_json(world, v, i, clock, ctx.now), cut_at=lambda i: i.fabric.lower())


def _item(ctx: Ctx) -> Reply:
    v = lookup.vault(ctx)
    return Reply(200, item_json(ctx.emulator.world, v, lookup.item_here(ctx, v), ctx.emulator.clock, ctx.now))


def _points(ctx: Ctx) -> Reply:
    v = lookup.vault(ctx)
    return page(recovery_points(v, lookup.item_here(ctx, v), ctx.emulator.clock, ctx.now))


def _point(ctx: Ctx) -> Reply:
    v = lookup.vault(ctx)
    for point in recovery_points(v, lookup.item_here(ctx, v), ctx.emulator.clock, ctx.now):
        if point["name"].lower() == ctx.params["point"].lower():
            return Reply(200, point)
    raise asr_not_found("recovery point", ctx.params["point"])


def register(router: Router) -> None:
    """Add the ASR read routes."""
    get = "GET"
    router.add(get, V + "/replicationFabrics", "ReplicationFabrics_List", _fabrics)
    router.add(get, F, "ReplicationFabrics_Get", _fabric)
    router.add(
        get,
        F + "/replicationProtectionContainers",
        "ReplicationProtectionContainers_ListByReplicationFabrics",
        _containers_of_fabric,
    )
    router.add(get, C, "ReplicationProtectionContainers_Get", _container)
    router.add(get, V + "/replicationProtectionContainers", "ReplicationProtectionContainers_List", _containers)
    router.add(
        get,
        C + "/replicationProtectionContainerMappings",
        "ReplicationProtectionContainerMappings_ListByReplicationProtectionContainers",
        _mappings_of_container,
    )
    router.add(
        get,
        C + "/replicationProtectionContainerMappings/{mapping}",
        "ReplicationProtectionContainerMappings_Get",
        _mapping,
    )
    router.add(
        get,
        V + "/replicationProtectionContainerMappings",
        "ReplicationProtectionContainerMappings_List",
        _all_mappings,
    )
    router.add(get, F + "/replicationNetworks", "ReplicationNetworks_ListByReplicationFabrics", _networks_of_fabric)
    router.add(get, F + "/replicationNetworks/{network}", "ReplicationNetworks_Get", _network)
    router.add(get, V + "/replicationNetworks", "ReplicationNetworks_List", _networks)
    router.add(
        get,
        F + "/replicationNetworks/{network}/replicationNetworkMappings",
        "ReplicationNetworkMappings_ListByReplicationNetworks",
        _network_mappings_of_network,
    )
    router.add(
        get,
        F + "/replicationNetworks/{network}/replicationNetworkMappings/{mapping}",
        "ReplicationNetworkMappings_Get",
        _network_mapping,
    )
    router.add(get, V + "/replicationNetworkMappings", "ReplicationNetworkMappings_List", _all_network_mappings)
    router.add(get, V + "/replicationPolicies", "ReplicationPolicies_List", _policies)
    router.add(get, V + "/replicationPolicies/{policy}", "ReplicationPolicies_Get", _policy)
    router.add(
        get,
        C + "/replicationProtectedItems",
        "ReplicationProtectedItems_ListByReplicationProtectionContainers",
        _items,
    )
    router.add(get, C + "/replicationProtectedItems/{item}", "ReplicationProtectedItems_Get", _item)
    router.add(get, V + "/replicationProtectedItems", "ReplicationProtectedItems_List", _all_items)
    router.add(
        get,
        C + "/replicationProtectedItems/{item}/recoveryPoints",
        "RecoveryPoints_ListByReplicationProtectedItems",
        _points,
    )
    router.add(get, C + "/replicationProtectedItems/{item}/recoveryPoints/{point}", "RecoveryPoints_Get", _point)
