"""The console's campaign page in a real browser against a real stack: a campaign over demo VMs reaches its drill's
manual gate, an operator approves it from the page with a reason and sees the campaign move on; pause, abort with
a reason and a confirmation, a refusal shown with the problem's code; a reader sees the same page without controls."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import sign_in

CONTROLS = re.compile(r"Approve|Pause|Resume|Abort|Retry")


def _network(vm: dict, resource_group: str, name: str) -> str:
    """A virtual network of the demo's subscription."""
    subscription = vm["vault_id"].split("/resourceGroups/")[0]
    return f"{subscription}/resourceGroups/{resource_group}/providers/Microsoft.Network/virtualNetworks/{name}"


def _body(vms: list[dict], name: str) -> dict:
    """A campaign over ``vms`` with a drill into East Asia's isolated test network (where the VMs run once home)
    and its manual gate."""
    return {
        "name": name,
        "vms": [{"vault_id": vm["vault_id"], "vm_name": vm["vm_name"], "wave": 1} for vm in vms],
        "test_networks": {"eastasia": _network(vms[0], "contoso-net-rg", "contoso-vnet-ea-test")},
    }


def _free_vms(api: httpx.Client, console_stack, count: int) -> list[dict]:
    """Demo VMs that run in Southeast Asia with their original VM still present, no active job, in no campaign but
    aborted ones, and that a campaign's dry run does not refuse (other tests of the stack may have reprotected
    some: the campaign skips that step for them)."""
    vault = httpx.get(f"{console_stack.emulator_url}/_emulator/scenario").json()["subscriptions"][0]["vaults"][0]
    present = {item["vm_name"] for item in vault["items"] if item["source_vm"] == "present"}
    taken = set()  # in an unfinished campaign, or home after a completed one (GET /vms may not say so yet: cached)
    for summary in api.get("/campaigns").json()["items"]:
        if summary["state"] != "aborted":
            taken |= {vm["vm_name"] for vm in api.get(f"/campaigns/{summary['id']}").json()["vms"]}
    candidates = [
        vm
        for vm in api.get("/vms").json()["items"]
        if vm["vm_name"] in present
        and vm["vm_name"] not in taken
        and vm["source_region"] == "southeastasia"
        and (
            (vm["reprotect_status"] == "needs_reprotect" and vm["job"] is None)
            or (vm["reprotect_status"] == "protected" and vm["job"] is not None and vm["job"]["state"] == "protected")
        )
    ]
    assert candidates, "no demo VM left for a campaign"
    plan = api.post("/campaigns", params={"dry_run": True}, json=_body(candidates, "which VMs may go"))
    assert plan.status_code == 200, plan.text
    refused = {refusal["vm"] for refusal in plan.json()["refused"]}
    free = sorted((vm for vm in candidates if vm["vm_name"] not in refused), key=lambda vm: vm["vm_name"])
    assert len(free) >= count, (plan.json()["refused"], [vm["vm_name"] for vm in candidates])
    return free[:count]


def _create(api: httpx.Client, vms: list[dict], name: str) -> dict:
    created = api.post("/campaigns", json=_body(vms, name))
    assert created.status_code == 201, created.text
    return created.json()


def _assert_labelled_and_worded(page) -> None:
    """Every field has a label and every status has words and an icon, not a colour alone."""
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
             .filter((el) => el.type !== 'hidden' && !el.labels.length && !el.getAttribute('aria-label'))
             .map((el) => el.outerHTML)"""
    )
    assert unlabelled == []
    colour_only = page.evaluate(
        """() => [...document.querySelectorAll('.status')]
             .filter((el) => !el.textContent.replace(/[^a-z]/gi, '').length || !el.querySelector('.status-icon'))
             .map((el) => el.outerHTML)"""
    )
    assert colour_only == []
    assert page.locator(".status").count() > 0


@contextmanager
def _reader_tab(browser, console_stack, reader_key: str) -> Iterator[Any]:
    """A second tab, in its own context (its own session), signed in with a reader's key."""
    context = browser.new_context(base_url=console_stack.api_url)
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        sign_in(tab, reader_key)
        yield tab
    finally:
        context.close()
    assert errors == [], errors


