"""Campaign benchmark: take N committed VMs (default 200) the whole way home in W failover waves (default 4) in
the emulator under ARM's default throttle, and compare the wall time with the ideal that the throttle and the
ASR jobs' durations allow.

    .venv/bin/python benchmarks/campaign.py [--vms 200] [--waves 4] [--time-scale 100] [--workers 16]

The fleet is the emulator's ``fleet:N`` (committed failovers East Asia -> Southeast Asia) plus an isolated test
network in East Asia (the home region, where the drill's test VMs run). The real stack (emulator, API, worker,
scheduler; ``cli.stack``) runs one campaign: reprotect -> drill (automatic gate) -> drill cleanup -> failover
per wave -> commit -> reprotect back. Per step it prints the measured time (the gap before it: sweep latency
and the step's per-VM checks; then its run), the ARM reads/writes/429s charged while it ran, and its ideal:

    ideal = max(longest ASR time of the step, write-bucket time + shortest ASR time, read-bucket time)

where an ASR time is the emulated job's duration (read from the vault's ASR jobs after the run, converted back
to real seconds by the time scale; for the reprotect kinds plus the resync after the job, from the emulator's
formula), and a bucket time is what ARM's bucket (full at the step's start: an optimistic, so lower, bound)
needs to allow that step's calls: ``max(0, (calls - burst) / refill)``. The campaign's ideal is the sum.
Exits 1 if the campaign does not complete.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cli.stack import StackConfig, free_port, running_stack
from emulator import fleet
from emulator import simulation as sim

TEST_VNET = "fleet-vnet-ea-test"
# The ASR job behind each phase (scenarioName); a reprotect kind's job is followed by the resync.
SCENARIOS = {
    "reprotect": "SwitchReplicationGroupProtection",
    "drill": "TestFailover",
    "drill_cleanup": "TestFailoverCleanup",
    "failover": "UnplannedFailover",
    "commit": "CommitFailover",
    "reprotect_back": "SwitchReplicationGroupProtection",
}
OVER = {"completed", "stopped", "aborted"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vms", type=int, default=200)
    parser.add_argument("--waves", type=int, default=4)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--time-scale", type=float, default=100.0, help="emulator clock speed (simulated s per s)")
    parser.add_argument("--reads-burst", type=int, default=250)
    parser.add_argument("--reads-per-second", type=float, default=25.0)
    parser.add_argument("--writes-burst", type=int, default=200)
    parser.add_argument("--writes-per-second", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=900.0, help="give up (exit 1) after this many seconds")
    parser.add_argument(
        "--snapshot-ttl", type=float, default=30.0, help="the service's list snapshot TTL (production default 30)"
    )
    parser.add_argument(
        "--service-env", action="append", default=[], metavar="KEY=VALUE", help="another setting for the service"
    )
    args = parser.parse_args()

    var_dir = Path(tempfile.mkdtemp(prefix="reprotect-bench-campaign-"))
    scenario = _scenario(args.vms, args.time_scale)
    scenario_path = var_dir / "scenario.json"
    scenario_path.write_text(json.dumps(scenario), encoding="utf-8")
    service = {  # as benchmarks/fleet.py runs the service
        "REPROTECT_JOB__POLL_INTERVAL_SECONDS": "2",
        "REPROTECT_JOB__MAX_POLL_INTERVAL_SECONDS": "10",
        "REPROTECT_AZURE__CACHE_TTL_SECONDS": "30",
        "REPROTECT_AZURE__SNAPSHOT_TTL_SECONDS": f"{args.snapshot_ttl:g}",
        "REPROTECT_AZURE__READ_BUDGET_SHARE": "0.5",
    }
    service.update(dict(item.split("=", 1) for item in args.service_env))
    config = StackConfig(
        var_dir=var_dir,
        api_port=free_port(),
        scenario=str(scenario_path),
        time_scale=args.time_scale,
        worker_concurrency=args.workers,
        quiet=True,
        extra_env=service,
    )
    completed = False
    try:
        with running_stack(config) as stack:
            completed = run(stack, args, scenario)
    finally:
        if completed:
            shutil.rmtree(var_dir, ignore_errors=True)
        else:
            print(f"the stack's logs and databases are kept in {var_dir}")
    if not completed:
        raise SystemExit(1)


def _scenario(vms: int, time_scale: float) -> dict[str, Any]:
    """``fleet:N`` with an isolated test network in East Asia, at the benchmark's time scale."""
    scenario = fleet.generate(vms, 1)
    scenario["name"] = f"campaign-bench:{vms}"
    scenario["time_scale"] = time_scale
    scenario["subscriptions"][0]["virtual_networks"].append(
        {"name": TEST_VNET, "resource_group": "fleet-net-rg", "location": "eastasia", "address_prefix": "10.70.0.0/16"}
    )
    return scenario


