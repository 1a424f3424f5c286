"""``reprotect campaigns …`` against the real API over HTTP (uvicorn on a thread, the test database, the emulator):
create from flags or a file (dry run and real), list and show as JSON (the API's answer) and as tables, approve
the drill's gate, a refusal as one line with its code, and ``watch``: never past a gate unless told to."""

from __future__ import annotations

import io
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from rich.console import Console
from sqlalchemy.orm.exc import StaleDataError
from typer.testing import CliRunner

from app.api.app import create_app
from app.campaign import engine
from app.db import utcnow
from app.job import service as jobs
from cli.campaign_watch import CampaignLines, follow
from cli.main import app as cli_app
from cli.problems import EXIT_NOT_ALL_DONE, EXIT_PROBLEM
from tests.api.conftest import make_key
from tests.drive import drive_campaign
from tests.emulator.support import serve_in_thread

WAITING = {"waiting_gate", "stopped", "completed", "aborted"}
OVER = {"stopped", "completed", "aborted"}


@pytest.fixture
def served(container) -> Iterator[dict[str, str]]:
    """The API served over real HTTP; the environment the CLI reads its URL and key from."""
    with serve_in_thread(create_app(container)) as url:
        yield {"REPROTECT_API_URL": url, "REPROTECT_API_KEY": make_key(container), "COLUMNS": "250"}


def run(env: dict[str, str], *args: str) -> Any:
    """``reprotect ARGS`` as a user would type it (stdout and stderr kept apart)."""
    return CliRunner().invoke(cli_app, list(args), env=env)


def _flags(demo, items, waves) -> list[str]:
    args = ["--test-network", f"eastasia={demo['test_network']}", "--name", "home"]
    for item, wave in zip(items, waves, strict=True):
        args += ["--vm", f"{demo['vault_id']}/{item['vm_name']}:{wave}"]
    return args


def _create(served, demo, items, *extra: str) -> dict[str, Any]:
    created = run(served, "campaigns", "create", *_flags(demo, items, [1] * len(items)), *extra, "-o", "json")
    assert created.exit_code == 0, created.stderr
    return dict(json.loads(created.stdout))


def _without_eta(campaign: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in campaign.items() if key != "eta_at"}  # computed from now at each read


