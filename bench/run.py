"""`make bench`: sagas end to end through the real stack, against the floor of plain Celery.

    python -m bench.run [--orders 400 --clients 16] [--burst 1000] [--one 100]
                        [--production | --both] [--hold 10000] [--keep-logs DIR] [--no-counting]

Starts every part of the topology as `tests/e2e/stack.py` does (free ports, a temporary
workdir) and a floor worker, then measures in one run, on the same Redis and worker settings:
  1. one at a time: each order placed once the last ended; p50/p99 from `POST /orders` to the
     stored outcome;
  2. load: `--orders` orders from `--clients` concurrent clients; completed sagas per second
     from the first order's creation to the last one's completion, and the CPU every part of
     the stack spent per saga;
  3. burst: `--burst` orders at once; when the first completed, and the completion curve;
  4. floor: as many plain Celery chains of as many no-op hops as a saga has, on a worker run
     with the saga worker's own command line: hops/s and CPU per hop;
  5. --hold H: H sagas waiting for a payment that never comes; the worker's memory before and
     after, its active tasks, and the latency of new orders meanwhile.
`--production` runs the same on this machine's PostgreSQL (a fresh database per service) and
Redis (`--redis-url`) instead of SQLite files and the embedded Redis; `--both` (`make bench`)
runs the local stack, then the production one, and writes one result with both reports and the
ratios between them (`ratios`).
Writes bench/results/<timestamp>[-production|-both].json and prints Markdown tables. Meanwhile
each phase shows its orders or sagas done and the time left on stderr (`bench.progress`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import psycopg
import redis
from celery import Celery
from sqlalchemy import create_engine, func, select

from bench import floor, round_trips
from bench.driver import OrderDriver
from bench.progress import Progress
from glastonbury import settings, topology
from orchestrator.adapters.tables import sagas
from tests.chaos.verdict import database_urls
from tests.e2e.stack import RAISED_LIMITS, Stack, wait_for

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
HELD_CUSTOMER = "00000000-0000-4000-8000-0000000be4c4"
# The Celery tasks of a paid saga: start (which reserves the tickets), request_payment, (the wait
# is a row, no task), finalise_order.
SAGA_HOPS = 3
BENCH_SETTINGS = {
    "PAYMENT_HOLD_CUSTOMERS": HELD_CUSTOMER,
    "PAYMENT_RESULT_TIMEOUT": "3600",   # held payments wait, nothing times out during the run
    "SAGA_STUCK_AFTER": "600",          # a saga queued behind a burst is not "stuck"
    "SAGA_RECONCILE_INTERVAL": "5",     # the production default
    # Hundreds of orders a second from one address and customer, each followed with ?wait=.
    **RAISED_LIMITS,
}
# Whose CPU a phase counts: a saga's, every part's but the bench's own clients and the floor
# worker; a floor hop's, the floor worker's and what its hops cost Redis and Flower.
NOT_THE_STACK = ("bench", "floor_worker")
POLL_S = 0.01   # how often a polling client reads its order
WAIT_S = 10     # how long a long-polling client asks to wait
FLOOR_PARTS = ("floor_worker", "redis", "flower")


def main() -> None:
    options = parse_arguments()
    if options.both:
        both()
        return
    report = run_stack(options, options.production)
    path = write_report(report)
    print(markdown(report))
    print(f"\nwritten to {path.relative_to(ROOT)}")


def both() -> None:
    """The local default, then PostgreSQL + Redis, the same hour, each in a process of its own
    (nothing of one stack's clients is left to the other): one result with both and the ratios
    the targets are (bench/README.md)."""
    arguments = [argument for argument in sys.argv[1:] if argument != "--both"]
    reports = {}
    for kind, extra in (("local", []), ("production", ["--production"])):
        run = subprocess.run([sys.executable, "-m", "bench.run", *arguments, *extra], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True, check=True)
        print(run.stdout, end="")
        written = run.stdout.strip().splitlines()[-1].removeprefix("written to ")
        reports[kind] = json.loads((ROOT / written).read_text())
    pair = {**reports, "ratios": ratios(reports["local"], reports["production"])}
    path = write_report(pair, suffix="-both")
    print("\n" + ratios_markdown(pair["ratios"]))
    print(f"\nwritten to {path.relative_to(ROOT)}")


def run_stack(options: argparse.Namespace, production: bool) -> dict[str, Any]:
    """Start the stack (on PostgreSQL and the machine's Redis if `production`), measure every
    phase, stop it: the run's report."""
    with tempfile.TemporaryDirectory(prefix="glastonbury-bench-") as workdir, \
            Progress() as progress, ExitStack() as cleanup:
        overrides = dict(BENCH_SETTINGS)
        if options.counting:
            overrides |= round_trips.environment(Path(workdir) / "counts")
        if production:
            overrides |= production_servers(cleanup, options.redis_url)
        stack = Stack(Path(workdir), **overrides)
        stack.parts["floor_worker"] = floor_worker_command(stack.parts["worker"])
        stack.start()
        cleanup.callback(stack.stop)
        if options.keep_logs:
            kept = options.keep_logs / ("production" if production else "local")
            cleanup.callback(shutil.copytree, stack.logs, kept, dirs_exist_ok=True)
        return measure(stack, options, production, progress)


def ratios(local: dict[str, Any], production: dict[str, Any]) -> dict[str, Any]:
    """Issue 22's targets, each a ratio within one run: PostgreSQL + Redis against the local
    default (sagas/s at least 0.85, CPU a saga at most 1.2), each stack's CPU a hop against its
    own floor's (at most 3.5), and each one-at-a-time p50 against its floor chain's."""
    def per(numerator: float | None, denominator: float | None) -> float | None:
        return round(numerator / denominator, 2) if numerator and denominator else None

    def p50_vs_floor(report: dict[str, Any]) -> float | None:
        return per(report["one_at_a_time"]["p50_ms"], report["floor_one_at_a_time"]["p50_ms"])

    return {
        "production_vs_local_sagas_per_s": per(production["sagas_per_s"], local["sagas_per_s"]),
        "production_vs_local_cpu_per_saga": per(production["cpu_ms_per_saga"],
                                                local["cpu_ms_per_saga"]),
        "cpu_per_hop_vs_floor": {"local": local["cpu_per_hop_vs_floor"],
                                 "production": production["cpu_per_hop_vs_floor"]},
        "one_at_a_time_p50_vs_floor": {"local": p50_vs_floor(local),
                                       "production": p50_vs_floor(production)},
        "targets": {"production_vs_local_sagas_per_s": ">= 0.85",
                    "production_vs_local_cpu_per_saga": "<= 1.2",
                    "cpu_per_hop_vs_floor": "<= 3.5 (aim 2.5)"},
    }


def ratios_markdown(figures: dict[str, Any]) -> str:
    hop, p50 = figures["cpu_per_hop_vs_floor"], figures["one_at_a_time_p50_vs_floor"]
    return "\n".join([
        "| ratio, one run | figure | target |", "|---|---|---|",
        f"| PostgreSQL + Redis / local: sagas/s | {figures['production_vs_local_sagas_per_s']}"
        " | ≥ 0.85 |",
        f"| PostgreSQL + Redis / local: CPU a saga | "
        f"{figures['production_vs_local_cpu_per_saga']} | ≤ 1.2 |",
        f"| CPU a saga hop / a floor hop: local, production | {hop['local']}, "
        f"{hop['production']} | ≤ 3.5 |",
        f"| one at a time p50 / the floor chain's: local, production | {p50['local']}, "
        f"{p50['production']} | kept |"])


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=int(os.environ.get("BENCH_ORDERS", 400)),
                        help="orders of the load phase")
    parser.add_argument("--clients", type=int, default=16, help="clients of the load phase")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of the load phase (the machine is noisy: the median counts)")
    parser.add_argument("--burst", type=int, default=1000, help="orders placed at once")
    parser.add_argument("--burst-clients", type=int, default=64)
    parser.add_argument("--one", type=int, default=100, help="orders placed one at a time")
    parser.add_argument("--hold", type=int, default=0, help="sagas left waiting for payment")
    parser.add_argument("--hold-timeout", type=float, default=1800)
    parser.add_argument("--production", action="store_true",
                        help="PostgreSQL (TEST_DATABASE_URL's server) and an external Redis")
    parser.add_argument("--both", action="store_true",
                        help="the local stack, then --production's, in one run: one result "
                             "with both and their ratios")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--keep-logs", type=Path, help="copy every part's log here")
    parser.add_argument("--no-counting", dest="counting", action="store_false",
                        default=os.environ.get("BENCH_COUNT_ROUND_TRIPS", "1") != "0",
                        help="leave the round-trip counters out of the stack's processes (their "
                             "cost, to compare with code that had none; BENCH_COUNT_ROUND_TRIPS=0)")
    return parser.parse_args()


def production_servers(cleanup: ExitStack, redis_url: str) -> dict[str, str]:
    """Fresh PostgreSQL databases, one per service, and a flushed database of a real Redis."""
    from tests.conftest import fresh_postgres_database

    os.environ.setdefault("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        create_engine(os.environ["TEST_DATABASE_URL"].replace(
            "postgresql://", "postgresql+psycopg://")).connect().close()
        redis.Redis.from_url(redis_url).ping()
    except Exception as error:  # noqa: BLE001 - any reason: say it and stop
        sys.exit(f"--production needs PostgreSQL ({os.environ['TEST_DATABASE_URL']}) and "
                 f"Redis ({redis_url}); not measured: {error}")
    urls = {settings.DATABASE_URLS[name].name: cleanup.enter_context(fresh_postgres_database())
            for name in topology.DATABASES}
    redis.Redis.from_url(redis_url).flushdb()
    return urls | {"REDIS_URL": redis_url}


