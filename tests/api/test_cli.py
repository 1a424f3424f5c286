"""The ``reprotect`` CLI against the real API over HTTP (uvicorn on a thread of this process, the test database
and the emulator): JSON output is the API's answer, exit codes tell failed/cancelled jobs and problems apart,
errors are one line with the problem's code, an API that is down is one line, a busy port is refused."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from app.api.app import create_app
from cli.main import app as cli_app
from cli.problems import EXIT_NOT_ALL_DONE, EXIT_PROBLEM, EXIT_UNREACHABLE
from cli.stack import free_port
from tests.api.conftest import make_key
from tests.drive import drive
from tests.emulator.support import serve_in_thread

FAIL_LATE = {"task": "ProtectReplicaTask", "code": "151195", "at_fraction": 0.5, "restartable": True, "times": 1}


@pytest.fixture
def served(container) -> Iterator[dict[str, str]]:
    """The API served over real HTTP; the environment the CLI reads its URL and key from."""
    with serve_in_thread(create_app(container)) as url:
        yield {"REPROTECT_API_URL": url, "REPROTECT_API_KEY": make_key(container), "COLUMNS": "200"}


def run(env: dict[str, str], *args: str) -> Any:
    """``reprotect ARGS`` as a user would type it (stdout and stderr kept apart)."""
    return CliRunner().invoke(cli_app, list(args), env=env)


def _submit(api, vms: list[dict[str, Any]]) -> dict[str, Any]:
    answer = api.post("/reprotect", json={"vms": [{"item_id": item["id"]} for item in vms]})
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


def _fail_late(emulator, item: dict[str, Any]) -> None:
    emulator.post("/_emulator/faults/job-failure", json={**FAIL_LATE, "vm": item["name"]}).raise_for_status()


def test_jobs_show_json_is_the_apis_answer(api, container, demo, served):
    job_id = _submit(api, demo["committed"][:1])["jobs"][0]["id"]
    drive(container)

    result = run(served, "jobs", "show", job_id, "--output", "json")

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == api.get(f"/jobs/{job_id}").json()


def test_jobs_list_json_matches_get_jobs_and_the_table_shows_whole_ids(api, container, demo, served):
    request = _submit(api, demo["committed"][:2])
    drive(container)

    listed = run(served, "jobs", "list", "--request-id", request["request_id"], "-o", "json")
    table = run(served, "jobs", "list", "--request-id", request["request_id"], "--state", "protected")

    assert listed.exit_code == 0, listed.stderr
    assert json.loads(listed.stdout) == api.get("/jobs", params={"request_id": request["request_id"]}).json()
    assert table.exit_code == 0, table.stderr
    assert all(job["id"] in table.stdout for job in request["jobs"])
    assert "2 job(s)" in table.stdout


def test_watch_exits_2_when_a_job_failed_with_plain_lines_and_the_aggregate(api, container, emulator, demo, served):
    first, second = demo["committed"][:2]
    _fail_late(emulator, first)
    request = _submit(api, [first, second])
    drive(container)

    lines = run(served, "watch", request["request_id"])
    as_json = run(served, "watch", request["request_id"], "-o", "json")
    failed_id = next(job["id"] for job in request["jobs"] if job["vm"] == first["name"])
    shown = run(served, "jobs", "show", failed_id)

    assert lines.exit_code == EXIT_NOT_ALL_DONE
    assert f"{first['name']}: failed: 151195" in lines.stdout
    assert "2/2 done: protected 1, failed 1" in lines.stdout
    assert "\x1b[" not in lines.stdout  # not a terminal: no cursor movements, no colours
    assert as_json.exit_code == EXIT_NOT_ALL_DONE
    assert json.loads(as_json.stdout) == api.get(f"/reprotect/{request['request_id']}").json()
    assert shown.exit_code == 0, shown.stderr
    assert "error 151195 (in reprotecting)" in shown.stdout, shown.stdout


def test_watch_exits_0_when_every_job_is_protected(api, container, demo, served):
    request = _submit(api, demo["committed"][:1])
    drive(container)

    result = run(served, "watch", request["request_id"])

    assert result.exit_code == 0, result.stderr
    assert "1/1 done: protected 1" in result.stdout


def test_watch_exits_2_when_a_job_was_cancelled(api, container, demo, served):
    first, second = demo["committed"][:2]
    request = _submit(api, [first, second])
    cancelled_id = next(job["id"] for job in request["jobs"] if job["vm"] == first["name"])
    assert api.post(f"/jobs/{cancelled_id}/cancel").status_code == 202  # accepted: the worker ends it
    drive(container)

    result = run(served, "watch", request["request_id"])

    assert result.exit_code == EXIT_NOT_ALL_DONE, result.stdout
    assert f"{first['name']}: cancelled" in result.stdout
    assert "2/2 done: protected 1, cancelled 1" in result.stdout


@contextmanager
def driving(container) -> Iterator[None]:
    """The worker's loop on a thread while the CLI runs: jobs advance as the CLI watches them."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            drive(container, timeout=5)
            stop.wait(0.05)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def test_submit_watch_exits_2_when_a_watched_job_failed(container, emulator, demo, served):
    first, second = demo["committed"][:2]
    _fail_late(emulator, first)
    args = ["submit", "--vault-id", demo["vault_id"], "--vm", first["name"], "--vm", second["name"]]

    with driving(container):
        result = run(served, *args)

    assert result.exit_code == EXIT_NOT_ALL_DONE, result.stderr
    assert "2/2 done: protected 1, failed 1" in result.stdout