def test_an_operator_approves_the_drill_gate_from_the_campaign_page_and_the_campaign_moves_on(page, console_stack, api):
    (vm,) = _free_vms(api, console_stack, 1)
    campaign = _create(api, [vm], "console: approve the drill")
    sign_in(page, console_stack.api_key)
    page.get_by_role("link", name="Campaigns", exact=True).click()
    row = page.locator(f"#campaigns-table tr[data-campaign-id='{campaign['id']}']")
    expect(row).to_contain_text("console: approve the drill")
    row.get_by_role("link", name="console: approve the drill").click()

    # The steps in order with their gates, the VM per phase; then the drill's gate waits for an operator.
    steps = page.locator("#campaign-steps tbody tr")
    expect(steps).to_have_count(len(campaign["steps"]))
    for position, step in enumerate(campaign["steps"]):
        expect(steps.nth(position)).to_have_attribute("data-phase", step["phase"])
    expect(page.locator("#campaign-state [data-status]")).to_have_attribute(
        "data-status", "waiting_gate", timeout=90_000
    )
    expect(page.locator("#campaign-step")).to_have_text("drill")
    drill = page.locator("#campaign-steps tr[data-phase='drill']")
    expect(drill).to_have_attribute("aria-current", "step")
    expect(drill.locator(".step-state")).to_contain_text("done")
    expect(drill.locator(".step-gate")).to_contain_text("manual")
    expect(drill.locator(".step-gate")).to_contain_text("pending")
    cell = page.locator(f"#campaign-vms tr[data-vm='{vm['vm_name']}'] td[data-phase='drill']")
    expect(cell).to_contain_text("protected")
    job_id = api.get(f"/campaigns/{campaign['id']}").json()["vms"][0]["phases"]["drill"]["job_id"]
    expect(cell.get_by_role("link")).to_have_attribute("href", f"#/jobs/{job_id}")

    # Approve by keyboard: a reason is required (an empty one sends nothing), then it is kept on the gate.
    page.get_by_role("button", name="Approve gate…").focus()
    page.keyboard.press("Enter")
    reason = page.get_by_label("Reason (required)")
    expect(reason).to_be_focused()
    _assert_labelled_and_worded(page)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # "Approve the gate" with no reason: the browser refuses the form
    assert api.get(f"/campaigns/{campaign['id']}").json()["state"] == "waiting_gate"
    reason.fill("app team checked the test VMs")
    page.get_by_role("button", name="Approve the gate").click()
    expect(page.locator("#action-done")).to_contain_text("Gate approved")
    expect(drill.locator(".step-gate [data-status]")).to_have_attribute("data-status", "passed")
    expect(drill.locator(".gate-reason")).to_have_text("app team checked the test VMs")
    expect(drill.locator(".decided-by")).to_contain_text("by ")
    cleanup = page.locator("#campaign-steps tr[data-phase='drill_cleanup'] .step-state")
    expect(cleanup).to_contain_text("done", timeout=90_000)  # the page follows the campaign past its gate
    expect(page.locator("#campaign-step")).not_to_have_text("drill")
    expect(page.get_by_role("button", name="Approve gate…")).to_have_count(0)
    gate = api.get(f"/campaigns/{campaign['id']}").json()["steps"][1]["gate"]
    assert (gate["state"], gate["reason"]) == ("passed", "app team checked the test VMs")
    expect(drill.locator(".decided-by")).to_have_text(f"by {gate['decided_by']}")
    approval = page.locator("#campaign-history tbody tr", has_text="gate approved: app team checked the test VMs")
    expect(approval).to_contain_text(gate["decided_by"])

    expect(page.locator("#campaign-state [data-status]")).to_have_attribute("data-status", "completed", timeout=120_000)
    expect(
        page.locator(f"#campaign-vms tr[data-vm='{vm['vm_name']}'] td[data-phase='reprotect_back']")
    ).to_contain_text("protected")
    expect(page.locator("#campaign-actions")).to_be_hidden()  # an ended campaign offers nothing