def floor_worker_command(worker: str) -> str:
    """The saga worker's own command line, serving the floor's app and queue instead."""
    command = worker.replace("-A orchestrator", "-A bench.floor")
    command = re.sub(r"--hostname \S+", "--hostname floor@%h", command)
    return f"{command} -Q {floor.QUEUE}"


def measure(stack: Stack, options: argparse.Namespace, production: bool = False,
            progress: Progress | None = None) -> dict[str, Any]:
    progress = progress or Progress.quiet()
    with progress.phase("starting the stack"):
        stack.wait_until_ready()
        urls = database_urls(stack.env)
        driver = OrderDriver(stack.url("order"), stack.url("inventory"), urls["order"],
                             stack.env["ADMIN_TOKEN"], progress)
        control = Celery(broker=stack.env["REDIS_URL"], set_as_current=False).control
        wait_for(lambda: ping(control, "worker@") and ping(control, "floor@"), 120, "workers up")
    floor.app.conf.broker_url = stack.env["REDIS_URL"]
    trips = round_trips.RoundTrips(Path(stack.env["BENCH_COUNTERS_DIR"]), stack.processes,
                                   stack.env["REDIS_URL"], urls) \
        if "BENCH_COUNTERS_DIR" in stack.env else None
    ticket = driver.new_ticket(available=10_000_000)
    with progress.section("warm-up"):
        driver.one_at_a_time(30, ticket)  # warm-up: the bridge in its group, every pool open
        floor.one_at_a_time(30, SAGA_HOPS, progress)
    report: dict[str, Any] = {"machine": machine(), "settings": {
        "orders": options.orders, "clients": options.clients, "burst": options.burst,
        "repeat": options.repeat,
        "one_at_a_time": options.one, "saga_hops": SAGA_HOPS,
        "production": production, "round_trips_counted": trips is not None,
        "worker": stack.parts["worker"],
        "floor_worker": stack.parts["floor_worker"],
        "services": {part.name: stack.parts[part.name] for part in topology.services()},
        "ticket_limits": driver.limits,   # raised: see OrderDriver.new_ticket
        **BENCH_SETTINGS}}

    def load_run(number: int) -> dict[str, Any]:
        with progress.section(f"load {number}/{options.repeat}"):
            return with_cpu(stack, options.orders, lambda: driver.load(
                options.orders, ticket, options.clients), settle_first=True, trips=trips)

    phases = {
        "one_at_a_time": lambda: driver.one_at_a_time(options.one, ticket),
        "floor_one_at_a_time": lambda: floor.one_at_a_time(options.one, SAGA_HOPS, progress),
        "load": lambda: median_run([load_run(number + 1) for number in range(options.repeat)]),
        # The same clients following their orders to the end, as people do: polling every
        # 10 ms, then with the long-poll `GET /orders/{id}?wait=`.
        "polling": lambda: with_cpu(stack, options.orders, lambda: driver.load_followed(
            options.orders, ticket, options.clients, poll_s=POLL_S)),
        "waiting": lambda: with_cpu(stack, options.orders, lambda: driver.load_followed(
            options.orders, ticket, options.clients, wait_s=WAIT_S)),
        "burst": lambda: with_cpu(stack, options.burst, lambda: driver.load(
            options.burst, ticket, options.burst_clients)),
        "floor": lambda: with_cpu(stack, options.burst * SAGA_HOPS,
                                  lambda: floor.run_chains(options.burst, SAGA_HOPS,
                                                           progress=progress),
                                  counted=lambda part: part in FLOOR_PARTS, trips=trips),
        "hold": lambda: hold(stack, driver, control, ticket, options, urls["orchestrator"],
                             progress),
    }
    for name, phase in phases.items():
        if name == "hold" and not options.hold:
            continue
        settle(stack)
        with progress.section(name):
            report[name] = phase()
        print(f"{name}: {json.dumps(report[name])}", file=sys.stderr, flush=True)
    report |= headline(report)
    return report


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median throughput, with every run's headline figures beside it."""
    ordered = sorted(runs, key=lambda run: run["sagas_per_s"])
    return ordered[len(ordered) // 2] | {"runs": [
        {key: run[key] for key in ("sagas_per_s", "cpu_ms_per_unit_stack", "cores_busy")}
        for run in runs]}


