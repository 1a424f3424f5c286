"""The pipeline's health in the console (``GET /status``): the overview's panel says in words who is alive and
what waits; with the worker stopped, a badge in the header says so on every page until a worker runs again; a
key of limited scope is told that this fleet-wide view needs an unrestricted key, not shown an error."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import low_contrast, make_key, sign_in


def _status(api: httpx.Client) -> dict[str, Any]:
    answer = api.get("/status")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_stopped_worker_shows_in_the_header_on_every_page_and_in_the_pipeline_panel_until_one_runs_again(
    page, console_stack, api
):
    sign_in(page, console_stack.api_key)
    panel = page.locator("#pipeline")
    badge = page.locator("#pipeline-badge")
    healthy = _status(api)
    assert healthy["status"] == "ok", healthy
    expect(panel.locator("[data-check='overall']")).to_have_text(re.compile("ok: jobs move"))
    expect(panel.locator("[data-figure='workers_alive']")).to_contain_text(
        f"✔ {healthy['pipeline']['workers_alive']} alive"
    )
    expect(panel.locator("[data-figure='scheduler_alive']")).to_contain_text("✔ alive")
    for check in ("database", "broker"):
        expect(panel.locator(f"[data-check='{check}']")).to_have_text("✔ reachable")
    for figure in ("jobs_accepted", "jobs_waiting", "jobs_waiting_without_worker"):
        expect(panel.locator(f"[data-figure='{figure}']")).to_have_text(str(healthy["pipeline"][figure]))
    expect(panel.locator("#pipeline-problems")).to_have_text("No problem found.")
    expect(badge).to_be_hidden()
    page.get_by_role("link", name="Jobs", exact=True).click()
    expect(page.get_by_role("heading", name="Jobs", exact=True)).to_be_visible()

    console_stack.kill("worker")  # SIGKILL, as a crash: its heartbeat goes stale (after 6 s on this stack)
    try:
        # While all is well the console reads /status every 30 s: the badge comes within about 40 s.
        expect(badge).to_have_text(re.compile("^⚠ Pipeline degraded: no worker alive"), timeout=60_000)
        assert _status(api)["pipeline"]["workers_alive"] == 0  # as the API says
        assert low_contrast(page, "#pipeline-badge") == (1, [])
        badge.click()  # it leads to the overview's panel, which says the same in full
        expect(page.get_by_role("heading", name="Fleet overview")).to_be_visible()
        expect(panel.locator("[data-check='overall']")).to_have_text(re.compile("⚠ degraded: jobs will not move"))
        expect(panel.locator("[data-figure='workers_alive']")).to_contain_text("✖ none alive")
        expect(panel.locator("#pipeline-problems")).to_contain_text("no worker alive")
        assert low_contrast(page, "#pipeline .status")[1] == []
    finally:
        console_stack.respawn("worker")
    # Read every 10 s while something is wrong: both clear once the new worker beats.
    expect(badge).to_be_hidden(timeout=60_000)
    expect(panel.locator("[data-figure='workers_alive']")).to_contain_text(re.compile(r"✔ [1-9]\d* alive"))
    expect(panel.locator("#pipeline-problems")).to_have_text("No problem found.")


def test_a_key_of_limited_scope_is_told_pipeline_health_needs_an_unrestricted_key(page, console_stack):
    subscription = httpx.get(f"{console_stack.emulator_url}/_emulator/scenario").json()["subscriptions"][0]["id"]
    key = make_key(
        console_stack, name="console-one-subscription", role="reader", scope=f"/subscriptions/{subscription}"
    )
    refused = httpx.get(f"{console_stack.api_url}/status", headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 403, refused.text
    sign_in(page, key)
    expect(page.locator("#pipeline-restricted")).to_have_text(
        re.compile("^ⓘ Pipeline health needs an unrestricted key")
    )
    expect(page.locator("#pipeline [role='alert']")).to_have_count(0)  # a fact about the key, not an error
    expect(page.locator("#pipeline-badge")).to_be_hidden()
    expect(page.locator("#vm-counts [data-count='total']")).to_be_visible()  # the rest of the overview is there