def test_a_missing_job_is_one_line_with_its_code_and_no_traceback(served):
    missing = str(uuid.uuid4())

    result = run(served, "jobs", "show", missing)

    assert result.exit_code == EXIT_PROBLEM
    assert result.stderr.splitlines() == [f"error: job_not_found: No job {missing}."]
    assert result.stdout == ""


def test_cancel_and_retry_one_job_by_id(api, container, emulator, demo, served):
    item = demo["committed"][0]
    _fail_late(emulator, item)
    job_id = _submit(api, [item])["jobs"][0]["id"]
    drive(container)

    cancelled = run(served, "jobs", "cancel", job_id)
    retried = run(served, "jobs", "retry", job_id, "-o", "json")

    assert cancelled.exit_code == EXIT_PROBLEM  # a failed job is terminal: the API's 409, as one line
    assert cancelled.stderr.splitlines() == ["error: job_terminal: The job is already failed."]
    assert retried.exit_code == 0, retried.stderr
    assert json.loads(retried.stdout)["attempt"] == 2
    assert api.get(f"/jobs/{job_id}").json()["attempt"] == 2


def test_bulk_cancel_by_filter_still_works_and_its_cap_problem_is_one_line(api, demo, served):
    request = _submit(api, demo["committed"][:2])
    refused = run(served, "jobs", "cancel", "--filter", "state=accepted", "--max", "1")
    cancelled = run(served, "jobs", "cancel", "--filter", f"request_id={request['request_id']}", "-o", "json")

    assert refused.exit_code == EXIT_PROBLEM
    assert len(refused.stderr.splitlines()) == 1
    assert refused.stderr.startswith("error: too_many_matches: ")
    assert cancelled.exit_code == 0, cancelled.stderr
    assert json.loads(cancelled.stdout)["counts"]["cancelled"] == 2


def test_an_api_that_is_down_is_one_line_and_exit_3():
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    result = run({"REPROTECT_API_URL": url}, "jobs", "list")

    assert result.exit_code == EXIT_UNREACHABLE
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"error: api_unreachable: cannot reach the API at {url}: ")
    assert "Traceback" not in result.output


def test_debug_lets_the_error_through_with_its_traceback():
    url = f"http://127.0.0.1:{free_port()}"

    result = run({"REPROTECT_API_URL": url}, "--debug", "jobs", "list")

    assert result.exit_code == 1
    assert type(result.exception).__name__ == "ConnectError"


def test_dev_refuses_a_busy_port_and_starts_nothing(tmp_path):
    var_dir = tmp_path / "var"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = run({}, "dev", "--port", str(port), "--var-dir", str(var_dir))

    assert result.exit_code == EXIT_PROBLEM
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"error: port_in_use: port {port} on 127.0.0.1 is already in use")
    assert not var_dir.exists()


def _commands(command: Any, path: str = "reprotect") -> Iterator[tuple[str, Any]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, f"{path} {name}")


def test_every_option_of_every_command_has_help_text():
    root = typer.main.get_command(cli_app)
    missing = [
        f"{path} {param.opts[0]}"
        for path, command in _commands(root)
        for param in command.params
        if param.param_type_name == "option" and not getattr(param, "help", None)
    ]
    assert missing == []
