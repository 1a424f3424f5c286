"""Renders the kustomizations of deploy/kubernetes without kustomize, for machines that lack ``kubectl``.

Only what those kustomizations use: ``resources`` (files and directories), ``namespace``, ``labels`` (on
metadata, not selectors), ``images`` and strategic-merge ``patches`` (maps merged, lists of named items merged
by name). A test renders with ``kubectl kustomize`` too, when it is there, and requires the same result.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"}
KNOWN_KEYS = {"apiVersion", "kind", "namespace", "labels", "resources", "images", "patches"}


def _merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = _merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and all(isinstance(i, dict) and "name" in i for i in patch):
        merged_list = [dict(item) for item in base]
        for item in patch:
            at = next((n for n, old in enumerate(merged_list) if old.get("name") == item["name"]), None)
            if at is None:
                merged_list.append(copy.deepcopy(item))
            else:
                merged_list[at] = _merge(merged_list[at], item)
        return merged_list
    return copy.deepcopy(patch)


def _set_images(node: Any, images: list[dict[str, str]]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"containers", "initContainers"} and isinstance(value, list):
                for container in value:
                    container["image"] = _image(container["image"], images)
            else:
                _set_images(value, images)
    elif isinstance(node, list):
        for item in node:
            _set_images(item, images)


def _image(reference: str, images: list[dict[str, str]]) -> str:
    name, _, tag = reference.partition(":") if "@" not in reference else (reference, "", "")
    for rule in images:
        if rule["name"] == name:
            new_name = rule.get("newName", name)
            if "digest" in rule:
                return f"{new_name}@{rule['digest']}"
            return f"{new_name}:{rule['newTag']}" if "newTag" in rule else (f"{new_name}:{tag}" if tag else new_name)
    return reference


def render(directory: Path) -> list[dict[str, Any]]:
    """The resources a kustomization directory produces."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - KNOWN_KEYS
    if unknown:
        raise ValueError(f"kustomize_lite does not know {sorted(unknown)} ({directory})")
    resources: list[dict[str, Any]] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            resources += render(path)
        else:
            resources += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for patch_entry in kustomization.get("patches", []):
        patch = yaml.safe_load((directory / patch_entry["path"]).read_text())
        for at, resource in enumerate(resources):
            if (resource["kind"], resource["metadata"]["name"]) == (patch["kind"], patch["metadata"]["name"]):
                resources[at] = _merge(resource, patch)
    for group in kustomization.get("labels", []):
        if group.get("includeSelectors") or group.get("includeTemplates"):
            raise ValueError("kustomize_lite only sets labels on metadata")
        for resource in resources:
            resource["metadata"].setdefault("labels", {}).update(group["pairs"])
    if "namespace" in kustomization:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = kustomization["namespace"]
    if "images" in kustomization:
        for resource in resources:
            _set_images(resource, kustomization["images"])
    return resources