def test_pause_a_refusal_and_abort_from_the_console_and_a_reader_sees_no_controls(
    page, browser, console_stack, api, reader_key
):
    (vm,) = _free_vms(api, console_stack, 1)
    campaign = _create(api, [vm], "console: pause and abort")
    path = f"/campaigns/{campaign['id']}"
    sign_in(page, console_stack.api_key)
    page.goto(f"/console/#{path}")
    expect(page.get_by_role("heading", name=re.compile("Campaign: console: pause and abort"))).to_be_visible()
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#action-done")).to_contain_text("Paused")
    expect(page.locator("#campaign-state [data-status]")).to_have_attribute("data-status", "paused")
    assert api.get(path).json()["state"] == "paused"

    with _reader_tab(browser, console_stack, reader_key) as reader:
        reader.get_by_role("link", name="Campaigns", exact=True).click()
        reader.get_by_role("link", name="console: pause and abort").click()
        expect(reader.locator("#campaign-state [data-status]")).to_have_attribute("data-status", "paused")
        expect(reader.locator(f"#campaign-vms tr[data-vm='{vm['vm_name']}']")).to_be_visible()
        expect(reader.get_by_role("button", name=CONTROLS)).to_have_count(0)
        expect(reader.locator("#campaign-actions")).to_have_count(0)

    # A stale page: another operator resumed meanwhile; the page's Resume is refused with the problem's code.
    page.route(f"**{path}", lambda route: route.abort() if route.request.method == "GET" else route.continue_())
    assert api.post(f"{path}/resume").status_code == 200
    page.get_by_role("button", name="Resume").click()
    problem = page.locator("#action-result .problem")
    expect(problem).to_contain_text("(campaign_state_conflict)")
    expect(problem).to_contain_text("it can be resumed only when paused, stopped")
    page.unroute(f"**{path}")
    expect(page.get_by_role("button", name="Pause")).to_be_visible()  # the next refetch shows it running again

    # Abort asks why and for a confirmation; the reason ends up in the stop reason.
    page.get_by_role("button", name="Abort campaign…").click()
    expect(page.locator("#abort-form")).to_contain_text("cannot be undone")
    page.get_by_role("button", name="Yes, abort this campaign").click()  # no reason: nothing is sent
    assert api.get(path).json()["state"] not in {"aborting", "aborted"}
    page.get_by_label("Reason (required)").fill("change window cancelled")
    page.get_by_role("button", name="Yes, abort this campaign").click()
    expect(page.locator("#action-done")).to_contain_text("Abort accepted")
    expect(page.locator("#campaign-state [data-status]")).to_have_attribute("data-status", "aborted", timeout=120_000)
    expect(page.locator("#stop-reason")).to_contain_text("change window cancelled")
    expect(page.get_by_role("button", name=CONTROLS)).to_have_count(0)
    assert api.get(path).json()["state"] == "aborted"


def test_a_campaign_planned_in_the_console_shows_a_refusal_in_its_dry_run_and_once_created_its_retry_is_refused(
    page, console_stack, api
):
    """The drill is given a test network in the wrong region: the dry run says the VM would be refused there
    (no_test_network); created anyway, the campaign stops at the drill with the VM refused, and retrying it from
    the page is refused again with the problem's code per VM."""
    (vm,) = _free_vms(api, console_stack, 1)
    campaigns_before = len(api.get("/campaigns").json()["items"])
    sign_in(page, console_stack.api_key)
    page.get_by_role("link", name="Campaigns", exact=True).click()
    page.get_by_role("link", name="Plan a campaign…").click()
    page.get_by_label("Name", exact=True).fill("console: refused VM")
    page.get_by_label(re.compile(rf"^{re.escape(vm['vm_name'])} —")).check()
    page.get_by_label("Region the VMs run in once home").fill("southeastasia")
    network = _network(vm, "contoso-net-rg-asr", "contoso-vnet-sea-test")
    page.get_by_label("Isolated test network there").fill(network)
    _assert_labelled_and_worded(page)
    page.get_by_role("button", name="Dry run: review the plan").click()
    planned = api.post(
        "/campaigns", params={"dry_run": True}, json={**_body([vm], "x"), "test_networks": {"southeastasia": network}}
    ).json()
    expect(page.locator("#campaign-plan tbody tr")).to_have_count(len(planned["steps"]))
    expect(page.locator("#campaign-plan-refused")).to_contain_text("no_test_network")
    assert len(api.get("/campaigns").json()["items"]) == campaigns_before  # a dry run creates nothing

    page.get_by_role("button", name="Create campaign over 1 VM(s)").click()
    expect(page.get_by_role("heading", name=re.compile("Campaign: console: refused VM"))).to_be_visible()
    path = page.url.split("#", 1)[1]
    try:
        expect(page.locator("#campaign-state [data-status]")).to_have_attribute(
            "data-status", "stopped", timeout=90_000
        )
        stopped = api.get(path).json()
        expect(page.locator("#stop-reason")).to_have_text(stopped["stop_reason"])
        cell = page.locator(f"#campaign-vms tr[data-vm='{vm['vm_name']}'] td[data-phase='drill']")
        expect(cell.locator("[data-status]")).to_have_attribute("data-status", "refused")
        expect(cell.locator(".error-code")).to_have_text("no_test_network")
        expect(page.locator("#campaign-steps tr[data-phase='drill'] .step-counts")).to_have_text("1 refused")

        page.get_by_role("button", name=f"Retry {vm['vm_name']}").click()
        problem = page.locator("#action-result .problem")
        expect(problem).to_contain_text(f"{vm['vm_name']} — no_test_network")
        expect(page.get_by_role("button", name="Resume")).to_be_visible()
        assert api.get(path).json()["state"] == "stopped"
    finally:
        api.post(f"{path}/abort", json={"reason": "test over"})  # frees the VM for the other tests
