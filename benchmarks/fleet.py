"""Fleet benchmark: reprotect N VMs (default 500) in the emulator under ARM's default throttle.

Prints how long acceptance took (every 100-VM POST, p50/p95), the wall time from the first POST until every
job is protected, the ideal time the throttle allows for the ARM calls that were made, ARM reads/writes per
VM, 429s, and the service's ARM read rate over time against the subscription's read budget (25/s refill).

    .venv/bin/python benchmarks/fleet.py [--vms 500] [--subscriptions 1] [--central-vault] [--workers 16]
        [--reference]

``--reference``: run the same fleet a second time, in the same run, the way the service read Azure before
issue 12 item 6 (no list snapshots: one read per item, VM and status; no read-budget share), side by side.

``--central-vault``: one vault in a subscription of its own protects the VMs of all ``--subscriptions``
(``fleet:N:S:central``); its ASR calls and the VMs' ARM reads then fill different throttle buckets, so the
ideal time is that of the busiest subscription.
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cli.stack import StackConfig, free_port, running_stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vms", type=int, default=500)
    parser.add_argument("--subscriptions", type=int, default=1)
    parser.add_argument(
        "--central-vault", action="store_true", help="one vault in its own subscription protects every VM"
    )
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--time-scale", type=float, default=20000.0, help="emulator clock speed")
    parser.add_argument("--reads-burst", type=int, default=250)
    parser.add_argument("--reads-per-second", type=float, default=25.0)
    parser.add_argument("--writes-burst", type=int, default=200)
    parser.add_argument("--writes-per-second", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--reference", action="store_true", help="also run without list snapshots / budget share")
    args = parser.parse_args()

    service = {
        "REPROTECT_JOB__POLL_INTERVAL_SECONDS": "2",
        "REPROTECT_JOB__MAX_POLL_INTERVAL_SECONDS": "10",
        "REPROTECT_AZURE__CACHE_TTL_SECONDS": "30",
        "REPROTECT_AZURE__SNAPSHOT_TTL_SECONDS": "30",
        "REPROTECT_AZURE__READ_BUDGET_SHARE": "0.5",
    }
    runs = [("service (list snapshots, 50 % read share)", service)]
    if args.reference:
        reference = {**service, "REPROTECT_AZURE__SNAPSHOT_TTL_SECONDS": "0", "REPROTECT_AZURE__READ_BUDGET_SHARE": "1"}
        runs.append(("reference (per-item reads, no read share)", reference))
    for title, env in runs:
        print(f"== {title}")
        var_dir = Path(tempfile.mkdtemp(prefix="reprotect-bench-"))
        config = StackConfig(
            var_dir=var_dir,
            api_port=free_port(),
            scenario=f"fleet:{args.vms}:{args.subscriptions}" + (":central" if args.central_vault else ""),
            time_scale=args.time_scale,
            worker_concurrency=args.workers,
            quiet=True,
            extra_env=env,
        )
        try:
            with running_stack(config) as stack:
                run(stack, args)
        finally:
            shutil.rmtree(var_dir, ignore_errors=True)


class ReadSampler:
    """Samples the emulator's per-subscription read and 429 counters once a second, in a thread."""

    def __init__(self, emulator: httpx.Client):
        self._emulator = emulator
        self.samples: list[tuple[float, dict[str, dict[str, int]]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                stats = self._emulator.get("/_emulator/stats").json().get("by_subscription", {})
            except httpx.HTTPError:
                break  # the emulator is gone: the run is over
            self.samples.append((time.monotonic(), stats))
            self._stop.wait(1.0)

    def report(self, started: float, accepted_at: float, per_second: float) -> None:
        """Reads/s per 10-s window over the run, the peak and the mean while jobs were in flight."""
        if len(self.samples) < 2:
            return
        subs = sorted({s for _, stats in self.samples for s in stats if s})
        for sub in subs:
            series = [
                (t, stats.get(sub, {}).get("reads", 0), stats.get(sub, {}).get("throttled", 0))
                for t, stats in self.samples
            ]
            windows = []
            print(f"  reads/s over time, subscription {sub} (10-s windows; budget refill {per_second:g}/s):")
            line = []
            t0 = series[0][0]
            index = 0
            while index < len(series) - 1:
                end = next(
                    (j for j in range(index + 1, len(series)) if series[j][0] - series[index][0] >= 10), len(series) - 1
                )
                span = series[end][0] - series[index][0]
                rate = (series[end][1] - series[index][1]) / span if span > 0 else 0.0
                throttled = series[end][2] - series[index][2]
                windows.append((series[index][0], rate))
                line.append(
                    f"{series[index][0] - t0:5.0f}s {rate:5.1f}/s" + (f" ({throttled} 429s)" if throttled else "")
                )
                index = end
            for chunk in range(0, len(line), 6):
                print("    " + " | ".join(line[chunk : chunk + 6]))
            in_flight = [rate for at, rate in windows if at >= started]
            if in_flight:
                peak = max(in_flight)
                mean = statistics.fmean(in_flight)
                print(
                    f"  read rate while in flight: mean {mean:.1f}/s ({100 * mean / per_second:.0f} % of the budget), "
                    f"peak 10-s window {peak:.1f}/s ({100 * peak / per_second:.0f} %)"
                )


def run(stack, args) -> None:
    emulator = httpx.Client(base_url=stack.emulator_url, timeout=30)
    api = httpx.Client(base_url=stack.api_url, timeout=600, headers=stack.auth_headers)
    throttle = {
        "reads": {"burst": args.reads_burst, "per_second": args.reads_per_second},
        "writes": {"burst": args.writes_burst, "per_second": args.writes_per_second},
    }
    emulator.put("/_emulator/throttle", json=throttle).raise_for_status()
    scenario = emulator.get("/_emulator/scenario").json()
    targets = [
        {"vault_id": vault["id"], "vm_name": item["name"]}
        for sub in scenario["subscriptions"]
        for vault in sub["vaults"]
        for item in vault["items"]
    ]
    before = emulator.get("/_emulator/stats").json()
    sampler = ReadSampler(httpx.Client(base_url=stack.emulator_url, timeout=30))
    sampler.start()
    started = time.monotonic()
    request_ids = []
    post_seconds = []
    for offset in range(0, len(targets), 100):
        sent = time.monotonic()
        answer = api.post("/reprotect", json={"vms": targets[offset : offset + 100]})
        while answer.status_code == 503:  # Azure throttled the checks: come back when told to
            time.sleep(float(answer.headers.get("Retry-After", "5")))
            answer = api.post("/reprotect", json={"vms": targets[offset : offset + 100]})
        post_seconds.append(time.monotonic() - sent)
        if answer.status_code != 202:
            raise SystemExit(f"batch at {offset} refused: {answer.status_code} {answer.text}")
        request_ids.append(answer.json()["request_id"])
    accepted_after = time.monotonic() - started
    print(
        f"accepted {len(targets)} VMs in {accepted_after:.1f} s; POSTs: {', '.join(f'{x:.1f}' for x in post_seconds)} s",
        flush=True,
    )
    while True:
        counts: dict[str, int] = {}
        for request_id in request_ids:
            answer = api.get(f"/reprotect/{request_id}")
            while answer.status_code != 200:  # the API's own rate limit or a blip: ask again when told
                time.sleep(float(answer.headers.get("Retry-After", "1")))
                answer = api.get(f"/reprotect/{request_id}")
            for state, n in answer.json()["counts"].items():
                counts[state] = counts.get(state, 0) + n
        done = counts.get("protected", 0) + counts.get("failed", 0) + counts.get("cancelled", 0)
        if done == len(targets):
            break
        if time.monotonic() - started > args.timeout:
            raise SystemExit(f"timed out: {counts}")
        time.sleep(3)
    wall = time.monotonic() - started
    sampler.stop()
    after = emulator.get("/_emulator/stats").json()
    reads = after["reads"] - before["reads"]
    writes = after["writes"] - before["writes"]
    throttled = after["throttled"] - before["throttled"]
    # ARM throttles per subscription (the one in each call's path): the busiest subscription sets the pace.
    charged = _per_subscription(before, after)
    ideal_reads = max(
        (_ideal(c["reads"], args.reads_burst, args.reads_per_second) for c in charged.values()), default=0
    )
    ideal_writes = max(
        (_ideal(c["writes"], args.writes_burst, args.writes_per_second) for c in charged.values()), default=0
    )
    ideal = max(ideal_reads, ideal_writes)
    vault_note = "; one central vault in its own subscription" if args.central_vault else ""
    print(f"VMs: {len(targets)} over {args.subscriptions} subscription(s){vault_note}; workers: {args.workers}")
    print(f"outcome: {counts}")
    ordered = sorted(post_seconds)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    print(
        f"all accepted after: {accepted_after:.1f} s ({len(post_seconds)} POSTs of up to 100 VMs: "
        f"p50 {statistics.median(ordered):.2f} s, p95 {p95:.2f} s, max {ordered[-1]:.2f} s)"
    )
    print(f"wall time to all terminal: {wall:.1f} s")
    print(
        f"ideal time the throttle allows for these calls: {ideal:.1f} s "
        f"(reads {ideal_reads:.1f} s, writes {ideal_writes:.1f} s); ratio {wall / ideal if ideal else math.inf:.2f}"
    )
    print(
        f"ARM reads per VM: {reads / len(targets):.2f}; writes per VM: {writes / len(targets):.2f}; 429s served: {throttled}"
    )
    for sub, c in sorted(charged.items(), key=lambda kv: -kv[1]["reads"]):
        print(
            f"  subscription {sub}: reads {c['reads']}, writes {c['writes']}, 429s {c['throttled']}, "
            f"cache accounts created {c['cache_creates']}"
        )
    sampler.report(started, started + accepted_after, args.reads_per_second)


def _per_subscription(before: dict, after: dict) -> dict[str, dict[str, int]]:
    """Reads, writes and 429s charged to each subscription between two ``/_emulator/stats`` answers."""
    old = before.get("by_subscription", {})
    zero = {"reads": 0, "writes": 0, "throttled": 0}
    charged = {}
    for sub, counts in after.get("by_subscription", {}).items():
        if not sub:  # requests outside any subscription (none in a fleet run)
            continue
        was = old.get(sub, {})
        charged[sub] = {k: counts[k] - was.get(k, 0) for k in zero}
        creates = "ARM_StorageAccounts_Create"
        charged[sub]["cache_creates"] = counts.get("calls", {}).get(creates, 0) - was.get("calls", {}).get(creates, 0)
    return charged


def _ideal(calls: int, burst: float, per_second: float) -> float:
    """Seconds a full bucket of ``burst`` refilled at ``per_second`` needs to allow ``calls``."""
    return max(0.0, (calls - burst) / per_second)


if __name__ == "__main__":
    main()
