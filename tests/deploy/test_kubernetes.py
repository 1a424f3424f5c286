"""The Kubernetes manifests (deploy/kubernetes): rendered like kustomize, valid against the Kubernetes schemas
(kubernetes-validate, offline, strict), every REPROTECT_ variable they set read by the settings, and the
properties the deployment relies on (one scheduler, probes, budgets, autoscaling, network, identity)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.kustomize_lite import render
from tests.deploy.locks import ROOT
from tests.deploy.settings_env import unknown_settings

KUBE = ROOT / "deploy" / "kubernetes"
TARGETS = {"base": KUBE / "base", "emulator-demo": KUBE / "overlays" / "emulator-demo"}
Resource = dict[str, Any]


def _by_key(resources: list[Resource]) -> dict[tuple[str, str], Resource]:
    return {(r["kind"], r["metadata"]["name"]): r for r in resources}


RENDERED = {name: _by_key(render(path)) for name, path in TARGETS.items()}
BASE = RENDERED["base"]
DEMO = RENDERED["emulator-demo"]


def _pod_spec(resource: Resource) -> dict[str, Any]:
    spec: dict[str, Any] = resource["spec"]["template"]["spec"]
    return spec


def _workloads(rendered: dict[tuple[str, str], Resource]) -> list[Resource]:
    return [r for (kind, _), r in rendered.items() if kind in {"Deployment", "Job"}]


def _ours(rendered: dict[tuple[str, str], Resource]) -> list[Resource]:
    return [r for r in _workloads(rendered) if r["metadata"]["name"].startswith("reprotect-")]


@pytest.mark.parametrize("target", TARGETS)
def test_the_lite_rendering_is_kustomizes(target: str) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the manifests are checked on kustomize_lite's rendering alone")
    out = subprocess.run([kubectl, "kustomize", str(TARGETS[target])], capture_output=True, text=True, check=True)
    assert _by_key([doc for doc in yaml.safe_load_all(out.stdout) if doc]) == RENDERED[target]


@pytest.mark.parametrize("target", TARGETS)
def test_every_resource_is_valid_kubernetes(target: str) -> None:
    version = kubernetes_validate.latest_version()
    errors = []
    for key, resource in RENDERED[target].items():
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as exc:
            errors.append(f"{key}: {exc}")
    assert errors == []


def _set_env_names(rendered: dict[tuple[str, str], Resource]) -> set[str]:
    names = set()
    config_maps = {name: r.get("data", {}) for (kind, name), r in rendered.items() if kind == "ConfigMap"}
    for workload in _workloads(rendered):
        for container in _pod_spec(workload)["containers"]:
            names |= {env["name"] for env in container.get("env", [])}
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    names |= set(config_maps[source["configMapRef"]["name"]])
    return names


@pytest.mark.parametrize("target", TARGETS)
def test_every_variable_set_is_a_setting(target: str) -> None:
    names = _set_env_names(RENDERED[target])
    assert "REPROTECT_DATABASE__URL" in names
    assert unknown_settings(names) == []


def test_the_demo_secret_has_every_key_the_workloads_read() -> None:
    keys = {
        env["valueFrom"]["secretKeyRef"]["key"]
        for workload in _ours(DEMO)
        for container in _pod_spec(workload)["containers"]
        for env in container.get("env", [])
        if "secretKeyRef" in env.get("valueFrom", {})
    }
    assert keys
    assert keys <= set(DEMO[("Secret", "reprotect-secrets")]["stringData"])


def test_the_key_vault_option_syncs_every_key_the_workloads_read() -> None:
    spc = yaml.safe_load((KUBE / "optional" / "keyvault-secretproviderclass.yaml").read_text())
    synced = next(s for s in spc["spec"]["secretObjects"] if s["secretName"] == "reprotect-secrets")
    assert {item["key"] for item in synced["data"]} == set(DEMO[("Secret", "reprotect-secrets")]["stringData"])


def test_one_scheduler_replaced_not_rolled() -> None:
    scheduler = BASE[("Deployment", "reprotect-scheduler")]
    assert scheduler["spec"]["replicas"] == 1
    assert scheduler["spec"]["strategy"]["type"] == "Recreate"
    assert ("HorizontalPodAutoscaler", "reprotect-scheduler") not in BASE


def test_the_api_is_live_on_healthz_and_ready_on_readyz() -> None:
    container = _pod_spec(BASE[("Deployment", "reprotect-api")])["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


@pytest.mark.parametrize("process", ["worker", "scheduler"])
def test_worker_and_scheduler_are_live_on_their_own_check(process: str) -> None:
    container = _pod_spec(BASE[("Deployment", f"reprotect-{process}")])["containers"][0]
    assert container["livenessProbe"]["exec"]["command"][:4] == ["python", "-m", "cli.healthcheck", process]


def test_the_migration_is_a_job_of_the_same_image() -> None:
    job = BASE[("Job", "reprotect-migrate")]
    container = _pod_spec(job)["containers"][0]
    assert container["args"] == ["migrate"]
    assert container["image"] == _pod_spec(BASE[("Deployment", "reprotect-api")])["containers"][0]["image"]


@pytest.mark.parametrize("target", TARGETS)
def test_every_container_has_requests_a_memory_limit_and_runs_locked_down(target: str) -> None:
    faults = []
    for workload in _workloads(RENDERED[target]):
        pod = _pod_spec(workload)
        for container in pod["containers"]:
            where = f"{workload['metadata']['name']}/{container['name']}"
            resources = container.get("resources", {})
            if not {"cpu", "memory"} <= set(resources.get("requests", {})) or "memory" not in resources.get(
                "limits", {}
            ):
                faults.append(f"{where}: requests cpu+memory and a memory limit")
            security = container.get("securityContext", {})
            if security.get("allowPrivilegeEscalation") is not False or security["capabilities"]["drop"] != ["ALL"]:
                faults.append(f"{where}: no privilege escalation, no capabilities")
        if pod["securityContext"].get("runAsNonRoot") is not True:
            faults.append(f"{workload['metadata']['name']}: runAsNonRoot")
    assert faults == []


def _selects(selector: dict[str, str], workload: Resource) -> bool:
    labels = workload["spec"]["template"]["metadata"]["labels"]
    return all(labels.get(key) == value for key, value in selector.items())


@pytest.mark.parametrize("component", ["api", "worker"])
def test_api_and_worker_have_a_disruption_budget_and_an_autoscaler(component: str) -> None:
    deployment = BASE[("Deployment", f"reprotect-{component}")]
    budgets = [r for (kind, _), r in BASE.items() if kind == "PodDisruptionBudget"]
    assert [b for b in budgets if _selects(b["spec"]["selector"]["matchLabels"], deployment)]
    hpa = BASE[("HorizontalPodAutoscaler", f"reprotect-{component}")]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": f"reprotect-{component}",
    }
    assert hpa["spec"]["minReplicas"] >= 2


def test_egress_is_dns_https_postgres_and_redis_only() -> None:
    policies = [r for (kind, _), r in BASE.items() if kind == "NetworkPolicy"]
    api = BASE[("Deployment", "reprotect-api")]
    applying = [p for p in policies if _selects(p["spec"]["podSelector"]["matchLabels"], api)]
    assert any(p["spec"]["policyTypes"] == ["Ingress", "Egress"] and "egress" not in p["spec"] for p in applying)
    ports = {
        (port["protocol"], port["port"])
        for policy in applying
        for rule in policy["spec"].get("egress", [])
        for port in rule["ports"]
    }
    assert ports == {("UDP", 53), ("TCP", 53), ("TCP", 443), ("TCP", 5432), ("TCP", 6379)}


@pytest.mark.parametrize("component", ["api", "worker"])
def test_processes_that_call_azure_use_workload_identity(component: str) -> None:
    deployment = BASE[("Deployment", f"reprotect-{component}")]
    assert deployment["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    account = BASE[("ServiceAccount", _pod_spec(deployment)["serviceAccountName"])]
    assert account["metadata"]["annotations"]["azure.workload.identity/client-id"]


def test_the_scheduler_gets_no_azure_identity() -> None:
    """Beat only rings the sweeps; the workers run them."""
    labels = BASE[("Deployment", "reprotect-scheduler")]["spec"]["template"]["metadata"]["labels"]
    assert "azure.workload.identity/use" not in labels


def test_the_demo_sends_azure_calls_to_the_emulator_it_runs() -> None:
    config = DEMO[("ConfigMap", "reprotect-config")]["data"]
    assert config["REPROTECT_AZURE__MODE"] == "emulator"
    service = config["REPROTECT_AZURE__ENDPOINT"].split("//")[1].split(":")[0]
    assert ("Service", service) in DEMO
    emulator_image = _pod_spec(DEMO[("Deployment", "reprotect-emulator")])["containers"][0]["image"]
    assert emulator_image.startswith("reprotect-emulator")
    assert BASE[("ConfigMap", "reprotect-config")]["data"]["REPROTECT_AZURE__MODE"] == "azure"


def test_the_kustomizations_only_use_what_the_lite_renderer_knows() -> None:
    for path in KUBE.rglob("kustomization.yaml"):
        render(Path(path).parent)  # raises on an unknown field


def _environment(rendered: dict[tuple[str, str], Resource], workload: Resource, secrets: dict[str, str]) -> dict:
    """A container's environment as the cluster would give it: ConfigMap entries, then its own ``env``."""
    config_maps = {name: r.get("data", {}) for (kind, name), r in rendered.items() if kind == "ConfigMap"}
    container = _pod_spec(workload)["containers"][0]  # the service's own (a sidecar may follow)
    environ: dict[str, str] = {}
    for source in container.get("envFrom", []):
        environ |= config_maps[source["configMapRef"]["name"]]
    for env in container.get("env", []):
        ref = env.get("valueFrom", {}).get("secretKeyRef")
        environ[env["name"]] = secrets[ref["key"]] if ref else env["value"]
    return environ


