"""Read-path benchmark: the API as production runs it against a bare FastAPI endpoint, in one run.

Seeds a Postgres database (``--db``, default ``bench_read``, built by Alembic) with ``--jobs`` jobs (default
1,000,000; ~7 transitions each, 100 vaults in 10 subscriptions, mostly protected, some failed, cancelled and
in flight), generated inside Postgres (``INSERT … SELECT generate_series``: no row crosses the wire), with
the jobs' secondary indexes built after the load. Then serves, each with uvicorn and the app factory exactly
as ``reprotect api`` does (one process, access log on): the API (Postgres, API-key auth, key cache on Redis,
rate limit off) and a bare FastAPI ``GET /hello``; drives each endpoint with wrk (``--threads`` 2,
``--connections`` 64, ``--duration`` 10 s; a Lua script picks random ids) and prints req/s, p50 and p99.

    .venv/bin/python benchmarks/read_path.py [--jobs 1000000] [--reuse] [--duration 10]

``--reuse`` keeps an already seeded database of the same size (seeding 1M jobs takes minutes).
A second key, scoped to one resource group, drives a job, the lists and the summary (its rows are found
by the vault id's prefix). Goals (issue 12): GET /jobs/{id} ≥ 50 % of bare with p99 < 50 ms; every list
filter and the summary p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path

import httpx
import psycopg
from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.auth import key_store  # noqa: E402
from app.auth.principal import Role  # noqa: E402
from app.db import build_engine, build_session_factory, transaction, utcnow  # noqa: E402
from app.job.present import etag_for  # noqa: E402
from cli.stack import free_port  # noqa: E402

BARE_APP = """
from fastapi import FastAPI

def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/hello")
    def hello() -> dict[str, str]:
        return {"hello": "world"}

    return app
"""

SERVE = """
import sys, uvicorn
sys.path.insert(0, {root!r})
from app.api.context import logging_config
uvicorn.run({target!r}, factory=True, host="127.0.0.1", port={port}, workers=1, log_level="info",
            log_config=logging_config())
