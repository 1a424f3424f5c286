"""The operator console in a real browser (headless Chromium) against a real stack: what it shows matches the
API, a reprotect submitted from it reaches protected through the live stream, a failed job shows Azure's code
and advice and can be retried, jobs are retried and cancelled in bulk by filter, readers see no actions, and it
is usable by keyboard with labelled fields and legible status labels."""

from __future__ import annotations

import re
import time

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import low_contrast, sign_in

VM_STATUSES = ("needs_reprotect", "in_progress", "protected", "failed", "not_eligible")


def _committed(api: httpx.Client) -> list[dict]:
    """VMs the API says need reprotect, with no job of ours or only a cancelled one (the demo has four: the bulk
    cancel test cancels its jobs before they reach Azure, leaving its VMs to the others), confirmed by a dry run:
    the inventory is cached for a few seconds, and the campaign tests on this stack move VMs (new item ids)."""
    listed = [
        vm
        for vm in api.get("/vms", params={"status": "needs_reprotect"}).json()["items"]
        if vm["job"] is None or vm["job"]["state"] == "cancelled"
    ]
    if not listed:
        return []
    checked = api.post(
        "/reprotect", params={"dry_run": "true"}, json={"vms": [{"item_id": vm["item_id"]} for vm in listed]}
    )
    refused = {problem["vm"] for problem in checked.json().get("vms", [])} if checked.status_code != 200 else set()
    return [vm for vm in listed if vm["item_id"] not in refused]


def test_the_console_is_served_locally_with_a_strict_policy_and_no_cookie(console_stack):
    page = httpx.get(f"{console_stack.api_url}/console/")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in page.headers
    assert re.findall(r'(?:src|href)="(https?:)?//', page.text) == []  # nothing from another origin
    module = httpx.get(f"{console_stack.api_url}/console/js/main.js")
    assert module.headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{console_stack.api_url}/console/../app/settings.py").status_code == 404
    assert httpx.get(f"{console_stack.api_url}/console/js/nothing.js").status_code == 404
    assert httpx.get(f"{console_stack.api_url}/console").headers["location"].endswith("/console/")
    assert "/console/" not in httpx.get(f"{console_stack.api_url}/openapi.json").text


def test_me_tells_the_caller_its_role_and_never_the_key(console_stack, reader_key):
    answer = httpx.get(f"{console_stack.api_url}/me", headers={"Authorization": f"Bearer {reader_key}"})
    assert answer.status_code == 200
    body = answer.json()
    assert (body["role"], body["can_operate"], body["scopes"]) == ("reader", False, ["*"])
    assert reader_key not in answer.text
    assert httpx.get(f"{console_stack.api_url}/me").status_code == 401


def test_the_overview_shows_the_numbers_the_api_gives(page, console_stack, api):
    sign_in(page, console_stack.api_key)
    expect(page.get_by_role("heading", name="Fleet overview")).to_be_visible()
    summary = api.get("/vms/summary", params={"group_by": "region"}).json()
    expect(page.locator("#vm-counts [data-count='total']")).to_have_text(str(summary["total"]))
    for name in VM_STATUSES:
        expect(page.locator(f"#vm-counts [data-count='{name}']")).to_have_text(str(summary["counts"].get(name, 0)))
    jobs = api.get("/jobs/summary").json()
    expect(page.locator("[data-figure='jobs_total']")).to_have_text(str(jobs["total"]))
    left = api.get("/vms", params={"status": "needs_reprotect"}).json()["items"]
    expect(page.locator("#what-is-left tbody tr")).to_have_count(len(left))
    for vm in left:
        expect(page.locator("#what-is-left")).to_contain_text(vm["vm_name"])
    _expect_top_failures(page, summary["top_failure_codes"])  # the page reads them from /vms/summary
    for group_by in ("region", "subscription", "vault"):
        page.get_by_label("Group VMs by").select_option(group_by)
        _expect_groups(page, api.get("/vms/summary", params={"group_by": group_by}).json())


def _expect_groups(page, summary: dict) -> None:
    """The overview's table of VM counts per group is the summary's, row by row and cell by cell."""
    expect(page.locator("#groups caption")).to_have_text(f"VM reprotect status per {summary['group_by']}")
    rows = page.locator("#groups tbody tr")
    expect(rows).to_have_count(len(summary["groups"]))
    for n, group in enumerate(summary["groups"]):
        counts = [str(group["counts"].get(name, 0)) for name in VM_STATUSES]
        expect(rows.nth(n).locator("td")).to_have_text([group["key"], str(group["total"]), *counts, re.compile(".")])


