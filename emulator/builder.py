"""Turns scenario data into a world: resource groups, ARM resources, vaults, fabrics and replicated items."""

from __future__ import annotations

import random
import uuid
from typing import Any

from emulator import arm_resources as arm
from emulator import ids
from emulator import simulation as sim
from emulator.state import (
    ContainerMapping,
    Fabric,
    Item,
    ItemDisk,
    NetworkMapping,
    Nic,
    Policy,
    Resource,
    Vault,
    World,
)

LOCATIONS = {
    "eastasia": ("East Asia", "Asia Pacific"),
    "southeastasia": ("Southeast Asia", "Asia Pacific"),
    "japaneast": ("Japan East", "Asia Pacific"),
    "japanwest": ("Japan West", "Asia Pacific"),
    "koreacentral": ("Korea Central", "Asia Pacific"),
    "australiaeast": ("Australia East", "Asia Pacific"),
    "centralindia": ("Central India", "Asia Pacific"),
    "westeurope": ("West Europe", "Europe"),
    "northeurope": ("North Europe", "Europe"),
    "uksouth": ("UK South", "Europe"),
    "ukwest": ("UK West", "Europe"),
    "eastus": ("East US", "US"),
    "eastus2": ("East US 2", "US"),
    "centralus": ("Central US", "US"),
    "westus": ("West US", "US"),
    "westus2": ("West US 2", "US"),
}
COMMITTED_OPERATIONS = ["CompleteMigration", "DisableProtection", "SwitchProtection"]
UNCOMMITTED_OPERATIONS = ["ChangePit", "Commit", "DisableProtection"]
PROTECTED_OPERATIONS = ["DisableProtection", "PlannedFailover", "TestFailover", "UnplannedFailover"]