"""

LUA = """
local paths = {{}}
local headers = {{}}
init = function(args)
  for line in io.lines({ids!r}) do
    local path, etag = line:match("([^\\t]+)\\t?(.*)")
    paths[#paths + 1] = path
    headers[#headers + 1] = etag
  end
end
request = function()
  local i = math.random(#paths)
  local h = {{["Authorization"] = "Bearer {key}"}}
  if headers[i] ~= "" then h["If-None-Match"] = headers[i] end
  return wrk.format("GET", paths[i], h)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""

SUBSCRIPTIONS = 10
ERROR_CODES = ["151195", "151083", "150172", "asr_job_failed", "internal_error", "151196", "70094"]


def seed_sql(jobs: int, vaults: int) -> list[str]:
    """Statements that fill the tables: requests of 100 VMs in one vault each, ~7 transitions per job."""
    requests = max(1, jobs // 100)
    subscription = f"lpad(to_hex((r % {vaults}) % {SUBSCRIPTIONS}), 8, '0') || '-0000-4000-8000-000000000000'"
    vault = (
        f"'/subscriptions/' || {subscription} || '/resourceGroups/dr-rg-' || (r % {vaults})"
        f" || '/providers/Microsoft.RecoveryServices/vaults/Vault-' || (r % {vaults})"
    )
    codes = "ARRAY[" + ", ".join(f"'{code}'" for code in ERROR_CODES) + "]"
    tasks = json.dumps(
        [
            {
                "task_id": f"task-{i}",
                "name": name,
                "state": "Succeeded",
                "state_description": "Completed",
                "start_time": "2026-11-30T10:00:00Z",
                "end_time": "2026-11-30T10:05:00Z",
            }
            for i, name in enumerate(
                [
                    "Prerequisite check",
                    "Committing failover",
                    "Discovering replica virtual machine",
                    "Getting reprotection requirements",
                    "Reprotecting virtual machine",
                ]
            )
        ]
    )
    plan = json.dumps({"vm": "vm", "estimated_seconds": 5400.0, "disks": [{"name": "osdisk", "size_gb": 128}]})
    return [
        f"""INSERT INTO reprotect_requests (id, created_at, vm_count, requested_by)
            SELECT md5('request' || r)::uuid, timestamptz '2026-01-01' + r * interval '40 minutes', 100, 'key:bench'
            FROM generate_series(0, {requests - 1}) AS r""",
        f"""INSERT INTO jobs (id, request_id, version, vm_key, vm_name, vault_id, subscription_id, item_id,
                new_item_id, customization, plan, state, attempt, failed_in, error_code, error_message,
                asr_job_id, asr_job_name, asr_job_state, asr_tasks, resync_percent, estimated_seconds, eta_at,
                next_due_at, transient_failures, deadline_at, requested_by, created_at, updated_at, submitted_at,
                finished_at)
            SELECT md5('job' || n)::uuid, md5('request' || r)::uuid, 7, lower(v) || '/vm-' || n, 'vm-' || n, v,
                s, v || '/replicationFabrics/asr-a2a-default-southeastasia/replicationProtectionContainers/'
                   || 'asr-a2a-default-southeastasia-container/replicationProtectedItems/vm-' || n,
                CASE WHEN st = 'protected' THEN v || '/replicationFabrics/asr-a2a-default-eastasia/'
                   || 'replicationProtectionContainers/asr-a2a-default-eastasia-container/'
                   || 'replicationProtectedItems/vm-' || n END,
                '{{}}'::json, '{plan}'::json, st, 1, CASE WHEN st = 'failed' THEN 'reprotecting' END,
                CASE WHEN st = 'failed' THEN ({codes})[1 + n % {len(ERROR_CODES)}] END,
                CASE WHEN st = 'failed' THEN 'The reprotect job failed in Azure.' END,
                v || '/replicationJobs/' || md5('asr' || n)::uuid, md5('asr' || n)::uuid::text,
                CASE st WHEN 'protected' THEN 'Succeeded' WHEN 'failed' THEN 'Failed'
                        WHEN 'cancelled' THEN 'Cancelled' ELSE 'InProgress' END,
                '{tasks}'::json, CASE WHEN st IN ('protected', 'syncing') THEN 100 - (n % 3) * 40 END, 5400,
                CASE WHEN st IN ('reprotecting', 'syncing', 'submitting', 'validating', 'accepted')
                     THEN now() + (n % 7200) * interval '1 second' END,
                CASE WHEN st IN ('reprotecting', 'syncing', 'submitting', 'validating', 'accepted')
                     THEN now() + interval '30 seconds' END,
                0, created + interval '1 day', 'key:bench', created, created + interval '2 hours',
                created + interval '1 minute',
                CASE WHEN st IN ('protected', 'failed', 'cancelled') THEN created + interval '2 hours' END
            FROM (
                SELECT n, n / 100 AS r, timestamptz '2026-01-01' + (n / 100) * interval '40 minutes'
                           + (n % 100) * interval '1 second' AS created,
                       CASE WHEN n % 200 = 7 THEN
                                (ARRAY['accepted', 'validating', 'submitting', 'reprotecting', 'syncing'])[1 + (n / 200) % 5]
                            WHEN n % 100 < 3 THEN 'failed' WHEN n % 100 = 3 THEN 'cancelled'
                            ELSE 'protected' END AS st
                FROM generate_series(0, {jobs - 1}) AS n
            ) AS g, LATERAL (SELECT {vault} AS v, {subscription} AS s) AS place""",
        """INSERT INTO job_transitions (job_id, attempt, from_state, to_state, at, reason, actor)
            SELECT j.id, 1, chain.from_state, chain.to_state, j.created_at + chain.step * interval '10 minutes',
                   chain.reason, 'service'
            FROM jobs AS j CROSS JOIN LATERAL (
                SELECT * FROM (VALUES
                    (0, NULL, 'accepted', 'reprotect requested'),
                    (1, 'accepted', 'validating', 'prerequisites being checked'),
                    (2, 'validating', 'submitting', 'prerequisites met'),
                    (3, 'submitting', 'reprotecting', 'switch protection accepted by Azure'),
                    (4, 'reprotecting', 'syncing', 'the ASR job succeeded'),
                    (5, 'syncing', 'protected', 'the item is Protected'),
                    (6, 'reprotecting', j.state, 'the ASR job ended')
                ) AS c (step, from_state, to_state, reason)
                WHERE (j.state = 'protected' AND c.step <= 5)
                   OR (j.state IN ('failed', 'cancelled') AND (c.step <= 3 OR c.step = 6))
                   OR (j.state NOT IN ('protected', 'failed', 'cancelled') AND c.step <= 3)
            ) AS chain
            ORDER BY j.created_at""",
    ]


def seed(pg_url: str, db: str, jobs: int, vaults: int, reuse: bool) -> float:
    """Create, migrate and fill the database; the seconds it took (0 when an equal one was reused)."""
    admin = pg_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone()
        if exists and reuse:
            with psycopg.connect(f"{admin}/{db}") as bench:
                row = bench.execute("SELECT count(*) FROM jobs").fetchone()
            if row and row[0] == jobs:
                print(f"reusing {db}: {jobs:,} jobs (schema brought to head)")
                _upgrade(pg_url, db)  # a database seeded by an older release gets the columns the API reads now
                _refresh_indexes(f"{admin}/{db}")
                return 0.0
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')
    started = time.monotonic()
    _upgrade(pg_url, db)
    with psycopg.connect(f"{admin}/{db}", autocommit=True) as conn:
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('jobs', 'job_transitions') "
            "AND indexname NOT LIKE 'pk_%'"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        for statement in seed_sql(jobs, vaults):
            step = time.monotonic()
            conn.execute(statement)
            print(f"  {statement.split()[2]:<18} {time.monotonic() - step:6.1f} s")
        step = time.monotonic()
        conn.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            conn.execute(definition)
        print(f"  {'indexes':<18} {time.monotonic() - step:6.1f} s")
        conn.execute(
            "INSERT INTO job_terminal_counts (vault_key, subscription_id, state, count) "
            "SELECT lower(vault_id), subscription_id, state, count(*) FROM jobs "
            "WHERE state IN ('protected', 'failed', 'cancelled') GROUP BY 1, 2, 3"
        )
        conn.execute("VACUUM ANALYZE")
    return time.monotonic() - started


def _upgrade(pg_url: str, db: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", f"{pg_url}/{db}")
    command.upgrade(config, "head")


# Indexes migration 0007 redefined after a database may have been seeded (text_pattern_ops for the scopes).
_REDEFINED = {
    "ix_jobs_vault_lower_created": "CREATE INDEX ix_jobs_vault_lower_created ON jobs "
    "(lower(vault_id) text_pattern_ops, created_at, id)",
    "ix_jobs_failed_codes": "CREATE INDEX ix_jobs_failed_codes ON jobs "
    "(lower(vault_id) text_pattern_ops, error_code, vault_id, subscription_id) WHERE state = 'failed'",
}


def _refresh_indexes(url: str) -> None:
    """Rebuild, in a reused database, the indexes whose definition migration 0007 changed since."""
    with psycopg.connect(url, autocommit=True) as conn:
        for name, definition in _REDEFINED.items():
            row = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", (name,)).fetchone()
            if row and "text_pattern_ops" not in row[0]:
                print(f"  rebuilding {name} as migration 0007 now defines it")
                conn.execute(f'DROP INDEX "{name}"')
                conn.execute(definition)
                conn.execute("ANALYZE jobs")


def serve(target: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """uvicorn with the app factory, as ``reprotect api`` runs it."""
    code = SERVE.format(root=str(ROOT), target=target, port=port)
    process = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=env["PWD"]
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{target} did not start; see {log}")


def start_emulator(work: Path, scenario: str) -> tuple[subprocess.Popen[bytes], str]:
    """The ASR emulator with ``scenario``'s fleet, for the inventory rows (its vaults hold none of the
    seeded jobs' VMs: each listed VM's latest job is still looked up in the 1M rows)."""
    port = free_port()
    out = (work / "emulator.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", str(port), "--scenario", scenario, "--seed", "1",
         "--time-scale", "20000"],
        stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_emulator/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the emulator did not start; see {work / 'emulator.log'}")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (Linux ``/proc``; 0 elsewhere)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.0


def postgres_pids() -> list[int]:
    """The local Postgres server's processes (its backends do the queries' work)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if (entry / "comm").read_text().strip() == "postgres":
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def wrk(url: str, lines: list[str], key: str, work: Path, args: argparse.Namespace, server: int) -> dict[str, float]:
    """One wrk run over random paths (and ETags); req/s, p50 and p99 in ms, error counts, and the CPU time
    the server process and Postgres spent per request (what the machine's other load cannot skew much)."""
    watched = postgres_pids()
    before_server, before_db = cpu_seconds([server]), cpu_seconds(watched)
    ids = work / f"paths-{random.random():.12f}.txt"
    ids.write_text("\n".join(lines) + "\n")
    script = work / "random.lua"
    script.write_text(LUA.format(ids=str(ids), key=key))
    out = subprocess.run(
        [
            "wrk",
            f"-t{args.threads}",
            f"-c{args.connections}",
            f"-d{args.duration}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT"))
    requests, duration_us, p50, p99, status_errors, socket_errors = (int(x) for x in line.split()[1:])
    server_cpu, db_cpu = cpu_seconds([server]) - before_server, cpu_seconds(watched) - before_db
    return {
        "server_us": 1e6 * server_cpu / max(1, requests),
        "db_us": 1e6 * db_cpu / max(1, requests),
        "rps": requests / (duration_us / 1e6),
        "p50": p50 / 1000,
        "p99": p99 / 1000,
        "non2xx": status_errors,
        "socket": socket_errors,
    }


def samples(pg_url: str, db: str) -> dict[str, list[str]]:
    """Random ids, ETags, vaults, VM names and requests to ask for."""
    admin = pg_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{admin}/{db}") as conn:
        jobs = conn.execute(
            "SELECT id, version, updated_at, vm_name, request_id, vault_id FROM jobs TABLESAMPLE SYSTEM (2) LIMIT 20000"
        ).fetchall()
        vaults = [row[0] for row in conn.execute("SELECT DISTINCT vault_id FROM jobs WHERE state <> 'protected'")]
        subscriptions = [row[0] for row in conn.execute("SELECT DISTINCT subscription_id FROM job_terminal_counts")]
    random.shuffle(jobs)
    vault = jobs[0][5]
    return {
        "scoped_vault": [vault],
        "scoped_job": [
            f"/jobs/{row[0]}" for row in jobs if row[5].split("/providers/")[0] == vault.split("/providers/")[0]
        ],
        "job": [f"/jobs/{row[0]}" for row in jobs],
        "etag": [f"/jobs/{row[0]}\t{etag_for(row[0], row[1], row[2].astimezone(UTC))}" for row in jobs],
        "vault": [f"/jobs?vault_id={random.choice([v, v.upper(), v.lower()])}&limit=50" for v in vaults],
        "vm": [f"/jobs?vm={row[3].upper()}&limit=50" for row in jobs[:5000]],
        "request": [f"/jobs?request_id={row[4]}&limit=50" for row in jobs[:5000]],
        "subscription": [f"/jobs?subscription_id={s}&limit=50" for s in subscriptions],
        "summary_request": [
            f"/jobs/summary?group_by=request&request_id={a[4]}&request_id={b[4]}" for a, b in itertools.pairwise(jobs)
        ][:5000],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--vaults", type=int, default=100)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432", help="server URL")
    parser.add_argument("--db", default="bench_read")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/11", help="key cache revocations ('' for none)")
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded database of this size")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--inventory", default="fleet:2000:4", help="the emulator's fleet the inventory lists")
    parser.add_argument("--only", default="", help="run only the endpoints whose name contains this (and bare)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed (apt-get install wrk)")

    seconds = seed(args.postgres, args.db, args.jobs, args.vaults, args.reuse)
    if seconds:
        print(f"seeded {args.jobs:,} jobs in {seconds:.0f} s")
    url = f"{args.postgres}/{args.db}"
    engine = build_engine(url)
    pick = samples(args.postgres, args.db)
    group = pick["scoped_vault"][0].split("/providers/")[0]  # a resource group: a LIKE on the vault id's prefix
    with transaction(build_session_factory(engine)) as session:
        key = key_store.create(
            session, name="bench", role=Role.READER, scopes=["*"], created_by="bench", now=utcnow()
        ).plaintext
        scoped = key_store.create(
            session, name="bench-scoped", role=Role.READER, scopes=[group], created_by="bench", now=utcnow()
        ).plaintext
    engine.dispose()
    work = Path(tempfile.mkdtemp(prefix="reprotect-read-bench-"))
    (work / "bare_app.py").write_text(BARE_APP)
    env = {
        **os.environ,
        "PWD": str(work),
        "PYTHONPATH": f"{work}{os.pathsep}{ROOT}",
        "REPROTECT_DATABASE__URL": url,
        "REPROTECT_BROKER__URL": f"sqla+sqlite:///{work}/broker.sqlite3",
        "REPROTECT_AUTH__RATE_LIMIT__ENABLED": "false",
        "REPROTECT_AUTH__REVOCATION_REDIS_URL": args.redis,
    }
    emulator, emulator_url = start_emulator(work, args.inventory)
    subscriptions = [sub["id"] for sub in httpx.get(f"{emulator_url}/_emulator/scenario").json()["subscriptions"]]
    env.update(
        {
            "REPROTECT_AZURE__MODE": "emulator",
            "REPROTECT_AZURE__ENDPOINT": emulator_url,
            "REPROTECT_FLEET__DISCOVER_IN_SUBSCRIPTIONS": json.dumps(subscriptions),
        }
    )
    bare_port, api_port = free_port(), free_port()
    bare = serve("bare_app:create_app", bare_port, env, work / "bare.log")
    api = serve("app.api.app:create_app", api_port, env, work / "api.log")
    one = pick["job"][0]
    print("sample:", httpx.get(f"http://127.0.0.1:{api_port}{one}", headers={"Authorization": f"Bearer {key}"}))
    runs: list[tuple[str, int, list[str]] | tuple[str, int, list[str], str]] = [
        ("bare FastAPI GET /hello", bare_port, ["/hello"]),
        ("GET /jobs/{id} (random ids)", api_port, pick["job"]),
        ("GET /jobs/{id} If-None-Match (304)", api_port, pick["etag"]),
        ("GET /jobs?limit=50", api_port, ["/jobs?limit=50"]),
        ("GET /jobs?state=failed&limit=50", api_port, ["/jobs?state=failed&limit=50"]),
        ("GET /jobs?state=syncing&limit=50", api_port, ["/jobs?state=syncing&limit=50"]),
        ("GET /jobs?vault_id=… (any case)", api_port, pick["vault"]),
        ("GET /jobs?subscription_id=…", api_port, pick["subscription"]),
        ("GET /jobs?vm=… (name, any case)", api_port, pick["vm"]),
        ("GET /jobs?request_id=…", api_port, pick["request"]),
        ("GET /jobs?error_code=151195", api_port, ["/jobs?error_code=151195&limit=50"]),
        ("GET /jobs?limit=50&view=full", api_port, ["/jobs?limit=50&view=full"]),
        ("GET /jobs/summary", api_port, ["/jobs/summary"]),
        ("inventory: GET /vms?limit=100", api_port, ["/vms?limit=100"]),
        ("inventory: GET /vms?status=needs_reprotect&limit=100", api_port, ["/vms?status=needs_reprotect&limit=100"]),
        ("inventory: GET /vms/summary", api_port, ["/vms/summary"]),
        ("GET /jobs/summary?group_by=vault", api_port, ["/jobs/summary?group_by=vault"]),
        ("GET /jobs/summary?group_by=subscription", api_port, ["/jobs/summary?group_by=subscription"]),
        ("GET /jobs/summary (2 requests, by request)", api_port, pick["summary_request"]),
        # A key scoped to one resource group: every answer is filtered by its vault ids' prefix.
        ("scoped key: GET /jobs/{id}", api_port, pick["scoped_job"], scoped),
        ("scoped key: GET /jobs?limit=50", api_port, ["/jobs?limit=50"], scoped),
        ("scoped key: GET /jobs?state=failed&limit=50", api_port, ["/jobs?state=failed&limit=50"], scoped),
        ("scoped key: GET /jobs/summary", api_port, ["/jobs/summary"], scoped),
    ]
    results = []
    try:
        for name, port, lines, *caller in [run for i, run in enumerate(runs) if i == 0 or args.only in run[0]]:
            server = bare.pid if port == bare_port else api.pid
            if name.startswith("inventory:"):  # as a dashboard polling it keeps it: read within its max age
                warm = httpx.get(
                    f"http://127.0.0.1:{api_port}/vms", headers={"Authorization": f"Bearer {key}"}, timeout=120
                )
                warm.raise_for_status()
            result = wrk(f"http://127.0.0.1:{port}", lines, caller[0] if caller else key, work, args, server)
            results.append((name, result))
            print(
                f"  {name}: {result['rps']:.0f} req/s, p99 {result['p99']:.1f} ms, "
                f"server CPU {result['server_us']:.0f} us/req",
                flush=True,
            )
    finally:
        for process in (bare, api, emulator):
            process.terminate()
            process.wait(timeout=10)
    bare_rps, bare_cpu = results[0][1]["rps"], results[0][1]["server_us"]
    print(
        f"\n{args.jobs:,} jobs; wrk -t{args.threads} -c{args.connections} -d{args.duration}s; "
        f"{os.cpu_count()} CPUs (shared); uvicorn 1 process each\n"
    )
    print(
        "| endpoint | req/s | % of bare | p50 ms | p99 ms | server CPU us/req | Postgres CPU us/req "
        "| bare CPU / this CPU | non-2xx/3xx | socket errors |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results:
        share = f"{100 * r['rps'] / bare_rps:.0f} %"
        print(
            f"| {name} | {r['rps']:,.0f} | {share} | {r['p50']:.1f} | {r['p99']:.1f} | {r['server_us']:.0f} "
            f"| {r['db_us']:.0f} | {100 * bare_cpu / max(1e-9, r['server_us'] + r['db_us']):.0f} % "
            f"| {r['non2xx']} | {r['socket']} |"
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