class StatsSampler:
    """The emulator's reads, writes, 429s and per-operation calls of one subscription, sampled every second."""

    def __init__(self, emulator_url: str, subscription: str):
        self._client = httpx.Client(base_url=emulator_url, timeout=30)
        self._subscription = subscription.lower()
        self.samples: list[tuple[float, dict[str, Any]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self.sample()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def sample(self) -> None:
        stats = self._client.get("/_emulator/stats").json().get("by_subscription", {})
        zero = {"reads": 0, "writes": 0, "throttled": 0, "calls": {}}
        self.samples.append((time.time(), stats.get(self._subscription, zero)))

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.sample()
            except httpx.HTTPError:
                return

    def at(self, moment: float) -> dict[str, Any]:
        """The last sample taken at or before ``moment`` (the first one before any)."""
        chosen = self.samples[0][1]
        for taken, counts in self.samples:
            if taken > moment:
                break
            chosen = counts
        return chosen


@dataclass
class AsrTimes:
    """One step's emulated ASR jobs, in real seconds (epoch): first/last start, last end, shortest/longest."""

    jobs: int
    first_start: float
    last_start: float
    last_end: float
    shortest: float
    longest: float


def run(stack: Any, args: argparse.Namespace, scenario: dict[str, Any]) -> bool:
    emulator = httpx.Client(base_url=stack.emulator_url, timeout=60)
    api = httpx.Client(base_url=stack.api_url, timeout=600, headers=stack.auth_headers)
    throttle = {
        "reads": {"burst": args.reads_burst, "per_second": args.reads_per_second},
        "writes": {"burst": args.writes_burst, "per_second": args.writes_per_second},
    }
    emulator.put("/_emulator/throttle", json=throttle).raise_for_status()  # on, Azure's sizes, buckets full
    described = emulator.get("/_emulator/scenario").json()
    subscription = described["subscriptions"][0]["id"]
    vault = described["subscriptions"][0]["vaults"][0]
    names = sorted(item["vm_name"] for item in vault["items"])
    size = -(-len(names) // args.waves)
    body = {
        "name": f"benchmark: {len(names)} VMs home in {args.waves} waves",
        "vms": [{"vault_id": vault["id"], "vm_name": n, "wave": i // size + 1} for i, n in enumerate(names)],
        "test_networks": {
            "eastasia": f"/subscriptions/{subscription}/resourceGroups/fleet-net-rg/providers/"
            f"Microsoft.Network/virtualNetworks/{TEST_VNET}"
        },
        "drill_approval": "auto",
    }
    sampler = StatsSampler(stack.emulator_url, subscription)
    sampler.start()
    started = time.time()
    answer = api.post("/campaigns", json=body)
    while answer.status_code in (429, 503):  # throttled checks or the API's rate limit: come back when told
        time.sleep(float(answer.headers.get("Retry-After", "5")))
        answer = api.post("/campaigns", json=body)
    posted = time.time() - started
    if answer.status_code != 201:
        sampler.stop()
        print(f"POST /campaigns refused: {answer.status_code} {answer.text[:2000]}")
        return False
    campaign_id = answer.json()["id"]
    print(f"campaign {campaign_id} created in {posted:.1f} s (the first step's checks included)", flush=True)
    campaign = _follow(api, campaign_id, started, args.timeout)
    observed = time.time() - started
    sampler.stop()
    asr = _asr_times(emulator, vault, campaign, args.time_scale, scenario)
    _report(campaign, asr, sampler, started, observed, args, len(names))
    jobs = sum(sum(step["counts"].values()) for step in campaign["steps"])
    _report_doorbells(Path(stack.config.var_dir) / "broker.sqlite3", jobs)
    if campaign["state"] != "completed":
        print(f"FAILED: campaign {campaign['state']}: {campaign.get('stop_reason')}")
        _explain(emulator, campaign)
        return False
    return True


def _explain(emulator: httpx.Client, campaign: dict[str, Any]) -> None:
    """Each VM the campaign could not move, with what the emulator says of its item now."""
    items = {
        item["vm_name"]: item
        for sub in emulator.get("/_emulator/scenario").json()["subscriptions"]
        for vault in sub["vaults"]
        for item in vault["items"]
    }
    shown = 0
    for vm in campaign["vms"]:
        bad = {p: s for p, s in vm["phases"].items() if s.get("state") not in ("protected", None)}
        if not bad or shown >= 12:
            continue
        shown += 1
        item = items.get(vm["vm_name"], {})
        now = {k: item.get(k) for k in ("protection_state", "active_location", "location", "current_job")}
        print(f"  {vm['vm_name']} (wave {vm['wave']}): {json.dumps(bad)}; the item now: {json.dumps(now)}")


def _follow(api: httpx.Client, campaign_id: str, started: float, timeout: float) -> dict[str, Any]:
    """Poll the campaign until it is over (or waits for an operator, or the timeout); print each move."""
    last = None
    while True:
        answer = api.get(f"/campaigns/{campaign_id}")
        if answer.status_code != 200:
            time.sleep(float(answer.headers.get("Retry-After", "1")))
            continue
        campaign: dict[str, Any] = answer.json()
        where = (campaign["state"], campaign["phase"], campaign["wave"])
        if where != last:
            step = next((s for s in campaign["steps"] if s["phase"] == campaign["phase"]), None)
            counts = step["counts"] if step else {}
            print(f"  {time.time() - started:6.1f} s  {'/'.join(str(x) for x in where if x)}  {counts}", flush=True)
            last = where
        if campaign["state"] in OVER or campaign["state"] == "waiting_gate":
            return campaign
        if time.time() - started > timeout:
            print(f"TIMEOUT after {timeout:.0f} s at {where}")
            return campaign
        time.sleep(2)


def _asr_times(
    emulator: httpx.Client, vault: dict[str, Any], campaign: dict[str, Any], scale: float, scenario: dict[str, Any]
) -> dict[int, AsrTimes]:
    """Per step position: its VMs' emulated ASR jobs (the vault's job list, read after the run), in real time."""
    # The simulated clock's UTC at a known real moment maps every job time back (the scale never changed).
    before = time.time()
    ref = emulator.post("/_emulator/advance", json={"seconds": 0}).json()  # moves nothing: reads the clock
    ref_real = (before + time.time()) / 2
    ref_sim = _utc(ref["utc"])

    def real(stamp: str) -> float:
        return ref_real - (ref_sim - _utc(stamp)) / scale

    disk = scenario["subscriptions"][0]["vaults"][0]["vms"][0]["disks"][0]
    loads = [sim.DiskLoad(float(disk["changed_gib"]), sim.default_throughput(disk["sku"]))]
    resync_s = sim.transfer_seconds(loads) * (1 + sim.PROCESSING_SHARE)  # after each reprotect job (simulation.py)
    by_vm: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for job in _jobs(emulator, vault["id"]):
        props = job["properties"]
        if props.get("state") == "Succeeded" and props.get("endTime"):
            by_vm[props["targetObjectName"]].append(props)
    waves = {vm["vm_name"]: vm["wave"] for vm in campaign["vms"]}
    spans: dict[int, list[tuple[float, float, float]]] = defaultdict(list)  # position: (start, end, seconds)
    for vm_name, jobs in by_vm.items():
        jobs.sort(key=lambda p: p["startTime"])
        seen: dict[str, int] = defaultdict(int)
        for props in jobs:
            scenario_name = props["scenarioName"]
            seen[scenario_name] += 1
            phase = next(p for p, s in SCENARIOS.items() if s == scenario_name)
            if scenario_name == SCENARIOS["reprotect"] and seen[scenario_name] > 1:
                phase = "reprotect_back"
            step = next(s for s in campaign["steps"] if s["phase"] == phase and s["wave"] in (None, waves.get(vm_name)))
            extra = resync_s / scale if SCENARIOS[phase] == SCENARIOS["reprotect"] else 0.0
            start, end = real(props["startTime"]), real(props["endTime"]) + extra
            spans[step["position"]].append((start, end, end - start))
    return {
        position: AsrTimes(
            jobs=len(items),
            first_start=min(s for s, _, _ in items),
            last_start=max(s for s, _, _ in items),
            last_end=max(e for _, e, _ in items),
            shortest=min(d for _, _, d in items),
            longest=max(d for _, _, d in items),
        )
        for position, items in spans.items()
    }


def _jobs(emulator: httpx.Client, vault_id: str) -> list[dict[str, Any]]:
    """Every ASR job of the vault, through ARM (after the run: these reads are not counted)."""
    url: str | None = f"{vault_id}/replicationJobs?api-version=2025-01-01"
    headers = {"Authorization": "Bearer benchmark"}
    jobs: list[dict[str, Any]] = []
    while url:
        answer = emulator.get(url, headers=headers)
        if answer.status_code == 429:
            time.sleep(float(answer.headers.get("Retry-After", "1")))
            continue
        answer.raise_for_status()
        page = answer.json()
        jobs += page.get("value", [])
        url = page.get("nextLink")
    return jobs


def _utc(stamp: str) -> float:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _ideal(calls: int, burst: float, per_second: float) -> float:
    """Seconds a full bucket of ``burst`` refilled at ``per_second`` needs to allow ``calls``."""
    return max(0.0, (calls - burst) / per_second)


def _report_doorbells(broker: Path, jobs: int) -> None:
    """Messages the embedded broker carried, by task: how many doorbells each job cost (``app.leases``)."""
    try:
        with sqlite3.connect(broker, timeout=30) as db:  # the stack still runs: wait for its lock
            payloads = [row[0] for row in db.execute("SELECT payload FROM kombu_message")]
    except sqlite3.Error as exc:
        print(f"doorbells: the broker's messages could not be read ({exc})")
        return
    by_task: dict[str, int] = defaultdict(int)
    for payload in payloads:
        by_task[json.loads(payload).get("headers", {}).get("task", "?")] += 1
    counted = ", ".join(f"{task.removeprefix('reprotect.')} {n}" for task, n in sorted(by_task.items()))
    per_job = by_task.get("reprotect.advance_job", 0) / jobs if jobs else 0.0
    print(f"doorbells: {counted}; advance_job per job: {per_job:.1f} ({jobs} jobs)")


def _report(
    campaign: dict[str, Any],
    asr: dict[int, AsrTimes],
    sampler: StatsSampler,
    started: float,
    observed: float,
    args: argparse.Namespace,
    vms: int,
) -> None:
    print()
    print(
        f"{'step':<16}{'VMs':>4}{'gap':>7}{'run':>7}{'total':>7}{'ASR max':>8}{'submit':>8}{'detect':>8}"
        f"{'reads':>7}{'writes':>7}{'429':>5}{'ideal':>7}{'ratio':>7}"
    )
    previous_end = started
    ideal_total = 0.0
    measured_total = 0.0
    for step in campaign["steps"]:
        if not step["started_at"] or not step["finished_at"]:
            print(f"{_label(step):<16} {step['state']}")
            continue
        begin, end = _utc(step["started_at"]), _utc(step["finished_at"])
        was, now = sampler.at(previous_end), sampler.at(end)
        reads, writes = now["reads"] - was["reads"], now["writes"] - was["writes"]
        throttled = now["throttled"] - was["throttled"]
        times = asr.get(step["position"])
        longest = times.longest if times else 0.0
        shortest = times.shortest if times else 0.0
        ideal = max(
            longest,
            _ideal(writes, args.writes_burst, args.writes_per_second) + shortest,
            _ideal(reads, args.reads_burst, args.reads_per_second),
        )
        total = end - previous_end
        ideal_total += ideal
        measured_total += total
        vm_count = sum(step["counts"].get(k, 0) for k in ("protected", "failed", "cancelled"))
        # submit: first to last ASR job start; detect: last ASR job (and resync) end to the step's end.
        submit = f"{times.last_start - times.first_start:8.1f}" if times else f"{'-':>8}"
        detect = f"{end - times.last_end:8.1f}" if times else f"{'-':>8}"
        print(
            f"{_label(step):<16}{vm_count:>4}{begin - previous_end:7.1f}{end - begin:7.1f}{total:7.1f}{longest:8.1f}"
            f"{submit}{detect}{reads:>7}{writes:>7}{throttled:>5}{ideal:7.1f}{total / ideal if ideal else 0:7.2f}"
        )
        previous_end = end
    first, last = sampler.samples[0][1], sampler.samples[-1][1]
    reads, writes = last["reads"] - first["reads"], last["writes"] - first["writes"]
    throttled = last["throttled"] - first["throttled"]
    finished = _utc(campaign["finished_at"]) - started if campaign.get("finished_at") else observed
    print(
        "gap: previous step's end to this step's start (sweep latency + the step's per-VM checks); run: start to "
        "end; submit: first to last ASR job start; detect: last ASR end (+resync) to the step's end (seconds)"
    )
    calls = {op: n - first["calls"].get(op, 0) for op, n in last["calls"].items()}
    top = sorted(((n, op) for op, n in calls.items() if n), reverse=True)[:8]
    print("ARM calls, most frequent: " + ", ".join(f"{op} {n}" for n, op in top))
    print(
        f"SUMMARY: {vms} VMs in {args.waves} waves, time scale {args.time_scale:g}, workers {args.workers}: "
        f"{campaign['state']} in {finished:.1f} s (client saw it at {observed:.1f} s); ideal {ideal_total:.1f} s; "
        f"ratio {finished / ideal_total if ideal_total else 0:.2f}; steps sum {measured_total:.1f} s; "
        f"ARM reads {reads} ({reads / vms:.1f}/VM), writes {writes} ({writes / vms:.1f}/VM), 429s {throttled}"
    )


def _label(step: dict[str, Any]) -> str:
    return str(step["phase"]) + (f" w{step['wave']}" if step["wave"] else "")


if __name__ == "__main__":
    main()
