"""Sign-in with Microsoft Entra ID in a real browser: the console's own authorization code flow with PKCE against
a fake authority on loopback (tests/fake_entra.py) and a real stack that accepts that authority's tokens. The
token ends up where an API key would, every call carries it, it never shows in an address, the page's log or a
server's log, a tampered state or a wrong verifier signs nobody in, an answer no sign-in of the tab asked for is
ignored, and the tab signs out when the token lapses. Without the settings the page offers no such button."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from cli.stack import Stack, StackConfig, free_port, running_stack
from tests.fake_entra import CLIENT_ID, SCOPE, FakeEntra, RunningFakeEntra

ENTRA_BUTTON = "Sign in with Microsoft Entra ID"
KEY_ITEM = "reprotect.console.key"  # where api.js keeps the credential


@pytest.fixture(scope="module")
def fake_entra() -> Iterator[FakeEntra]:
    with RunningFakeEntra() as fake:
        yield fake


@pytest.fixture(scope="module")
def entra_stack(tmp_path_factory, fake_entra) -> Iterator[Stack]:
    """The service configured for the fake authority through the environment, as an operator would."""
    config = StackConfig(
        var_dir=tmp_path_factory.mktemp("entra-stack"),
        api_port=free_port(),
        worker_concurrency=1,
        quiet=True,
        extra_env=fake_entra.api_env(),
    )
    fake_entra.redirect_uris = {f"http://127.0.0.1:{config.api_port}/console/"}
    with running_stack(config) as running:
        yield running


class Tab:
    """A fresh tab on the Entra stack and everything it sent and logged."""

    def __init__(self, page: Any):
        self.page = page
        self.requests: list[Any] = []
        self.logged: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda request: self.requests.append(request))
        page.on("console", lambda message: self.logged.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def session_item(self, name: str) -> str | None:
        return self.page.evaluate("(name) => sessionStorage.getItem(name)", name)


@pytest.fixture
def tab(browser, entra_stack, fake_entra) -> Iterator[Tab]:
    fake_entra.reset()
    context = browser.new_context(base_url=entra_stack.api_url)
    page = context.new_page()
    page.set_default_timeout(20_000)
    opened = Tab(page)
    yield opened
    context.close()
    policy_reports = [text for text in opened.logged if "Content Security Policy" in text]
    assert opened.errors == [], opened.errors  # no script error
    assert policy_reports == [], policy_reports  # no Content-Security-Policy violation
    server_logs = {path.name: path.read_text(errors="replace") for path in entra_stack.config.var_dir.glob("*.log")}
    assert {"api.log", "worker.log"} <= server_logs.keys(), server_logs.keys()  # the check below reads them all
    for token in fake_entra.issued:  # never logged (by the page or any process of the stack), never in an address
        assert not any(token in text for text in opened.logged)
        assert not any(token in request.url for request in opened.requests)
        assert [name for name, text in server_logs.items() if token in text] == []


def _click_entra(tab: Tab) -> None:
    tab.page.goto("/console/")
    tab.page.get_by_role("button", name=ENTRA_BUTTON).click()


def test_signing_in_with_entra_id_ends_signed_in_with_the_tokens_role_on_every_call(tab, entra_stack, fake_entra):
    _click_entra(tab)
    page = tab.page
    expect(page.locator("#who")).to_have_text("ops@example.com · operator")
    expect(page.locator("#stream-mode[data-mode='live']")).to_be_attached(timeout=30_000)
    assert page.url == f"{entra_stack.api_url}/console/#/overview"  # no ?code=, no ?state= left behind
    [token] = fake_entra.issued
    assert tab.session_item(KEY_ITEM) == token  # kept exactly where an API key is kept
    assert page.evaluate("() => document.cookie") == ""
    # What the page asked the authority: the code flow with an S256 challenge, as a public client (no secret).
    [asked] = fake_entra.authorize_requests
    assert (asked["response_type"], asked["code_challenge_method"], asked["client_id"]) == ("code", "S256", CLIENT_ID)
    assert (asked["scope"], asked["redirect_uri"]) == (SCOPE, f"{entra_stack.api_url}/console/")
    assert asked["response_mode"] == "fragment"  # the code comes back where no server sees it
    assert "/console/?code=" not in (entra_stack.config.var_dir / "api.log").read_text()  # not in the access log
    assert "GET /console/ " in (entra_stack.config.var_dir / "api.log").read_text()  # which does log the page
    assert len(asked["state"]) >= 16
    assert len(asked["code_challenge"]) == 43  # base64url of a SHA-256
    [redeemed] = fake_entra.token_requests
    assert redeemed["grant_type"] == "authorization_code"
    assert "client_secret" not in redeemed
    assert 43 <= len(redeemed["code_verifier"]) <= 128
    assert fake_entra.token_answers == [200]

    page.get_by_role("link", name="Jobs", exact=True).click()
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    api_calls = [r for r in tab.requests if r.url.startswith(entra_stack.api_url) and "/console/" not in r.url]
    paths = {httpx.URL(r.url).path for r in api_calls}
    assert {"/me", "/jobs", "/events/jobs"} <= paths, paths
    for request in api_calls:
        assert request.all_headers().get("authorization") == f"Bearer {token}", request.url
    me = httpx.get(f"{entra_stack.api_url}/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert (me["kind"], me["role"], me["scopes"], me["can_operate"]) == ("user", "operator", ["*"], True)


def test_a_reader_signed_in_with_entra_id_sees_no_action(tab, fake_entra):
    fake_entra.role = "Reprotect.Reader"
    _click_entra(tab)
    expect(tab.page.locator("#who")).to_have_text("ops@example.com · reader")
    expect(tab.page.get_by_role("link", name="Reprotect", exact=True)).to_be_hidden()


def test_an_answer_with_a_state_this_tab_did_not_send_signs_nobody_in(tab, entra_stack, fake_entra):
    fake_entra.tamper_state = True
    _click_entra(tab)
    alert = tab.page.get_by_role("alert")
    expect(alert).to_contain_text("does not match the sign-in this tab started")
    expect(alert).to_contain_text("state_mismatch")
    assert fake_entra.token_requests == []  # the code was never even redeemed
    assert tab.session_item(KEY_ITEM) is None
    assert tab.page.url == f"{entra_stack.api_url}/console/"  # the code is gone from the address too
    expect(tab.page.locator("#session")).to_be_hidden()


def test_a_verifier_that_does_not_match_the_challenge_is_refused_by_the_authority(tab, fake_entra):
    fake_entra.corrupt_challenge = True
    _click_entra(tab)
    alert = tab.page.get_by_role("alert")
    expect(alert).to_contain_text("The Code_Verifier does not match the code_challenge")
    expect(alert).to_contain_text("invalid_grant")
    assert fake_entra.token_answers == [400]
    assert fake_entra.issued == []
    assert tab.session_item(KEY_ITEM) is None
    expect(tab.page.locator("#session")).to_be_hidden()


def test_an_authority_answer_no_sign_in_of_this_tab_asked_for_is_ignored(tab, entra_stack, fake_entra):
    # A link anyone can write: before, it signed the tab out and showed the writer's text as Entra's refusal.
    crafted = "/console/#error=access_denied&error_description=Call+0800+FAKE+HELPDESK+to+sign+in+again"
    _click_entra(tab)
    page = tab.page
    expect(page.locator("#who")).to_have_text("ops@example.com · operator")
    [token] = fake_entra.issued
    page.goto("about:blank")  # the link loads the page afresh, as from a mail or another site
    page.goto(crafted)
    expect(page.locator("#who")).to_have_text("ops@example.com · operator")  # still signed in
    expect(page.get_by_role("heading", name="Fleet overview")).to_be_visible()
    assert tab.session_item(KEY_ITEM) == token
    assert page.url == f"{entra_stack.api_url}/console/#/overview"  # the answer is gone from the address
    expect(page.get_by_text("FAKE HELPDESK")).to_have_count(0)

    page.locator("#sign-out").click()
    page.goto("about:blank")
    page.goto(crafted)  # signed out: the plain sign-in form, without the text either
    expect(page.get_by_role("button", name=ENTRA_BUTTON)).to_be_visible()
    expect(page.get_by_text("FAKE HELPDESK")).to_have_count(0)
    expect(page.get_by_role("alert")).to_have_count(0)
    assert page.url == f"{entra_stack.api_url}/console/"

    # A sign-in of this tab left pending (abandoned with Back): the crafted answer does not carry its state.
    page.evaluate(
        "(item) => sessionStorage.setItem(item, JSON.stringify({state: 'ours', verifier: 'v', hash: ''}))",
        "reprotect.console.entra.pending",
    )
    page.goto("about:blank")
    page.goto(crafted + "&state=theirs")
    expect(page.get_by_role("alert")).to_contain_text("state_mismatch")
    expect(page.get_by_text("FAKE HELPDESK")).to_have_count(0)
    assert len(fake_entra.token_requests) == 1  # the real sign-in only: nothing redeemed for the crafted links


def test_a_code_leaves_the_address_even_when_the_sign_in_settings_cannot_be_read(tab, entra_stack):
    tab.page.route("**/console/config.json", lambda route: route.abort())
    tab.page.goto("/console/#code=some-code&state=some-state")
    expect(tab.page.get_by_label("API key")).to_be_visible()
    assert tab.page.url == f"{entra_stack.api_url}/console/"


def test_a_token_that_lapses_while_the_console_asks_who_it_is_still_signs_the_tab_out(tab, fake_entra):
    # The expiry timer fires while /me is on its way (main.js ignores 'signed-out' until then): armed again after.
    fake_entra.expires_in = 2

    def slow_me(route: Any) -> None:
        time.sleep(3)
        route.continue_()

    tab.page.route("**/me", slow_me)
    _click_entra(tab)
    alert = tab.page.get_by_role("alert")
    expect(alert).to_contain_text("Your Microsoft Entra ID sign-in expired", timeout=20_000)
    expect(tab.page.locator("#session")).to_be_hidden()
    assert tab.session_item(KEY_ITEM) is None


def test_the_tab_signs_out_with_a_clear_message_when_the_token_expires(tab, fake_entra):
    fake_entra.expires_in = 10  # time enough for the sign-in on a loaded machine, short enough to wait for
    _click_entra(tab)
    expect(tab.page.locator("#who")).to_have_text("ops@example.com · operator")
    alert = tab.page.get_by_role("alert")
    expect(alert).to_contain_text("Your Microsoft Entra ID sign-in expired", timeout=30_000)
    expect(tab.page.get_by_role("button", name=ENTRA_BUTTON)).to_be_visible()
    assert tab.session_item(KEY_ITEM) is None
    tab.page.reload()  # nothing left to sign in with
    expect(tab.page.get_by_label("API key")).to_be_visible()
    expect(tab.page.locator("#session")).to_be_hidden()


def test_an_api_key_still_signs_in_where_entra_id_is_offered(tab, entra_stack):
    tab.page.goto("/console/")
    tab.page.get_by_label("API key").fill(entra_stack.api_key)
    tab.page.get_by_role("button", name="Sign in", exact=True).click()
    expect(tab.page.locator("#who")).to_contain_text("admin")
    assert tab.session_item("reprotect.console.key.expires") is None  # an API key does not lapse with a timer


def test_without_entra_settings_the_console_offers_no_entra_button(page, console_stack):
    assert httpx.get(f"{console_stack.api_url}/console/config.json").json() == {"entra": None}
    page.goto("/console/")
    expect(page.get_by_label("API key")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name=ENTRA_BUTTON)).to_have_count(0)
