"""The service's own Azure identity failing is permanent and says so, through the real SDK against the
emulator: a 403 on switch protection fails the VM with azure_forbidden naming the action and scope as ARM
states them; every token refused fails it with azure_auth_failed; the API answers 502 problems (never 503);
/readyz reports an identity whose credential raises as failing."""

from __future__ import annotations

from azure.core.exceptions import ClientAuthenticationError

from app.cloud.identity import IdentityCheck
from tests.api.worker_support import accept, make_due, row, step
from tests.drive import drive

SWITCH_ACTION = (
    "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/switchprotection/action"
)


def test_a_403_on_switch_protection_fails_the_vm_with_azure_forbidden_naming_the_action(api, container, emulator, demo):
    item = demo["committed"][0]
    job_id = accept(api, item)
    drive(container, until_state="submitting", job_id=job_id)
    emulator.put("/_emulator/rbac", json={"deny": [SWITCH_ACTION]}).raise_for_status()

    make_due(container, job_id)
    step(container, job_id)

    job = row(container, job_id)
    assert (job.state, job.error_code, job.transient_failures) == ("failed", "azure_forbidden", 0)
    error = api.get(f"/jobs/{job_id}").json()["error"]
    assert f"'{SWITCH_ACTION}'" in error["message"]
    details = error["details"]
    assert details["action"] == SWITCH_ACTION
    assert details["scope"].endswith("/replicationProtectionContainers/" + item["container"].split("/")[-1])
    assert details["client_id"]
    assert details["object_id"]


def test_every_token_refused_fails_the_vm_with_azure_auth_failed_not_a_backoff(api, container, emulator, demo):
    item = demo["committed"][0]
    job_id = accept(api, item)
    drive(container, until_state="reprotecting", job_id=job_id)
    emulator.put("/_emulator/auth", json={"tokens_valid": False}).raise_for_status()

    make_due(container, job_id)
    step(container, job_id)

    job = row(container, job_id)
    assert (job.state, job.error_code, job.transient_failures) == ("failed", "azure_auth_failed", 0)
    error = api.get(f"/jobs/{job_id}").json()["error"]
    assert error["message"].startswith("The service's identity cannot sign in: ")
    assert "InvalidAuthenticationToken" in error["message"]


def test_the_api_answers_a_refused_identity_with_a_502_problem_not_a_503(api, emulator, demo):
    emulator.put("/_emulator/auth", json={"tokens_valid": False}).raise_for_status()

    answer = api.post("/reprotect", json={"vms": [{"item_id": demo["committed"][0]["id"]}]})

    assert answer.status_code == 502, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "retry-after" not in answer.headers
    problem = answer.json()
    assert problem["code"] == "azure_auth_failed"
    assert problem["detail"].startswith("The service's identity cannot sign in: ")


ITEMS_LIST = "Microsoft.RecoveryServices/vaults/replicationProtectedItems/read"
ITEM_READ = "Microsoft.RecoveryServices/vaults/replicationFabrics/*/read"


def test_a_denied_item_list_at_intake_names_the_vm_action_and_scope(api, emulator, demo):
    # Intake reads the vault's items by the list (ReplicationProtectedItems_List, the vault-level action).
    emulator.put("/_emulator/rbac", json={"deny": [ITEMS_LIST, ITEM_READ]}).raise_for_status()

    answer = api.post("/reprotect", json={"vms": [{"item_id": demo["committed"][0]["id"]}]})

    assert answer.status_code == 422, answer.text
    (vm,) = answer.json()["vms"]
    assert vm["code"] == "azure_forbidden"
    assert vm["asr_error"]["action"] == ITEMS_LIST


def test_a_denied_item_read_with_the_list_allowed_fails_the_job_before_switch_protection(
    api, container, emulator, demo
):
    # Whether Azure lets an identity list a vault's items without reading them one by one is not public: with
    # only the per-item read denied, intake (by the list) accepts, and the read of the item that precedes switch
    # protection fails the job with the action ARM named, before anything is sent.
    emulator.put("/_emulator/rbac", json={"deny": [ITEM_READ]}).raise_for_status()
    job_id = accept(api, demo["committed"][0])

    drive(container, job_id=job_id)

    job = row(container, job_id)
    assert (job.state, job.error_code) == ("failed", "azure_forbidden")
    assert job.switch_sent_at is None
    action = api.get(f"/jobs/{job_id}").json()["error"]["details"]["action"]
    assert action.startswith("Microsoft.RecoveryServices/vaults/replicationFabrics/")
    assert action.endswith("/read")


class _Refusing:
    def get_token(self, *scopes, **kwargs):
        raise ClientAuthenticationError(message="AADSTS700016: Application not found in the directory.")


def test_readyz_reports_an_identity_that_cannot_sign_in_as_failing(api, container, monkeypatch):
    monkeypatch.setattr(container, "identity", IdentityCheck(_Refusing()))

    answer = api.get("/readyz")

    assert answer.status_code == 503
    body = answer.json()
    assert body["checks"]["azure_identity"] == "failing"
    assert "AADSTS700016" in body["azure_identity"]["detail"]


def test_readyz_in_emulator_mode_reports_the_static_token(api):
    answer = api.get("/readyz")
    assert answer.status_code == 200, answer.text
    assert answer.json()["azure_identity"] == {"status": "ok", "detail": "static token (emulator)"}
