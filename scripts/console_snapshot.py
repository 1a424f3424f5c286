"""Screenshot the console's overview during a fleet reprotect, and measure what docs/console.md reports.

Starts the embedded stack on an emulator fleet (``fleet:200:2`` by default), plans a few ASR job failures,
reprotects every VM that needs it with one selector, opens the console in headless Chromium and:

- takes ``docs/console.png`` of the overview while the run is under way;
- measures how long a job change takes to reach the page through the event stream (transition ``at`` to
  the browser receiving the event);
- after the run, counts the API calls the overview makes while idle.

    .venv/bin/python scripts/console_snapshot.py [--vms 200] [--idle-seconds 120]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from cli.stack import StackConfig, free_port, running_stack

ROOT = Path(__file__).resolve().parent.parent
RECORD_LATENCY = """() => {
  window.__latencies = [];
  document.addEventListener('job-change', (e) => window.__latencies.push(Date.now() - Date.parse(e.detail.at)));
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=200)
    parser.add_argument("--subscriptions", type=int, default=2)
    parser.add_argument("--failures", type=int, default=6)
    parser.add_argument("--idle-seconds", type=int, default=120)
    parser.add_argument("--time-scale", type=float, default=200, help="emulator clock (the fleet's own: 800)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "console.png")
    args = parser.parse_args()
    config = StackConfig(
        var_dir=Path(tempfile.mkdtemp(prefix="console-snapshot-")),
        api_port=free_port(),
        scenario=f"fleet:{args.vms}:{args.subscriptions}",
        time_scale=args.time_scale,
        quiet=True,
        # The inventory re-reads each vault's items after 60 s by default; the VM counts lag the jobs by that
        # much. Read every 5 s here so the picture shows the fleet as it is.
        extra_env={"REPROTECT_FLEET__SNAPSHOT_TTL_SECONDS": "5"},
    )
    with running_stack(config) as stack, sync_playwright() as playwright:
        api = httpx.Client(base_url=stack.api_url, headers=stack.auth_headers, timeout=120)
        failure = {"vm": "*", "task": "ProtectReplicaTask", "code": "151195", "times": args.failures}
        httpx.post(f"{stack.emulator_url}/_emulator/faults/job-failure", json=failure).raise_for_status()
        browser = playwright.chromium.launch(executable_path=args.chromium, headless=True)
        page = browser.new_page(base_url=stack.api_url, viewport={"width": 1400, "height": 1000})
        api_calls: list[str] = []
        page.on("request", lambda r: api_calls.append(r.url) if "/console/" not in r.url else None)
        page.goto("/console/")
        page.get_by_label("API key").fill(stack.api_key)
        page.get_by_role("button", name="Sign in").click()
        page.locator("#stream-mode[data-mode='live']").wait_for()
        page.evaluate(RECORD_LATENCY)
        answer = api.post("/reprotect", json={"selector": {"status": "needs_reprotect"}})
        print("submitted:", answer.status_code, answer.json().get("matched"))
        total = args.vms
        shot = False
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            jobs = api.get("/jobs/summary").json()
            counts = jobs["groups"][0]["counts"]
            done = counts.get("protected", 0) + counts.get("failed", 0)
            print(f"  {counts}")
            if not shot and done >= total * 0.3 and jobs["in_flight"] > 0:
                page.wait_for_timeout(2500)  # let the debounced refresh land
                page.screenshot(path=str(args.out), full_page=False)
                shot = True
                print("screenshot:", args.out)
            if done >= total:
                break
            time.sleep(3)
        latencies = page.evaluate("window.__latencies")
        if latencies:
            ordered = sorted(latencies)
            print(
                f"stream latency over {len(ordered)} events: median {statistics.median(ordered):.0f} ms, "
                f"p95 {ordered[int(len(ordered) * 0.95) - 1]:.0f} ms, max {ordered[-1]:.0f} ms"
            )
        page.wait_for_timeout(5000)
        before = len(api_calls)
        page.wait_for_timeout(args.idle_seconds * 1000)
        idle = api_calls[before:]
        print(f"idle: {len(idle)} API requests in {args.idle_seconds} s: {sorted({u.split('?')[0] for u in idle})}")
        browser.close()


if __name__ == "__main__":
    main()
