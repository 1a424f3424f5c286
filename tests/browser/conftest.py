"""Browser fixtures: Debian's Chromium driven by Playwright, and one real stack (emulator, API, worker,
scheduler on the embedded database and broker) shared by the console's tests.

Without Chromium or Playwright the tests skip and say why; CI sets REPROTECT_TEST_REQUIRE_BROWSER=1 so a
missing browser fails instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cli.stack import Stack, StackConfig, free_port, running_stack

REQUIRE_BROWSER = os.environ.get("REPROTECT_TEST_REQUIRE_BROWSER") == "1"
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def _unavailable(message: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"{message} (REPROTECT_TEST_REQUIRE_BROWSER=1)")
    pytest.skip(f"{message}: install it (apt-get install -y chromium) to run the console's browser tests")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in item.nodeid:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="package")
def chromium_path() -> str:
    """Where Chromium is (REPROTECT_TEST_CHROMIUM, else the first on PATH)."""
    named = os.environ.get("REPROTECT_TEST_CHROMIUM")
    candidates = (named,) if named else CHROMIUM_CANDIDATES
    path = next((found for name in candidates if (found := shutil.which(name))), None)
    if not path:
        _unavailable("no Chromium found (looked for " + ", ".join(candidates) + ")")
    return str(path)


@pytest.fixture(scope="package")  # ends with tests/browser: Playwright's loop and the stack stop there
def browser(chromium_path) -> Iterator[Any]:
    """Headless Chromium through Playwright."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="package")
def console_stack(tmp_path_factory) -> Iterator[Stack]:
    """The whole service as separate processes, the way `reprotect dev` runs it, on a fast emulator clock."""
    extra = {
        "REPROTECT_JOB__POLL_INTERVAL_SECONDS": "0.5",
        "REPROTECT_JOB__LEASE_SECONDS": "5",
        "REPROTECT_JOB__REDISPATCH_AFTER_SECONDS": "3",
        "REPROTECT_AZURE__REQUEST_TIMEOUT_SECONDS": "5",
        "REPROTECT_JOB__SWITCH_SETTLE_SECONDS": "8",
        # A stopped worker shows in /status (and the console's pipeline badge) within seconds, not 35 s.
        "REPROTECT_HEALTH__HEARTBEAT_SECONDS": "1",
        "REPROTECT_HEALTH__STALE_AFTER_SECONDS": "6",
    }
    config = StackConfig(
        var_dir=tmp_path_factory.mktemp("console-stack"),
        api_port=free_port(),
        time_scale=5000,
        worker_concurrency=4,
        quiet=True,
        extra_env=extra,
    )
    with running_stack(config) as running:
        yield running


def make_key(stack: Stack, *, name: str, role: str, scope: str) -> str:
    """A key made with the CLI as an administrator would."""
    made = subprocess.run(
        [sys.executable, "-m", "cli", "keys", "create", "--name", name, "--role", role, "--scope", scope, "--plain"],
        env=stack.config.env(stack.emulator_url), check=True, capture_output=True, text=True,
    )  # fmt: skip
    return made.stdout.strip()


@pytest.fixture(scope="package")
def reader_key(console_stack) -> str:
    """A reader's key of unrestricted scope."""
    return make_key(console_stack, name="console-reader", role="reader", scope="*")


@pytest.fixture
def api(console_stack) -> Iterator[httpx.Client]:
    """The stack's API with its admin key."""
    with httpx.Client(base_url=console_stack.api_url, headers=console_stack.auth_headers, timeout=60) as client:
        yield client


@pytest.fixture
def page(browser, console_stack) -> Iterator[Any]:
    """A fresh tab (its own sessionStorage) on the stack, failing the test on any script error or CSP report."""
    context = browser.new_context(base_url=console_stack.api_url)
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on(
        "console", lambda message: errors.append(message.text) if "Content Security Policy" in message.text else None
    )
    yield tab
    context.close()
    assert errors == [], errors  # no script error, no Content-Security-Policy violation


def sign_in(page: Any, key: str, *, mode: str = "live") -> None:
    """Open the console and sign in with ``key`` as a person would; wait until it follows jobs (``mode``)."""
    page.goto("/console/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.locator(f"#stream-mode[data-mode='{mode}']").wait_for(timeout=30_000)


# WCAG 2's contrast ratio of each visible element's text colour against its effective background: the first
# opaque background among it and its ancestors, with the translucent ones above it composited on (the page's
# canvas is white). Answers the elements below 4.5:1 (the AA level for normal text) with their ratio.
_LOW_CONTRAST = """(selector) => {
  const parse = (css) => {
    const m = /^rgba?\\(([^)]*)\\)$/.exec(css.trim());
    if (!m) throw new Error(`unexpected colour ${css}`);
    const [r, g, b, a = 1] = m[1].split(/[\\s,/]+/).filter(Boolean).map(Number);
    return { r, g, b, a };
  };
  const over = (top, below) => ({
    r: top.r * top.a + below.r * (1 - top.a), g: top.g * top.a + below.g * (1 - top.a),
    b: top.b * top.a + below.b * (1 - top.a), a: 1,
  });
  const background = (el) => {
    const layers = [];
    for (let node = el; node; node = node.parentElement) {
      const colour = parse(getComputedStyle(node).backgroundColor);
      if (colour.a > 0) layers.push(colour);
      if (colour.a >= 1) break;
    }
    return layers.reverse().reduce((below, top) => over(top, below), { r: 255, g: 255, b: 255, a: 1 });
  };
  const luminance = ({ r, g, b }) => {
    const linear = (v) => { const c = v / 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  };
  const ratio = (x, y) => { const [hi, lo] = [luminance(x), luminance(y)].sort((p, q) => q - p); return (hi + 0.05) / (lo + 0.05); };
  const measured = [...document.querySelectorAll(selector)].filter((el) => el.getClientRects().length).map((el) => {
    const bg = background(el);
    return { label: el.textContent.trim(), ratio: ratio(over(parse(getComputedStyle(el).color), bg), bg) };
  });
  return { count: measured.length, low: measured.filter((m) => m.ratio < 4.5) };
}"""


def low_contrast(page: Any, selector: str) -> tuple[int, list[dict[str, Any]]]:
    """How many visible elements match ``selector``, and those whose text is below 4.5:1 on its background."""
    found = page.evaluate(_LOW_CONTRAST, selector)
    return found["count"], found["low"]
