"""Finding what an ASR path names (subscription, vault, fabric, container, item, job) or the ARM error."""

from __future__ import annotations

from emulator.errors import ArmError, asr_not_found, group_not_found
from emulator.router import Ctx
from emulator.state import Fabric, Item, Job, Vault, World


def subscription(world: World, sub: str) -> str:
    """The canonical subscription id, or 404 ``SubscriptionNotFound``."""
    found = world.subscriptions.get(sub.lower())
    if found is None:
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
    return found


def vault(ctx: Ctx) -> Vault:
    """The vault of an ASR path."""
    world = ctx.emulator.world
    sub, group, name = ctx.params["sub"], ctx.params["rg"], ctx.params["vault"]
    subscription(world, sub)
    if world.group(sub, group) is None:
        raise group_not_found(group)
    found = world.vault(sub, group, name)
    if found is None:
        raise ArmError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.RecoveryServices/vaults/{name}' under resource group '{group}' was not found.",
        )
    return found


def fabric(ctx: Ctx, v: Vault) -> Fabric:
    """The fabric of the path."""
    found = v.fabric(ctx.params["fabric"])
    if found is None:
        raise asr_not_found("fabric", ctx.params["fabric"])
    return found


def container(ctx: Ctx, v: Vault) -> Fabric:
    """The fabric whose container the path names."""
    f = fabric(ctx, v)
    if f.container.lower() != ctx.params["container"].lower():
        raise asr_not_found("protection container", ctx.params["container"])
    return f


def item_here(ctx: Ctx, v: Vault) -> Item:
    """The item at this exact container (an item that moved away is not found here)."""
    f = container(ctx, v)
    name = ctx.params["item"]
    found = v.items.get(name.lower())
    ctx.item = found.name if found else name
    if found is None or found.fabric.lower() != f.name.lower():
        raise asr_not_found("replication protected item", name)
    return found


def job(ctx: Ctx, v: Vault) -> Job:
    """The job of the path."""
    found = v.jobs.get(ctx.params["job"].lower())
    if found is None:
        raise asr_not_found("job", ctx.params["job"])
    ctx.item = found.item
    return found