def _expect_top_failures(page, codes: list[dict]) -> None:
    """The overview's top failure codes are ``codes`` (``/vms/summary``'s), in order, with their counts."""
    table = page.locator("#top-failures")
    if not codes:
        expect(table.locator("tbody td")).to_have_text(["Nothing here."])
        return
    expect(table.locator("tbody td:first-child")).to_have_text([c["code"] for c in codes])
    expect(table.locator("tbody td:nth-child(2)")).to_have_text([str(c["count"]) for c in codes])


def test_reprotect_by_selector_shows_the_count_of_a_dry_run_before_anything_is_sent(page, console_stack, api):
    planned = api.post("/reprotect", params={"dry_run": True}, json={"selector": {"status": "needs_reprotect"}}).json()
    assert planned["matched"] > 0
    jobs_before = api.get("/jobs/summary").json()["total"]
    sign_in(page, console_stack.api_key)
    page.get_by_role("link", name="Reprotect", exact=True).click()
    page.get_by_role("button", name="Dry run: count the VMs").click()
    would = planned["matched"] - len(planned["refused"])
    expect(page.locator("#selector-result")).to_contain_text(f"Dry run: {planned['matched']} VM(s) match; {would}")
    expect(page.get_by_role("button", name=f"Confirm: reprotect {would} VM(s)")).to_be_focused()
    page.get_by_role("button", name="Back").click()
    assert api.get("/jobs/summary").json()["total"] == jobs_before


def test_bulk_cancel_by_filter_shows_the_count_then_cancels_the_jobs_a_stopped_worker_left_queued(
    page, console_stack, api
):
    """The worker is stopped first, so the request's jobs stay accepted: nothing reaches Azure, each is cancelled
    at once, and their VMs stay free for the other tests."""
    targets = _committed(api)[:2]
    assert len(targets) == 2, targets
    sign_in(page, console_stack.api_key)
    console_stack.kill("worker")
    try:
        answer = api.post("/reprotect", json={"vms": [{"item_id": vm["item_id"]} for vm in targets]})
        assert answer.status_code == 202, answer.text
        accepted = answer.json()
        jobs = [job["id"] for job in accepted["jobs"]]
        page.goto(f"/console/#/jobs?request_id={accepted['request_id']}")
        states = page.locator("#jobs-table tbody tr[data-job-id] .state")
        expect(states).to_have_text([re.compile("accepted")] * 2)
        page.get_by_role("button", name="Cancel matching jobs…").click()
        expect(page.locator("#bulk-result [role='status']")).to_have_text(
            "Dry run: 2 job(s) match; 2 would be cancelled."
        )
        assert [api.get(f"/jobs/{job_id}").json()["state"] for job_id in jobs] == ["accepted"] * 2  # nothing done
        page.get_by_role("button", name="Confirm: cancel 2 job(s)").click()
        expect(page.locator("#bulk-result")).to_contain_text("Done: 2 cancelled.")
        assert [api.get(f"/jobs/{job_id}").json()["state"] for job_id in jobs] == ["cancelled"] * 2
        expect(states).to_have_text([re.compile("cancelled")] * 2)  # the list is read again
    finally:
        console_stack.respawn("worker")


def test_a_reprotect_submitted_from_the_console_reaches_protected_with_live_updates(page, console_stack, api):
    target = _committed(api)[0]["vm_name"]
    sign_in(page, console_stack.api_key)
    page.get_by_role("link", name="Reprotect", exact=True).click()
    page.get_by_label(re.compile(rf"^{re.escape(target)} —")).check()
    page.get_by_role("button", name="Dry run: review the plan").click()
    plan = page.locator(f"article.plan[data-vm='{target}']")
    expect(plan).to_be_visible()
    planned = api.post("/reprotect", params={"dry_run": True}, json={"vms": [{"item_id": _item_id(api, target)}]})
    created = [
        name
        for name, part in planned.json()["plans"][0].items()
        if isinstance(part, dict) and part.get("status") == "new"
    ]
    assert created, "the plan should create something (the cache storage account)"
    expect(plan.locator(".new-marker")).to_have_count(len(created) + _new_disks(planned.json()))
    expect(plan.locator(".new-marker").first).to_have_text("(new)")
    page.get_by_role("button", name=re.compile("Submit reprotect of 1 VM")).click()
    expect(page.locator("#submitted")).to_contain_text("Accepted")
    page.get_by_role("link", name="Follow its jobs").click()
    row = page.locator("#jobs-table tbody tr", has_text=target)
    expect(row.locator(".state")).to_have_text(re.compile("protected"), timeout=90_000)
    # No reload, no polling: the list changed because the event stream said so.
    expect(page.locator("#stream-mode")).to_have_attribute("data-mode", "live")

    # Its page shows every mirrored ASR task and every transition the API has for it.
    job = api.get(f"/jobs/{row.get_attribute('data-job-id')}").json()
    assert job["asr_tasks"], job
    assert job["history"], job
    row.get_by_role("link", name=target).click()
    expect(page.locator("#job-state")).to_have_text(re.compile("protected"))
    expect(page.locator("#asr-tasks tbody td:first-child")).to_have_text([task["name"] for task in job["asr_tasks"]])
    expect(page.locator("#history tbody tr")).to_have_count(len(job["history"]))
    expect(page.locator("#history tbody td:nth-child(3)")).to_have_text(
        [re.compile(re.escape(entry["to_state"])) for entry in job["history"]]
    )