@contextmanager
def driving(container) -> Iterator[None]:
    """The scheduler's and worker's loops on a thread while the CLI runs: campaigns move as it watches them."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                engine.sweep(container, now=utcnow())
                for due_id in jobs.sweep(container, now=utcnow(), redispatch_after=0):
                    jobs.advance(container, job_id=due_id, worker="test-worker")
            except StaleDataError:  # it raced the CLI's own call on one row: as a Celery task would, try again
                pass
            stop.wait(0.05)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def test_a_dry_run_from_flags_shows_the_plan_in_waves_and_creates_nothing(api, demo, served):
    first, second = demo["committed"][:2]
    args = ["campaigns", "create", *_flags(demo, [first, second], [1, 2]), "--dry-run"]

    table = run(served, *args)
    as_json = run(served, *args, "-o", "json")

    assert table.exit_code == 0, table.stderr
    for words in ("plan: home (2 VMs)", "failover wave 1", "failover wave 2", "manual", "estimated"):
        assert words in table.stdout, table.stdout
    assert as_json.exit_code == 0, as_json.stderr
    plan = json.loads(as_json.stdout)
    assert [(s["phase"], s["wave"], s["vms"]) for s in plan["steps"]][3:5] == [
        ("failover", 1, [first["vm_name"]]),
        ("failover", 2, [second["vm_name"]]),
    ]
    assert plan["refused"] == []
    assert api.get("/campaigns").json()["items"] == []


def test_a_dry_run_exits_2_and_names_the_vms_azure_would_refuse(demo, served):
    moved = demo["moved"]

    result = run(served, "campaigns", "create", *_flags(demo, [demo["committed"][0], moved], [1, 1]), "--dry-run")

    assert result.exit_code == EXIT_NOT_ALL_DONE
    assert "refused now" in result.stdout
    assert moved["vm_name"] in result.stdout
    assert "source_vm_moved" in result.stdout


def test_a_campaign_created_from_a_file_is_listed_and_shown_as_the_api_answers(api, demo, served, tmp_path):
    item = demo["committed"][0]
    body = {"name": "from a file", "vms": [{"vault_id": demo["vault_id"], "vm_name": item["vm_name"]}], "drill": False}
    path = tmp_path / "campaign.json"
    path.write_text(json.dumps(body))

    created = run(served, "campaigns", "create", "--file", str(path))
    campaign = api.get("/campaigns").json()["items"][0]
    listed = run(served, "campaigns", "list", "-o", "json")
    table = run(served, "campaigns", "list", "--state", "running")
    shown = run(served, "campaigns", "show", campaign["id"], "-o", "json")
    page = run(served, "campaigns", "show", campaign["id"])

    assert created.exit_code == 0, created.stderr
    assert f"campaign {campaign['id']} created: 1 VM(s)" in created.stdout
    assert f"reprotect campaigns watch {campaign['id']}" in created.stdout
    assert (campaign["name"], campaign["vm_count"]) == ("from a file", 1)
    assert listed.exit_code == 0, listed.stderr
    assert json.loads(listed.stdout) == api.get("/campaigns").json()
    assert table.exit_code == 0, table.stderr
    assert campaign["id"] in table.stdout  # whole, to paste into `campaigns show`
    assert "1 campaign(s)" in table.stdout
    assert shown.exit_code == 0, shown.stderr
    assert _without_eta(json.loads(shown.stdout)) == _without_eta(api.get(f"/campaigns/{campaign['id']}").json())
    assert page.exit_code == 0, page.stderr
    for words in ("from a file", "reprotect", "failover wave 1", "reprotect_back", item["vm_name"]):
        assert words in page.stdout, page.stdout


def test_the_drill_gate_is_approved_with_a_reason_and_a_second_approval_is_one_line_with_its_code(
    api, container, demo, served
):
    item = demo["committed"][0]
    campaign = _create(served, demo, [item])
    assert drive_campaign(container, uuid.UUID(campaign["id"]), until=WAITING) == "waiting_gate"

    waiting = run(served, "campaigns", "show", campaign["id"])
    approved = run(served, "campaigns", "approve", campaign["id"], "--reason", "app team checked the test VM")
    again = run(served, "campaigns", "approve", campaign["id"], "--reason", "twice")

    assert "waits for an operator" in waiting.stdout
    assert f"reprotect campaigns approve {campaign['id']} --reason" in waiting.stdout
    assert approved.exit_code == 0, approved.stderr
    assert approved.stdout.startswith(f"campaign {campaign['id']}: gate approved; now running")
    gate = api.get(f"/campaigns/{campaign['id']}").json()["steps"][1]["gate"]
    assert (gate["state"], gate["reason"]) == ("passed", "app team checked the test VM")
    assert again.exit_code == EXIT_PROBLEM
    assert again.stdout == ""
    [line] = again.stderr.splitlines()
    assert line.startswith(f"error: campaign_state_conflict: Campaign {campaign['id']} is running;"), line
    assert "Traceback" not in again.output


def test_a_second_campaign_over_the_same_vm_is_refused_with_the_vm_and_its_code(demo, served):
    item = demo["committed"][0]
    _create(served, demo, [item])

    refused = run(served, "campaigns", "create", *_flags(demo, [item], [1]))

    assert refused.exit_code == EXIT_PROBLEM
    first, *per_vm = refused.stderr.splitlines()
    assert first.startswith("error: prerequisites_failed: ")
    assert per_vm == [f"  {item['vm_name']}: vm_in_campaign: " + per_vm[0].split("vm_in_campaign: ", 1)[1]]
    assert refused.stdout == ""


def test_a_vm_flag_without_a_vault_is_a_usage_error(served):
    result = run(served, "campaigns", "create", "--vm", "web-01:1", "--no-drill")

    assert result.exit_code == 2  # Click's usage error
    assert "VAULT_ID/VM_NAME[:WAVE]" in result.output


class Recording(CampaignLines):
    """The watch's lines kept in a list; ``gate_seen`` set once it has shown a campaign waiting at a gate."""

    def __init__(self) -> None:
        super().__init__(Console(file=io.StringIO()))
        self.lines: list[str] = []
        self.gate_seen = threading.Event()

    def say(self, text: str) -> None:
        self.lines.append(text)

    def show(self, campaign: dict[str, Any]) -> None:
        super().show(campaign)
        if campaign["state"] == "waiting_gate":
            self.gate_seen.set()