def guid(rng: random.Random) -> str:
    """A random (seeded) GUID."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def build_world(raw: dict[str, Any], rng: random.Random) -> World:
    """The world a validated scenario describes."""
    return _Builder(raw, rng).build()


class _Builder:
    def __init__(self, raw: dict[str, Any], rng: random.Random):
        self.raw = raw
        self.rng = rng
        self.defaults: dict[str, Any] = raw.get("defaults") or {}
        self.world = World(name=str(raw.get("name", "scenario")), locations={k: v[0] for k, v in LOCATIONS.items()})
        self.caches: dict[tuple[str, str], str] = {}
        self.vnets: dict[tuple[str, str], Resource] = {}  # (subscription, name): scenario VMs name their vnet

    def build(self) -> World:
        # Every subscription's groups and plain resources first: a central vault's VMs and network
        # mappings name resources of other subscriptions, declared before or after the vault's own.
        for sub in self.raw["subscriptions"]:
            sid = str(sub["id"])
            self.world.subscriptions[sid.lower()] = sid
            for group in sub.get("resource_groups", []):
                self.world.add_group(sid, group["name"], group["location"])
            self._plain_resources(sid, sub)
        for sub in self.raw["subscriptions"]:
            for vault in sub.get("vaults", []):
                self._vault(str(sub["id"]), vault)
        return self.world

    def _subscription(self, spec: dict[str, Any], default: str) -> str:
        """The canonical subscription an object names with ``subscription`` (a central vault's VM), else ``default``."""
        named = spec.get("subscription")
        return self.world.subscriptions.get(str(named).lower(), str(named)) if named else default

    def _put(self, resource: Resource) -> Resource:
        ref = ids.parse(resource.id)
        if ref is not None:
            self.world.add_group(ref.subscription, ref.group, resource.location)
        existing = self.world.get(resource.id)
        return existing if existing is not None else self.world.put(resource)

    def _plain_resources(self, sid: str, sub: dict[str, Any]) -> None:
        for v in sub.get("virtual_networks", []):
            prefix = v.get("address_prefix", "10.0.0.0/16")
            vnet = self._put(arm.make_vnet(sid, v["resource_group"], v["name"], v["location"], prefix))
            self.vnets[(sid.lower(), vnet.name.lower())] = vnet
        for s in sub.get("storage_accounts", []):
            self._put(
                arm.make_storage_account(
                    sid, s["resource_group"], s["name"], s["location"], sku=s.get("sku", "Standard_LRS")
                )
            )
        for a in sub.get("availability_sets", []):
            self._put(arm.make_avset(sid, a["resource_group"], a["name"], a["location"]))
        for p in sub.get("proximity_placement_groups", []):
            self._put(arm.make_ppg(sid, p["resource_group"], p["name"], p["location"]))

    def _vnet(self, sid: str, ref: str | None) -> Resource | None:
        if not ref:
            return None
        if ref.startswith("/"):
            return self.world.get(ref)
        return self.vnets.get((sid.lower(), ref.lower()))

    def _vault(self, sid: str, spec: dict[str, Any]) -> None:
        vault = Vault(sid, spec["resource_group"], spec["name"], spec["location"])
        self.world.vaults[ids.key(ids.arm_vault_id(sid, vault.group, vault.name))] = vault
        vault_resource = Resource(
            ids.arm_vault_id(sid, vault.group, vault.name),
            ids.RSV,
            vault.name,
            vault.location,
            {"sku": {"name": "RS0", "tier": "Standard"}, "properties": {"provisioningState": "Succeeded"}},
        )
        self.world.put(vault_resource)
        for side in ("primary", "recovery"):
            fabric_spec = spec[side]
            location = str(fabric_spec["location"])
            fabric = Fabric(
                name=fabric_spec.get("fabric_name") or ids.fabric_name_for(location),
                location=location,
                friendly_name=fabric_spec.get("friendly_name") or self.world.locations.get(location, location),
                container=fabric_spec.get("container_name") or ids.container_name_for(location),
                internal_id=guid(self.rng),
            )
            vault.fabrics[fabric.name.lower()] = fabric
        for p in spec.get("policies", []):
            vault.policies[p["name"].lower()] = Policy(
                p["name"],
                int(p.get("recovery_point_history_minutes", 1440)),
                int(p.get("app_consistent_frequency_minutes", 240)),
                int(p.get("crash_consistent_frequency_minutes", 5)),
            )
        for m in spec.get("container_mappings", []):
            source, target = vault.fabric_at(m["from"]), vault.fabric_at(m["to"])
            if source is None or target is None:
                continue
            name = m.get("name") or f"{source.location}-{target.location}-{m['policy']}"
            vault.container_mappings.append(ContainerMapping(name, source.name, target.name, m["policy"]))
        for m in spec.get("network_mappings", []):
            self._network_mapping(sid, vault, m)
        for vm in spec.get("vms", []):
            item = self._vm(sid, vault, spec, vm)
            vault.items[item.name.lower()] = item

    def _network_mapping(self, sid: str, vault: Vault, spec: dict[str, Any]) -> None:
        sid = self._subscription(spec, sid)  # the networks' subscription (a central vault's VMs)
        source, target = self._vnet(sid, spec.get("from_vnet")), self._vnet(sid, spec.get("to_vnet"))
        if source is None or target is None:
            return
        primary, recovery = vault.fabric_at(source.location), vault.fabric_at(target.location)
        if primary is None or recovery is None:
            return
        name = spec.get("name") or f"{source.name}-{target.name}-mapping"
        vault.network_mappings.append(NetworkMapping(name, primary.name, recovery.name, source.id, target.id))

    def _mapped_network(self, vault: Vault, network_id: str | None) -> str | None:
        mapping = next((m for m in vault.network_mappings if ids.same(m.primary_network_id, network_id)), None)
        return mapping.recovery_network_id if mapping else None

    def _cache(self, sid: str, group: str, location: str, vault: Vault) -> str:
        """The cache account enable-replication created in the VM's original resource group."""
        if (sid.lower(), group.lower()) not in self.caches:
            name = sim.cache_account_name(vault.name, sim.random_token(self.rng))
            account = self._put(arm.make_storage_account(sid, group, name, location))
            self.caches[(sid.lower(), group.lower())] = account.id
        return self.caches[(sid.lower(), group.lower())]

    def _vm(self, sid: str, vault: Vault, vault_spec: dict[str, Any], spec: dict[str, Any]) -> Item:
        primary = vault.fabric_at(vault_spec["primary"]["location"])
        recovery = vault.fabric_at(vault_spec["recovery"]["location"])
        assert primary is not None
        assert recovery is not None
        # The VM and everything of it (groups, disks, NICs, its failed-over copy) live in its own subscription.
        return _VmBuilder(self, self._subscription(spec, sid), vault, primary, recovery, spec).build()


class _VmBuilder:
    """One scenario VM: its original side, its failed-over side (if any) and its replicated item."""

    def __init__(
        self,
        parent: _Builder,
        sid: str,
        vault: Vault,
        primary: Fabric,
        recovery: Fabric,
        spec: dict[str, Any],
    ):
        self.p = parent
        self.sid, self.vault, self.primary, self.recovery, self.spec = sid, vault, primary, recovery, spec
        self.name = str(spec["name"])
        self.group = str(spec["resource_group"])
        self.rec_group = str(spec.get("recovery_resource_group") or f"{self.group}-asr")
        self.state = str(spec.get("state", "failover_committed"))
        self.os_type = str(spec.get("os", "Windows"))
        self.size = str(spec.get("size", "Standard_D2s_v3"))
        self.unmanaged = bool(spec.get("unmanaged", False))
        self.encryption = str(spec.get("encryption") or "none").lower()  # none | ade | ade_kek | des
        self.keys: dict[str, dict[str, Any]] = {}  # side (primary | recovery) -> disk encryption of that side
        defaults = parent.defaults
        self.hours = float(spec.get("failed_over_hours_ago", defaults.get("failed_over_hours_ago", 6)))
        enable = spec.get("enable_replication_minutes", defaults.get("enable_replication_minutes"))
        self.enable_s = float(enable if enable is not None else sim.DEFAULT_ENABLE_MINUTES) * 60.0
        parent.world.add_group(sid, self.rec_group, recovery.location)

    def _disk_specs(self) -> list[dict[str, Any]]:
        out = []
        for index, d in enumerate(self.spec["disks"]):
            is_os = index == 0
            default = (
                f"{self.name}_OsDisk_1_{uuid.UUID(int=self.p.rng.getrandbits(128)).hex}"
                if is_os
                else (f"{self.name}_DataDisk_{index - 1}")
            )
            sku = str(d.get("sku", "Premium_LRS"))
            size = float(d["size_gib"])
            out.append(
                {
                    "name": str(d.get("name") or default),
                    "type": "OperatingSystem" if is_os else "Data",
                    "sku": sku,
                    "size": size,
                    "changed": sim.changed_gib(size, d.get("changed_gib"), d.get("churn_mb_s"), self.hours * 3600),
                    "throughput": float(d.get("throughput_mb_s") or sim.default_throughput(sku)),
                    "lun": index - 1,
                }
            )
        return out

    def build(self) -> Item:
        p, sid, rng = self.p, self.sid, self.p.rng
        disks = self._disk_specs()
        vnet = p._vnet(sid, self.spec.get("vnet"))
        recovery_vnet_id = p._mapped_network(self.vault, vnet.id if vnet else None)
        ip = str(self.spec.get("ip", "10.0.0.4"))
        avset, ppg = self.spec.get("availability_set"), self.spec.get("proximity_placement_group")
        ea_avset = p._put(arm.make_avset(sid, self.group, avset, self.primary.location)).id if avset else None
        ea_ppg = p._put(arm.make_ppg(sid, self.group, ppg, self.primary.location)).id if ppg else None
        cache = p._cache(sid, self.group, self.primary.location, self.vault)
        self._key_material()
        scale_set = self.spec.get("scale_set")
        ea_vmss = (
            p._put(arm.make_scale_set(sid, self.group, scale_set, self.primary.location)).id if scale_set else None
        )
        source = str(self.spec.get("source_vm", "present"))
        source_group = None if source == "deleted" else source.split(":", 1)[1] if ":" in source else self.group
        original_vm_id = ids.resource_id(sid, self.group, arm.VM, self.name)
        ea_accounts = self._vhd_accounts()
        ea_nic = self._nic(self.group, f"{self.name}-nic", self.primary.location, vnet, ip)
        if source_group is not None:
            vm_disks = self._materialise(
                disks, source_group, self.primary.location, ea_accounts[0], original_vm_id, side="primary"
            )
            power = str(self.spec.get("source_power", "running"))
            p._put(
                arm.make_vm(
                    sid,
                    source_group,
                    self.name,
                    self.primary.location,
                    vm_guid=guid(rng),
                    size=self.size,
                    os_type=self.os_type,
                    disks=vm_disks,
                    nic_ids=[ea_nic],
                    avset_id=ea_avset,
                    ppg_id=ea_ppg,
                    power=power,
                    scale_set_id=ea_vmss,
                )
            )
        item_disks = [self._item_disk(d, cache, ea_accounts) for d in disks]
        item = Item(
            name=str(self.spec.get("item_name") or self.name),
            vm_name=self.name,
            fabric=self.primary.name,
            recovery_fabric=self.recovery.name,
            policy=str(self.spec.get("policy") or self._forward_policy()),
            protection_state="",
            protection_state_description="",
            active_location="Recovery",
            allowed_operations=[],
            source_vm_id=original_vm_id,
            running_vm_id=None,
            recovery_rg_id=ids.group_id(sid, self.rec_group),
            recovery_network_id=recovery_vnet_id,
            vm_size=self.size,
            os_type=self.os_type,
            disks=item_disks,
            nics=[Nic(guid(rng), ea_nic, vnet.id if vnet else "", recovery_vnet_id, ip)],
            enable_s=self.enable_s,
            guids={k: guid(rng) for k in ("lifecycle", "management", "group", "provider", "target", "event", "rp")},
            initial_primary_location=self.primary.location,
            initial_recovery_location=self.recovery.location,
            unmanaged=self.unmanaged,
            encryption_type="OnePassEncrypted" if self.encryption.startswith("ade") else "NotEncrypted",
        )
        if self.state == "protected":
            self._protected(item, disks)
        else:
            self._failed_over(item, disks, avset, ppg, recovery_vnet_id, ip)
        return item

    def _forward_policy(self) -> str:
        mapping = next((m for m in self.vault.container_mappings if m.source_fabric == self.primary.name), None)
        return mapping.policy if mapping else next(iter(self.vault.policies.values())).name

    def _vhd_accounts(self) -> tuple[str | None, str | None]:
        """Unmanaged disks: the original account and the ``asr`` one enable-replication made."""
        if not self.unmanaged:
            return None, None
        original = str(self.spec.get("vhd_storage_account") or sim.target_storage_account_name(self.name + "vhd"))
        recovery = str(self.spec.get("recovery_vhd_storage_account") or sim.target_storage_account_name(original))
        self.p._put(arm.make_storage_account(self.sid, self.group, original, self.primary.location))
        self.p._put(arm.make_storage_account(self.sid, self.rec_group, recovery, self.recovery.location))
        return original, recovery

    def _key_material(self) -> None:
        """Keys on each side, as enable replication left them: ADE secrets (and KEK) copied to an ``asr`` key
        vault of the recovery region; for customer-managed keys a disk encryption set per region, each with
        a key vault of its own region (docs: ADE and CMK replication)."""
        if self.encryption == "none":
            return
        secret = uuid.UUID(int=self.p.rng.getrandbits(128))
        version = uuid.UUID(int=self.p.rng.getrandbits(128)).hex
        for side, group, location, suffix in (
            ("primary", self.group, self.primary.location, ""),
            ("recovery", self.rec_group, self.recovery.location, "asr"),
        ):
            if self.encryption == "des":
                vault = self.p._put(arm.make_key_vault(self.sid, group, f"{self.name}-deskv{suffix}", location))
                des = arm.make_disk_encryption_set(
                    self.sid, group, f"{self.name}-des{suffix}", location, key_vault_id=vault.id
                )
                self.keys[side] = {"diskEncryptionSetId": self.p._put(des).id}
                continue
            vault = self.p._put(arm.make_key_vault(self.sid, group, f"{self.name}-kv{suffix}", location))
            entry: dict[str, Any] = {
                "diskEncryptionKey": {
                    "sourceVault": {"id": vault.id},
                    "secretUrl": f"https://{vault.name}.vault.azure.net/secrets/{secret}/{version}",
                }
            }
            if self.encryption == "ade_kek":
                entry["keyEncryptionKey"] = {
                    "sourceVault": {"id": vault.id},
                    "keyUrl": f"https://{vault.name}.vault.azure.net/keys/{self.name}-kek/{version}",
                }
            self.keys[side] = {
                "encryptionSettingsCollection": {
                    "enabled": True,
                    "encryptionSettings": [entry],
                    "encryptionSettingsVersion": "1.1",
                }
            }

    def _nic(self, group: str, name: str, location: str, vnet: Resource | None, ip: str) -> str:
        subnet = f"{vnet.id}/subnets/default" if vnet else ""
        return self.p._put(arm.make_nic(self.sid, group, name, location, subnet_id=subnet, ip=ip)).id

    def _materialise(
        self,
        disks: list[dict[str, Any]],
        group: str,
        location: str,
        account: str | None,
        vm_id: str,
        *,
        side: str,
    ) -> list[arm.VmDisk]:
        """Create the disks (managed) in ``group`` and describe them for a VM profile."""
        out = []
        for d in disks:
            if account:
                uri = sim.vhd_uri(account, d["name"])
                out.append(arm.VmDisk(d["name"], d["type"], d["size"], d["sku"], vhd_uri=uri, lun=d["lun"]))
                continue
            os_type = self.os_type if d["type"] == "OperatingSystem" else None
            disk = self.p._put(
                arm.make_disk(
                    self.sid,
                    group,
                    d["name"],
                    location,
                    size_gib=d["size"],
                    sku=d["sku"],
                    os_type=os_type,
                    managed_by=vm_id,
                    encryption=self.keys.get(side),
                )
            )
            out.append(arm.VmDisk(d["name"], d["type"], d["size"], d["sku"], managed_id=disk.id, lun=d["lun"]))
        return out

    def _item_disk(self, d: dict[str, Any], cache: str, accounts: tuple[str | None, str | None]) -> ItemDisk:
        disk = ItemDisk(
            name=d["name"],
            disk_id=ids.resource_id(self.sid, self.group, arm.DISK, d["name"]),
            size_gib=d["size"],
            disk_type=d["type"],
            sku=d["sku"],
            changed_gib=d["changed"],
            throughput_mb_s=d["throughput"],
            recovery_rg_id=ids.group_id(self.sid, self.rec_group),
            replica_sku=d["sku"],
            target_sku=d["sku"],
            staging_account_id=cache,
            failover_disk_name=d["name"],
        )
        self._item_encryption(disk)
        original, recovery = accounts
        if original and recovery:
            disk.disk_id = ""
            disk.disk_uri = sim.vhd_uri(original, d["name"])
            disk.primary_account_id = ids.resource_id(self.sid, self.group, arm.STORAGE, original)
            disk.recovery_disk_uri = sim.vhd_uri(recovery, d["name"])
            disk.recovery_account_id = ids.resource_id(self.sid, self.rec_group, arm.STORAGE, recovery)
        return disk

    def _item_encryption(self, disk: ItemDisk) -> None:
        """What the item shows: both sides' disk encryption sets; the ADE keys replication uses (the recovery
        region's copies, which enable replication named as the target key vaults)."""
        primary, recovery = self.keys.get("primary", {}), self.keys.get("recovery", {})
        disk.primary_des_id = primary.get("diskEncryptionSetId")
        disk.recovery_des_id = recovery.get("diskEncryptionSetId")
        settings = recovery.get("encryptionSettingsCollection", {}).get("encryptionSettings") or [{}]
        dek, kek = settings[0].get("diskEncryptionKey") or {}, settings[0].get("keyEncryptionKey") or {}
        disk.ade_secret, disk.ade_vault_id = dek.get("secretUrl"), (dek.get("sourceVault") or {}).get("id")
        disk.ade_kek, disk.ade_kek_vault_id = kek.get("keyUrl"), (kek.get("sourceVault") or {}).get("id")

    def _protected(self, item: Item, disks: list[dict[str, Any]]) -> None:
        item.protection_state = item.protection_state_description = "Protected"
        item.active_location = "Primary"
        item.allowed_operations = list(PROTECTED_OPERATIONS)
        item.protected_at = -48 * 3600.0
        if item.unmanaged:
            return
        for disk, d in zip(item.disks, disks, strict=True):
            replica = self.p._put(
                arm.make_disk(
                    self.sid,
                    self.rec_group,
                    sim.replica_disk_name(d["name"]),
                    self.recovery.location,
                    size_gib=d["size"],
                    sku=d["sku"],
                )
            )
            disk.recovery_replica_disk_id = replica.id

    def _failed_over(
        self,
        item: Item,
        disks: list[dict[str, Any]],
        avset: str | None,
        ppg: str | None,
        recovery_vnet_id: str | None,
        ip: str,
    ) -> None:
        p, sid = self.p, self.sid
        sea_avset = (
            p._put(arm.make_avset(sid, self.rec_group, f"{avset}-asr", self.recovery.location)).id if avset else None
        )
        sea_ppg = p._put(arm.make_ppg(sid, self.rec_group, f"{ppg}-asr", self.recovery.location)).id if ppg else None
        sea_vm_id = ids.resource_id(sid, self.rec_group, arm.VM, self.name)
        sea_vnet = p.world.get(recovery_vnet_id)
        sea_nic = self._nic(self.rec_group, f"{self.name}-nic-asr", self.recovery.location, sea_vnet, ip)
        vm_disks = self._materialise(
            disks, self.rec_group, self.recovery.location, self._vhd_accounts()[1], sea_vm_id, side="recovery"
        )
        scale_set = self.spec.get("scale_set")
        sea_vmss = (
            p._put(arm.make_scale_set(sid, self.rec_group, f"{scale_set}-asr", self.recovery.location)).id
            if scale_set
            else None
        )
        item.scale_set_id = sea_vmss
        p._put(
            arm.make_vm(
                sid,
                self.rec_group,
                self.name,
                self.recovery.location,
                vm_guid=guid(p.rng),
                size=self.size,
                os_type=self.os_type,
                disks=vm_disks,
                nic_ids=[sea_nic],
                avset_id=sea_avset,
                ppg_id=sea_ppg,
                scale_set_id=sea_vmss,
            )
        )
        for disk in item.disks:
            if not item.unmanaged:
                disk.recovery_target_disk_id = ids.resource_id(sid, self.rec_group, arm.DISK, disk.name)
        item.running_vm_id = sea_vm_id
        item.recovery_avset_id = sea_avset
        item.recovery_ppg_id = sea_ppg
        item.last_failover_at = -self.hours * 3600.0
        if self.state == "failover_committed":
            item.protection_state = "UnplannedFailoverCommitted"
            item.protection_state_description = "Failover committed"
            item.allowed_operations = list(COMMITTED_OPERATIONS)
        else:
            item.protection_state = "UnplannedFailoverCommitPendingStatesBegin"
            item.protection_state_description = "Failover completed"
            item.allowed_operations = list(UNCOMMITTED_OPERATIONS)
