"""The keys an encrypted VM needs in the region it goes back to, found before anything is sent.

Azure Site Recovery replicates encrypted disks only with keys in the replica's region: a disk encryption
set (customer-managed keys) in the target region whose key vault is in that same region, and for Azure
Disk Encryption the secret (and key encryption key) copied to a key vault of the target region (docs:
"Replicate machines with Customer-Managed Keys (CMK) enabled disks", "Replicate Azure Disk
Encryption-enabled virtual machines to another Azure region"). On the way back the target region is the
original one, so the keys are the original disk's: Compute's ``encryption.diskEncryptionSetId`` and
``encryptionSettingsCollection`` of the original disk, else what Site Recovery shows on the item
(``primaryDiskEncryptionSetId``; ``secretIdentifier`` / ``dekKeyVaultArmId`` / ``keyIdentifier`` /
``kekKeyVaultArmId``). Each candidate is checked to exist in the target region; a VM whose keys are not
there is refused with ``encryption_keys_unavailable``. Unencrypted VMs cost no reads here.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.cloud.types import Cloud, DiskKeys, ManagedDisk, ReplicatedItem

ADE_COPY_SCRIPT = "https://aka.ms/ade-asr-copy-keys-code"


@dataclass(frozen=True)
class DiskEncryption:
    """What one disk's replica is encrypted with in the target region."""

    disk_encryption_set_id: str | None = None
    keys: DiskKeys | None = None


class KeysUnavailable(Exception):
    """The target region lacks a key an encrypted disk needs; the message says what to do."""


def resolve(cloud: Cloud, item: ReplicatedItem) -> dict[str, DiskEncryption]:
    """Per original disk id (lowercase): the encryption its replica gets in ``item.primary_location``."""
    if not item.encrypted:
        return {}
    found: dict[str, DiskEncryption] = {}
    for disk in item.disks:
        encryption = _disk(cloud, item, disk)
        if encryption.disk_encryption_set_id or encryption.keys:
            found[disk.disk_id.lower()] = encryption
    return found


def _disk(cloud: Cloud, item: ReplicatedItem, disk: ManagedDisk) -> DiskEncryption:
    original = cloud.get_disk(disk.disk_id) if disk.disk_id else None
    on_original = original.disk_encryption_set_id if original else None
    des_ids = [d for d in (on_original, disk.primary_disk_encryption_set_id) if d]
    ade_candidates = [k for k in ((original.ade_keys if original else None), disk.ade_keys) if k]
    vm_ade = item.vm_encryption_type.lower() not in ("", "notencrypted")
    needs_des = bool(des_ids or disk.recovery_disk_encryption_set_id)
    needs_ade = bool(ade_candidates or disk.ade_encrypted or (vm_ade and disk.disk_type == "OperatingSystem"))
    if needs_des and not des_ids:  # only the failed-over side's set is known
        raise KeysUnavailable(
            f"Disk {disk.name} is encrypted with customer-managed keys (disk encryption set "
            f"{disk.recovery_disk_encryption_set_id}) but no disk encryption set is known in {item.primary_location}. "
            f"Create one in {item.primary_location} with Get, Wrap Key and Unwrap Key access to a key vault in the "
            "same region, assign it to the original disk, then retry."
        )
    des_id = _disk_encryption_set(cloud, item, disk, des_ids[0]) if needs_des else None
    keys = _ade_keys(cloud, item, disk, ade_candidates) if needs_ade else None
    return DiskEncryption(disk_encryption_set_id=des_id, keys=keys)


def _in_target(cloud: Cloud, arm_id: str, location: str) -> str | None:
    """Why ``arm_id`` cannot serve ``location`` (missing, or elsewhere), or None when it can."""
    resource = cloud.get_resource(arm_id)
    if resource is None:
        return f"{arm_id} does not exist"
    if resource.location.replace(" ", "").lower() != location.replace(" ", "").lower():
        return f"{arm_id} is in {resource.location}"
    return None


def _disk_encryption_set(cloud: Cloud, item: ReplicatedItem, disk: ManagedDisk, des_id: str) -> str:
    target = item.primary_location
    found = cloud.get_disk_encryption_set(des_id)
    if found is None:
        why = f"the disk encryption set {des_id} does not exist"
    elif found.location.replace(" ", "").lower() != target.replace(" ", "").lower():
        why = f"the disk encryption set {des_id} is in {found.location}"
    elif found.key_vault_id and (vault_problem := _in_target(cloud, found.key_vault_id, target)):
        why = f"the key vault of disk encryption set {des_id}: {vault_problem}"
    else:
        return des_id
    raise KeysUnavailable(
        f"Disk {disk.name} is encrypted with customer-managed keys, but {why}; reprotect needs a disk encryption "
        f"set in {target} whose key vault is in {target} too. Create or restore it (with Get, Wrap Key and Unwrap "
        "Key access to its key vault), assign it to the original disk, then retry."
    )


def _ade_keys(cloud: Cloud, item: ReplicatedItem, disk: ManagedDisk, candidates: list[DiskKeys]) -> DiskKeys:
    target = item.primary_location
    problems: list[str] = []
    for keys in candidates:
        problem = _in_target(cloud, keys.secret_vault_id, target)
        if problem is None and keys.key_vault_id:
            problem = _in_target(cloud, keys.key_vault_id, target)
        if problem is None:
            return keys
        problems.append(problem)
    why = "; ".join(problems) or "Site Recovery and Compute name no disk encryption key for it"
    raise KeysUnavailable(
        f"Disk {disk.name} uses Azure Disk Encryption, but its keys are not available in {target} ({why}). "
        f"Copy the secret (and key encryption key) to a key vault in {target} ({ADE_COPY_SCRIPT}), make sure the "
        "original disk's encryption settings name them, then retry."
    )