def test_watch_without_approve_gates_says_what_to_do_at_the_gate_and_never_passes_it(api, container, demo, served):
    item = demo["committed"][0]
    campaign = _create(served, demo, [item])
    cid = campaign["id"]
    assert drive_campaign(container, uuid.UUID(cid), until=WAITING) == "waiting_gate"
    view = Recording()
    result: dict[str, Any] = {}
    headers = {"Authorization": f"Bearer {served['REPROTECT_API_KEY']}"}

    def watch() -> None:
        try:
            with httpx.Client(base_url=served["REPROTECT_API_URL"], headers=headers, timeout=60) as http:
                result.update(follow(http, cid, view=view, poll=0.1))
        except Exception as exc:  # shown by the assertion below rather than lost with the thread
            result["raised"] = repr(exc)

    watcher = threading.Thread(target=watch, daemon=True)
    with driving(container):
        watcher.start()
        assert view.gate_seen.wait(timeout=30)
        for _ in range(20):  # the watch keeps looking; the gate stays shut
            assert api.get(f"/campaigns/{cid}").json()["state"] == "waiting_gate"
            threading.Event().wait(0.1)
        _abort(api, cid)
        watcher.join(timeout=300)  # the drill's cleanup runs first: a bound for a stuck watch, not a timing

    assert result.get("state") == "aborted", (result, view.lines[-5:])
    assert _step_gate(result, "drill")["state"] == "pending"  # nobody approved it
    assert any(line.startswith("next: the gate after drill waits for an operator") for line in view.lines)


def _abort(api, cid: str) -> None:
    """Abort, again while the scheduler's loop moved the campaign at the same moment (a 409 to try again)."""
    for _ in range(50):
        answer = api.post(f"/campaigns/{cid}/abort", json={"reason": "watched, not approved"})
        if answer.status_code != 409:
            break
    assert answer.status_code == 200, answer.text


def _step_gate(campaign: dict[str, Any], phase: str) -> dict[str, Any]:
    return dict(next(s for s in campaign["steps"] if s["phase"] == phase)["gate"])


def test_watch_with_approve_gates_approves_the_drill_gate_and_exits_0_once_home(api, container, demo, served):
    first, second = demo["committed"][:2]
    created = run(served, "campaigns", "create", *_flags(demo, [first, second], [1, 2]), "-o", "json")
    cid = json.loads(created.stdout)["id"]

    with driving(container):
        watched = run(served, "campaigns", "watch", cid, "--approve-gates", "--reason", "trusted", "--poll", "0.2")

    assert watched.exit_code == 0, watched.stdout + watched.stderr
    assert "approving the gate after drill (--approve-gates)" in watched.stdout
    for words in ("drill (step 2/7)", "failover wave 1 (step 4/7)", "failover wave 2 (step 5/7)", "completed"):
        assert words in watched.stdout, watched.stdout
    assert "\x1b[" not in watched.stdout
    final = api.get(f"/campaigns/{cid}").json()
    assert final["state"] == "completed"
    assert _step_gate(final, "drill")["reason"] == "trusted"


def test_watch_exits_2_on_a_stopped_campaign_with_the_reason_and_what_to_do(api, container, emulator, demo, served):
    item = demo["committed"][0]
    emulator.post(
        "/_emulator/faults/job-failure",
        json={"vm": item["vm_name"], "operation": "UnplannedFailover", "code": "150097", "times": 1},
    ).raise_for_status()
    cid = _create(served, demo, [item], "--no-drill")["id"]
    assert drive_campaign(container, uuid.UUID(cid), until=OVER) == "stopped"

    watched = run(served, "campaigns", "watch", cid)
    as_json = run(served, "campaigns", "watch", cid, "-o", "json")

    assert watched.exit_code == EXIT_NOT_ALL_DONE
    assert f"next: stopped: failover wave 1: 1 VM(s) failed or were cancelled ({item['vm_name']})" in watched.stdout
    assert f"reprotect campaigns retry {cid} --vm NAME" in watched.stdout
    assert as_json.exit_code == EXIT_NOT_ALL_DONE
    assert _without_eta(json.loads(as_json.stdout)) == _without_eta(api.get(f"/campaigns/{cid}").json())