def _new_disks(plan: dict) -> int:
    return sum(disk["status"] == "new" for disk in plan["plans"][0]["disks"])


def _item_id(api: httpx.Client, vm_name: str) -> str:
    return next(vm["item_id"] for vm in api.get("/vms").json()["items"] if vm["vm_name"] == vm_name)


def _fail_next_job(console_stack, vm_name: str, code: str) -> None:
    failure = {"vm": vm_name, "task": "ProtectReplicaTask", "code": code, "at_fraction": 0.5, "times": 1}
    httpx.post(f"{console_stack.emulator_url}/_emulator/faults/job-failure", json=failure).raise_for_status()


def test_a_failed_job_shows_azure_code_and_advice_and_retry_from_the_console_protects_it(page, console_stack, api):
    """Also the fallback: the stream is refused here (as a proxy dropping it would), so the console polls."""
    page.route("**/events/jobs*", lambda route: route.abort())
    target = _committed(api)[-1]
    _fail_next_job(console_stack, target["vm_name"], "151195")
    accepted = api.post("/reprotect", json={"vms": [{"item_id": target["item_id"]}]})
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["jobs"][0]["id"]
    sign_in(page, console_stack.api_key, mode="polling")
    page.goto(f"/console/#/jobs/{job_id}")
    expect(page.locator("#job-state")).to_have_text(re.compile("failed"), timeout=90_000)
    job = api.get(f"/jobs/{job_id}").json()
    expect(page.locator("#job-error .error-code")).to_have_text(job["error"]["code"])
    advice = job["error"]["details"]["asr_errors"][0]["recommended_action"]
    assert advice
    expect(page.locator("#job-error .recommended-action")).to_have_text(advice)
    # The overview's top failure codes now name it, as /vms/summary does (its view is kept a couple of seconds).
    codes = _failure_codes_once_counted(api, job["error"]["code"])
    page.goto("/console/#/overview")
    _expect_top_failures(page, codes)
    page.goto(f"/console/#/jobs/{job_id}")

    page.get_by_role("button", name="Retry job").click()
    expect(page.locator("#action-result")).to_contain_text("Retry accepted")
    expect(page.locator("#job-state")).to_have_text(re.compile("protected"), timeout=90_000)
    assert api.get(f"/jobs/{job_id}").json()["attempt"] == 2
    expect(page.locator("#stream-mode")).to_have_attribute("data-mode", "polling")


def _failure_codes_once_counted(api: httpx.Client, code: str) -> list[dict]:
    deadline = time.monotonic() + 30
    while True:
        codes = api.get("/vms/summary").json()["top_failure_codes"]
        if any(c["code"] == code for c in codes) or time.monotonic() > deadline:
            assert any(c["code"] == code for c in codes), codes
            return list(codes)
        time.sleep(0.5)


def test_bulk_retry_by_filter_shows_the_count_before_acting_and_a_job_is_cancelled_from_its_page(
    page, console_stack, api
):
    targets = _committed(api)[:2]
    for vm in targets:
        _fail_next_job(console_stack, vm["vm_name"], "150097")
    answer = api.post("/reprotect", json={"vms": [{"item_id": vm["item_id"]} for vm in targets]})
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    sign_in(page, console_stack.api_key)
    page.goto(f"/console/#/jobs?request_id={accepted['request_id']}&state=failed")
    expect(page.locator("#jobs-table tbody tr[data-job-id]")).to_have_count(2, timeout=90_000)
    page.get_by_role("button", name="Retry matching jobs…").click()
    expect(page.locator("#bulk-result")).to_contain_text("2 would be retried")
    clock = f"{console_stack.emulator_url}/_emulator/time-scale"
    httpx.put(clock, json={"time_scale": 1}).raise_for_status()  # Azure at its own pace: the retries stay active
    try:
        page.get_by_role("button", name="Confirm: retry 2 job(s)").click()
        expect(page.locator("#bulk-result")).to_contain_text("2 retried")
        assert [api.get(f"/jobs/{job['id']}").json()["attempt"] for job in accepted["jobs"]] == [2, 2]

        # Cancel one of them from its page: a confirmation first, then the stream brings the outcome.
        job_id = accepted["jobs"][0]["id"]
        page.goto(f"/console/#/jobs/{job_id}")
        # While the worker sends the retry to Azure a cancel is refused (submission_in_progress): wait for it to run.
        expect(page.locator("#job-state")).to_have_text(re.compile("reprotecting"), timeout=60_000)
        page.get_by_role("button", name="Cancel job…").click()
        page.get_by_role("button", name="Yes, cancel this job").click()
        expect(page.locator("#action-result")).to_contain_text("Cancel accepted")
        expect(page.locator("#job-state")).to_have_text(re.compile("cancelled"), timeout=90_000)
    finally:
        httpx.put(clock, json={"time_scale": 5000}).raise_for_status()
    assert api.get(f"/jobs/{job_id}").json()["state"] == "cancelled"