def settle(stack: Stack, quiet_s: float = 1.0, timeout_s: float = 60) -> None:
    """Wait until the stack is idle (no part busy), so one phase does not bleed into the next."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        before = sum(cpu_by_part(stack).values())
        time.sleep(quiet_s)
        if sum(cpu_by_part(stack).values()) - before < 0.5 * quiet_s:
            return


def with_cpu(stack: Stack, units: int, run: Any,
             counted: Any = lambda part: part not in NOT_THE_STACK,
             settle_first: bool = False,
             trips: round_trips.RoundTrips | None = None) -> dict[str, Any]:
    """`run()`'s figures plus the CPU time each part of the stack spent per unit of work.

    CPU seconds do not stretch when other programs share the cores, so they say where the time
    goes even on a busy machine; 'ms per unit' summed over the `counted` parts is the cost.
    """
    if settle_first:
        settle(stack)
    counts_before = trips.snapshot() if trips else {}
    external = on_external_servers(stack)
    postgresql_before = postgresql_cpu_by_role() if external else {}
    sessions_before = postgresql_sessions() if external else {}
    before, busy_before, began = cpu_by_part(stack), machine_busy_s(), time.time()
    figures = run()
    after, busy_after, elapsed = cpu_by_part(stack), machine_busy_s(), time.time() - began
    if external:   # where PostgreSQL's share went: which backends, its own processes
        postgresql_after = postgresql_cpu_by_role()
        whose = databases_of(stack)
        figures["postgresql_cpu_ms_per_unit_by_role"] = {
            whose.get(role, role): round((used - postgresql_before.get(role, 0.0)) * 1000 / units,
                                         2)
            for role, used in sorted(postgresql_after.items(), key=lambda kv: -kv[1])}
        # Each a backend forked and signed in: a pool that does not keep its connections. (The
        # bench's own look at the counts is one, in the database it connects to.)
        sessions = postgresql_sessions()
        figures["postgresql_connections_opened_per_unit"] = {
            whose.get(f"backend {name}", name).removeprefix("backend "): round(
                (count - sessions_before.get(name, 0)) / units, 3)
            for name, count in sessions.items() if count > sessions_before.get(name, 0)}
    if trips:  # every round trip of the phase, per unit and part
        figures["round_trips_per_unit"] = round_trips.per_unit(counts_before, trips.snapshot(),
                                                               units)
    spent = {part: round((after[part] - before.get(part, 0.0)) * 1000 / units, 2)
             for part in after}
    stack_total = sum(ms for part, ms in spent.items() if counted(part))
    return figures | {"cpu_ms_per_unit": dict(sorted(spent.items(), key=lambda kv: -kv[1])),
                      "cpu_ms_per_unit_stack": round(stack_total, 2),
                      "cores_busy": round((busy_after - busy_before) / elapsed, 2)}


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy so far (every core, every process)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def cpu_by_part(stack: Stack) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each running part's process tree, and by
    the servers outside the stack that `--production` uses (PostgreSQL, the machine's Redis)."""
    used: dict[str, float] = {}
    for part, process in stack.processes.items():
        try:
            root = psutil.Process(process.pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        used[part] = sum(_cpu(p) for p in tree)
    if on_external_servers(stack):
        for server, processes in external_servers().items():
            used[server] = sum(_cpu(p) for p in processes)
    used["bench"] = _cpu(psutil.Process())
    return used


def on_external_servers(stack: Stack) -> bool:
    """Whether the stack runs on the servers `--production` points it at (no Redis of its
    own): their CPU is then the stack's too."""
    return "redis" not in stack.parts


def external_servers() -> dict[str, list[psutil.Process]]:
    """PostgreSQL's processes and the Redis server the stack was pointed at (by name)."""
    found: dict[str, list[psutil.Process]] = {"postgresql": [], "redis": []}
    for process in psutil.process_iter(["name", "cmdline"]):
        name, command = process.info["name"] or "", " ".join(process.info["cmdline"] or [])
        if name.startswith("postgres") or command.startswith("postgres"):
            found["postgresql"].append(process)
        elif name.startswith("redis-server") and ":6379" in command:
            found["redis"].append(process)
    return found


def postgresql_cpu_by_role() -> dict[str, float]:
    """PostgreSQL's CPU seconds so far by what its processes do: each database's backends
    (`backend <database>`), its own workers (walwriter, checkpointer...), and the backends
    that exited (their times are the postmaster's children's)."""
    by_role: dict[str, float] = {}
    for process in external_servers()["postgresql"]:
        try:
            title = " ".join(process.cmdline())
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        if not title.startswith("postgres: "):
            role = "postmaster"
            by_role["exited backends"] = (by_role.get("exited backends", 0.0)
                                          + times.children_user + times.children_system)
        else:   # "postgres: 15/main: checkpointer", "postgres: 15/main: user db host(port) idle"
            words = title.split(": ")[-1].split()
            role = f"backend {words[1]}" if len(words) > 2 and "(" in words[2] else \
                " ".join(words)
        by_role[role] = by_role.get(role, 0.0) + times.user + times.system
    return by_role


def databases_of(stack: Stack) -> dict[str, str]:
    """`backend <database>` -> `backend <service>` for the stack's databases (the
    bench names them at random)."""
    return {f"backend {urlsplit(stack.env[setting.name]).path.lstrip('/')}":
            f"backend {service}"
            for service, setting in settings.DATABASE_URLS.items()
            if stack.env.get(setting.name, "").startswith("postgresql")}


def postgresql_sessions() -> dict[str, int]:
    """Connections PostgreSQL accepted so far, by database (pg_stat_database.sessions)."""
    with psycopg.connect(os.environ["TEST_DATABASE_URL"], autocommit=True) as connection:
        rows = connection.execute("SELECT datname, sessions FROM pg_stat_database "
                                  "WHERE datname IS NOT NULL").fetchall()
    return {name: int(sessions or 0) for name, sessions in rows}


def _cpu(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system + times.children_user + times.children_system


def hold(stack: Stack, driver: OrderDriver, control: Any, ticket: str,
         options: argparse.Namespace, saga_database: str,
         progress: Progress | None = None) -> dict[str, Any]:
    """H sagas waiting for a payment: the worker's memory and activity, and new orders meanwhile."""
    worker_pid = stack.processes["worker"].pid
    rss_before = tree_rss(worker_pid)
    began = time.time()
    driver.place_many(options.hold, ticket, options.clients, customer=HELD_CUSTOMER)
    placed_in = time.time() - began
    engine = create_engine(saga_database)
    waiting = lambda: awaiting_payment(engine)  # noqa: E731
    deadline = time.time() + options.hold_timeout
    with (progress or Progress.quiet()).phase("sagas waiting for payment",
                                              total=options.hold) as phase:
        while (count := waiting()) < options.hold and time.time() < deadline:
            phase.update(done=count)
            time.sleep(1)  # measured with however many wait by the deadline
        phase.update(done=count)
    waiting_after = time.time() - began
    settle(stack)
    active = control.inspect(timeout=3).active() or {}
    rss_after = tree_rss(worker_pid)
    meanwhile = driver.one_at_a_time(options.one, ticket)
    return {"held": options.hold, "placed_in_s": round(placed_in, 1),
            "all_waiting_after_s": round(waiting_after, 1), "awaiting_payment": waiting(),
            "worker_rss_before_mb": rss_before, "worker_rss_after_mb": rss_after,
            "active_tasks": {name: len(tasks) for name, tasks in active.items()},
            "new_orders_while_held": meanwhile}


def awaiting_payment(engine: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(sagas)
                                      .where(sagas.c.state == "AWAITING_PAYMENT")).scalar_one())


def tree_rss(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB."""
    root = psutil.Process(pid)
    total = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
    return round(total / 2**20, 1)


def ping(control: Any, prefix: str) -> bool:
    answers = control.ping(timeout=1) or []
    return any(name.startswith(prefix) for answer in answers for name in answer)


def headline(report: dict[str, Any]) -> dict[str, Any]:
    load, floor_run = report["load"], report["floor"]
    saga_hops = load["sagas_per_s"] * SAGA_HOPS
    floor_hop_cpu = floor_run["cpu_ms_per_unit_stack"]
    return {"sagas_per_s": load["sagas_per_s"],
            "p50_ms": round(report["one_at_a_time"]["p50_ms"], 1),
            "p99_ms": round(report["one_at_a_time"]["p99_ms"], 1),
            "cpu_ms_per_saga": load["cpu_ms_per_unit_stack"],
            "polling_sagas_per_s": report["polling"]["sagas_per_s"],
            "waiting_sagas_per_s": report["waiting"]["sagas_per_s"],
            "burst_first_completed_s": report["burst"]["first_completed_s"],
            "burst_sagas_per_s": report["burst"]["sagas_per_s"],
            "floor_hops_per_s": floor_run["hops_per_s"],
            "saga_hops_per_s": round(saga_hops, 1),
            "cost_per_hop_vs_floor": round(floor_run["hops_per_s"] / saga_hops, 2)
            if saga_hops else None,
            "cpu_per_hop_vs_floor": round(load["cpu_ms_per_unit_stack"] / SAGA_HOPS
                                          / floor_hop_cpu, 2) if floor_hop_cpu else None}


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.*)", cpuinfo)
    return {"cores": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "cpu_model": model.group(1).strip() if model else platform.processor(),
            "python": platform.python_version(), "platform": platform.platform(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def write_report(report: dict[str, Any], suffix: str | None = None) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    report["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    if suffix is None:
        suffix = "-production" if report["settings"]["production"] else ""
    path = RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}{suffix}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def markdown(report: dict[str, Any]) -> str:
    settings, load, burst = report["settings"], report["load"], report["burst"]
    one, floor_run = report["one_at_a_time"], report["floor"]
    parts = ", ".join(f"{part} {ms}" for part, ms in load["cpu_ms_per_unit"].items()
                      if part not in NOT_THE_STACK and ms >= 0.05)
    rows = [
        ("stores and broker", "PostgreSQL + Redis 6379" if settings["production"]
         else "SQLite files + embedded Redis"),
        (f"completed sagas/s, {settings['orders']} orders from {settings['clients']} clients "
         f"(median of {len(load.get('runs', [load]))} runs)", report["sagas_per_s"]),
        ("those runs: sagas/s, CPU ms per saga, cores busy",
         "; ".join(f"{run['sagas_per_s']}, {run['cpu_ms_per_unit_stack']}, {run['cores_busy']}"
                   for run in load.get("runs", []))),
        (f"p50 / p99 `POST /orders` → COMPLETED, one at a time (N={settings['one_at_a_time']})",
         f"{one['p50_ms']:.1f} / {one['p99_ms']:.1f} ms"),
        ("CPU per saga, whole stack (ms)", report["cpu_ms_per_saga"]),
        ("CPU per saga by part (ms)", parts),
        (f"the same clients following each order to its end: polling every {POLL_S * 1000:g} ms "
         f"/ long-poll `?wait={WAIT_S}`: sagas/s, reads per order, order service CPU per saga",
         " / ".join(f"{phase['sagas_per_s']}, {phase['reads_per_order']}, "
                    f"{phase['cpu_ms_per_unit'].get('order')} ms"
                    for phase in (report["polling"], report["waiting"]))),
        (f"burst of {settings['burst']}: first COMPLETED after / sagas/s",
         f"{burst['first_completed_s']} s / {burst['sagas_per_s']}"),
        ("burst: completed by each tenth of its duration", burst["completed_by_tenth"]),
        (f"saga hops/s (sagas/s × {SAGA_HOPS}) / floor no-op hops/s",
         f"{report['saga_hops_per_s']} / {report['floor_hops_per_s']}"),
        ("cost of a saga hop vs a floor hop: wall clock / CPU",
         f"{report['cost_per_hop_vs_floor']}× / {report['cpu_per_hop_vs_floor']}×"),
        ("round trips per saga, all parts (load; by part in the JSON's "
         "`load.round_trips_per_unit`)", ", ".join(
             f"{kind} {n}" for kind, n in load.get("round_trips_per_unit", {})
             .get("all parts", {}).items())),
        (f"floor: CPU per hop (ms), {SAGA_HOPS}-hop chain one at a time (ms)",
         f"{floor_run['cpu_ms_per_unit_stack']} / {report['floor_one_at_a_time']['p50_ms']}"),
    ]
    if "hold" in report:
        held = report["hold"]
        rows += [
            (f"worker RSS before / with {held['awaiting_payment']} waiting (MiB)",
             f"{held['worker_rss_before_mb']} / {held['worker_rss_after_mb']}"),
            ("active tasks while they wait", sum(held["active_tasks"].values())),
            ("p50 / p99 of new orders while they wait (ms)",
             f"{held['new_orders_while_held']['p50_ms']:.1f} / "
             f"{held['new_orders_while_held']['p99_ms']:.1f}"),
        ]
    machine_line = (f"{report['machine']['cores']} cores, {report['machine']['cpu_model']}, "
                    f"{report['machine']['memory_gb']} GiB, Python {report['machine']['python']}")
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    return f"{machine_line}\n\n| measure | value |\n|---|---|\n{table}"


if __name__ == "__main__":
    main()
