"""``reprotect jobs retry|cancel --filter …``: the CLI's filter syntax, and its calls through the real API."""

from __future__ import annotations

import json

import pytest
import typer

from cli import jobs as jobs_cli
from cli.problems import ApiProblem
from tests.drive import drive


def test_filter_pairs_become_the_request_filter():
    pairs = ["state=failed", "error_code=151195,150097", "error-code=28083", "vm_prefix=web", "vault_id=/v/1"]
    assert jobs_cli.parse_filter(pairs) == {
        "states": ["failed"],
        "error_codes": ["151195", "150097", "28083"],
        "vm_name_prefix": "web",
        "vault_ids": ["/v/1"],
    }


@pytest.mark.parametrize("pair", ["colour=red", "state", "state=", "vm_prefix=a vm_prefix=b"])
def test_a_filter_pair_the_api_has_no_field_for_is_refused(pair):
    with pytest.raises(typer.BadParameter):
        jobs_cli.parse_filter(pair.split(" "))


def test_the_cli_lists_each_jobs_outcome_and_exits_2_when_one_was_refused(api, container, demo, capsys):
    first, second = demo["committed"][:2]
    api.post("/reprotect", json={"vms": [{"item_id": first["id"]}]}).raise_for_status()
    drive(container)
    api.post("/reprotect", json={"vms": [{"item_id": second["id"]}]}).raise_for_status()
    selector = jobs_cli.parse_filter(["state=protected,accepted"])

    table = jobs_cli.run_action(
        api, "cancel", selector=selector, dry_run=True, max_count=5, output=jobs_cli.Output.TABLE
    )
    printed = capsys.readouterr().out
    assert table == 0
    assert "would_cancel" in printed
    assert "job_terminal" in printed
    assert "dry run: 2 job(s) matched" in printed

    code = jobs_cli.run_action(
        api, "cancel", selector=selector, dry_run=False, max_count=5, output=jobs_cli.Output.JSON
    )
    body = json.loads(capsys.readouterr().out)
    assert code == jobs_cli.EXIT_SOME_NOT_DONE
    assert {j["vm"]: j["outcome"] for j in body["jobs"]} == {first["name"]: "refused", second["name"]: "cancelled"}


def test_the_cap_problem_is_raised_with_its_code_for_the_command_group_to_print(api, demo):
    api.post("/reprotect", json={"vms": [{"item_id": item["id"]} for item in demo["committed"][:2]]}).raise_for_status()
    with pytest.raises(ApiProblem) as raised:
        jobs_cli.run_action(
            api, "cancel", selector={"states": ["accepted"]}, dry_run=True, max_count=1, output=jobs_cli.Output.TABLE
        )
    assert raised.value.code == "too_many_matches"