def test_a_reader_sees_no_action_buttons(page, console_stack, reader_key, api):
    sign_in(page, reader_key)
    expect(page.get_by_role("heading", name="Fleet overview")).to_be_visible()
    expect(page.locator("#who")).to_contain_text("reader")
    expect(page.get_by_role("link", name="Reprotect", exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name="Plan a reprotect…")).to_have_count(0)
    page.get_by_role("link", name="Jobs", exact=True).click()
    expect(page.locator("#jobs-table tbody tr[data-job-id]").first).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("matching jobs"))).to_have_count(0)
    job_id = api.get("/jobs", params={"limit": 1}).json()["items"][0]["id"]
    page.goto(f"/console/#/jobs/{job_id}")
    expect(page.locator("#job-state")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Retry|Cancel"))).to_have_count(0)
    requests = api.get("/jobs/summary", params={"group_by": "request"}).json()["groups"]
    page.get_by_role("link", name="Requests", exact=True).click()
    expect(page.locator("#requests-table tbody tr")).to_have_count(len(requests))
    expect(page.locator("#requests-table")).to_contain_text(requests[0]["key"])
    page.goto("/console/#/reprotect")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_keyboard_only_sign_in_and_navigation_with_labelled_fields_and_worded_statuses(page, console_stack):
    page.goto("/console/")
    expect(page.get_by_label("API key")).to_be_focused()  # the sign-in form takes the focus
    page.keyboard.type(console_stack.api_key)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Fleet overview")).to_be_visible()
    jobs_link = page.get_by_role("link", name="Jobs", exact=True)
    for _ in range(10):  # the page's content has the focus: the sections are just before it
        page.keyboard.press("Shift+Tab")
        if jobs_link.evaluate("link => link === document.activeElement"):
            break
    expect(jobs_link).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Jobs", exact=True)).to_be_visible()
    expect(page.locator("#jobs-table tbody tr").first).to_be_visible()
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()  # fewer jobs than a page
    for route in ("#/jobs", "#/requests", "#/reprotect", "#/campaigns", "#/overview"):
        page.goto(f"/console/{route}")
        page.locator("main h1").first.wait_for()
        expect(page.locator("main [aria-busy='true']")).to_have_count(0)
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea')]
                 .filter((el) => el.type !== 'hidden' && !el.labels.length && !el.getAttribute('aria-label'))
                 .map((el) => el.outerHTML)"""
        )
        assert unlabelled == [], route
        colour_only = page.evaluate(
            """() => [...document.querySelectorAll('.status')]
                 .filter((el) => !el.textContent.replace(/[^a-z]/gi, '').length || !el.querySelector('.status-icon'))
                 .map((el) => el.outerHTML)"""
        )
        assert colour_only == [], route
        # Colour only reinforces a status, but it must not make the words hard to read (WCAG 2 AA: 4.5:1).
        _, low = low_contrast(page, ".status, #stream-mode")
        assert low == [], (route, low)
    assert page.locator(".status").count() > 0
    # The pipeline badge is shown only while jobs will not move: a copy in the header, at each of its levels.
    for level in ("degraded", "unknown", "down"):
        page.evaluate(
            """(level) => {
                 const badge = document.getElementById('pipeline-badge').cloneNode();
                 Object.assign(badge, { id: 'badge-sample', hidden: false, textContent: `⚠ Pipeline ${level}: no worker` });
                 badge.dataset.level = level;
                 document.getElementById('pipeline-badge').parentElement.append(badge);
               }""",
            level,
        )
        assert low_contrast(page, "#badge-sample") == (1, []), level
        page.evaluate("() => document.getElementById('badge-sample').remove()")


def test_the_key_lives_only_in_the_tab_session_and_a_wrong_key_is_refused(page, console_stack):
    page.goto("/console/")
    page.get_by_label("API key").fill("rpk_00000000_" + "x" * 43)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert page.evaluate("() => sessionStorage.length") == 0
    sign_in(page, console_stack.api_key)
    assert console_stack.api_key not in page.url
    stored = page.evaluate("() => [document.cookie, localStorage.length, Object.values(sessionStorage)]")
    assert stored == ["", 0, [console_stack.api_key]]
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API key")).to_be_visible()
    assert page.evaluate("() => sessionStorage.length") == 0