PRODUCTION_SECRETS = {  # what the platform's Secret would hold (values of the right shape)
    "database-url": "postgresql+psycopg://reprotect:pw@db.internal:5432/reprotect",
    "broker-url": "redis://redis.internal:6379/0",
    "rate-limit-url": "redis://redis.internal:6379/1",
    "secrets-keys": "k1:" + "A" * 43 + "=",
}


def _service_workloads(rendered: dict[tuple[str, str], Resource]) -> list[Resource]:
    """api, worker, scheduler and the migration: the workloads that run the service (not the emulator)."""
    found = [w for w in _ours(rendered) if _pod_spec(w)["containers"][0].get("envFrom")]
    assert len(found) == 4
    return found


def _check_as_started(workload: Resource, environ: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The check ``reprotect api|worker|scheduler|migrate`` runs first, in exactly this environment."""
    from cli.configuration import problems_of

    for name in [n for n in os.environ if n.startswith("REPROTECT_")]:
        monkeypatch.delenv(name)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    migrate = _pod_spec(workload)["containers"][0].get("args") == ["migrate"]
    return problems_of(os.environ, uses_broker=not migrate)[1]


def test_the_base_passes_the_production_configuration_check(monkeypatch: pytest.MonkeyPatch) -> None:
    for workload in _service_workloads(BASE):
        environ = _environment(BASE, workload, PRODUCTION_SECRETS)
        assert "REPROTECT_ENV" not in environ  # production: the default
        assert _check_as_started(workload, environ, monkeypatch) == [], workload["metadata"]["name"]


def test_the_demo_overlay_runs_as_demo_with_its_own_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = next(r for (kind, _), r in DEMO.items() if kind == "Secret")["stringData"]
    for workload in _service_workloads(DEMO):
        environ = _environment(DEMO, workload, secret)
        assert environ["REPROTECT_ENV"] == "demo"
        assert _check_as_started(workload, environ, monkeypatch) == [], workload["metadata"]["name"]


def test_service_pods_get_no_service_link_variables() -> None:
    for workload in _service_workloads(BASE):
        assert _pod_spec(workload)["enableServiceLinks"] is False, workload["metadata"]["name"]


def test_the_workers_metrics_are_served_by_a_sidecar_sharing_their_directory() -> None:
    worker = BASE[("Deployment", "reprotect-worker")]
    containers = {c["name"]: c for c in _pod_spec(worker)["containers"]}
    directory = {e["name"]: e.get("value") for e in containers["worker"]["env"]}["PROMETHEUS_MULTIPROC_DIR"]
    sidecar = containers["metrics"]
    assert sidecar["command"][:3] == ["python", "-m", "app.metrics.exporter"]
    assert {e["name"]: e["value"] for e in sidecar["env"]}["PROMETHEUS_MULTIPROC_DIR"] == directory
    mounts = {c: {m["mountPath"]: m["name"] for m in containers[c]["volumeMounts"]} for c in ("worker", "metrics")}
    assert mounts["worker"][directory] == mounts["metrics"][directory]  # the same volume
    port = worker["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"]
    assert [p["containerPort"] for p in sidecar["ports"]] == [int(port)]
    allowed = [
        rule
        for (kind, _), policy in BASE.items()
        if kind == "NetworkPolicy"
        and policy["spec"]["podSelector"]["matchLabels"].get("app.kubernetes.io/component") == "worker"
        for rule in policy["spec"].get("ingress", [])
    ]
    assert any(p["port"] == int(port) for rule in allowed for p in rule["ports"])
