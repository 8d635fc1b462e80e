"""`make bench`: sagas end to end through the real stack, against the floor of plain Celery.

    python -m bench.run --orders 1000 [--hold 10000] [--scale]

Starts every Procfile part as `tests/e2e/stack.py` does (free ports, a temporary workdir), then,
in one run on the same Redis and worker settings:
  1. latency: orders one at a time (the gateway decides at once): p50/p99 of an idle saga;
  2. throughput: N orders at once: completed sagas per second, p50/p99 under load;
  3. floor: N plain Celery chains of as many no-op hops as a saga has, on its own worker with
     the saga worker's concurrency: `floor_hops_per_s`;
  4. --scale: the throughput run again with a second worker process;
  5. --hold H: H sagas waiting for a payment that never comes; the worker's memory (RSS of its
     process tree) before and after, its active tasks, and the latency of new orders meanwhile.
Writes bench/results/<timestamp>.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from celery import Celery

from bench import floor
from bench.driver import OrderDriver
from tests.e2e.stack import Stack, wait_for

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
HELD_CUSTOMER = "00000000-0000-4000-8000-0000000be4c4"
# start, reserve_tickets, request_payment, (the wait is a row, no task), confirm, complete
SAGA_HOPS = 5
BENCH_SETTINGS = {
    "PAYMENT_HOLD_CUSTOMERS": HELD_CUSTOMER,
    "PAYMENT_RESULT_TIMEOUT": "3600",   # held payments wait, nothing times out during the run
    "SAGA_STUCK_AFTER": "600",          # a saga queued behind a burst is not "stuck"
    "SAGA_RECONCILE_INTERVAL": "5",     # the production default
}


def main() -> None:
    options = parse_arguments()
    with tempfile.TemporaryDirectory(prefix="glastonbury-bench-") as workdir:
        stack = Stack(Path(workdir), **BENCH_SETTINGS)
        concurrency = worker_concurrency(stack.parts["worker"])
        stack.parts["floor_worker"] = (
            f"celery -A bench.floor worker -E --loglevel WARNING --concurrency {concurrency} "
            f"--hostname floor@%h -Q {floor.QUEUE}")
        stack.start()
        try:
            report = measure(stack, options, concurrency)
        finally:
            stack.stop()
            if options.keep_logs:
                shutil.copytree(stack.logs, options.keep_logs, dirs_exist_ok=True)
    path = write_report(report)
    print(markdown(report))
    print(f"\nwritten to {path.relative_to(ROOT)}")


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=int(os.environ.get("BENCH_ORDERS", 1000)))
    parser.add_argument("--one-by-one", type=int, default=50, help="orders for the idle latency")
    parser.add_argument("--hold", type=int, default=0, help="sagas left waiting for payment")
    parser.add_argument("--hold-timeout", type=float, default=1800,
                        help="seconds to wait for the held sagas to reach their wait")
    parser.add_argument("--scale", action="store_true", help="also run with 2 worker processes")
    parser.add_argument("--keep-logs", type=Path, help="copy every part's log here")
    parser.add_argument("--clients", type=int, default=8, help="threads placing orders")
    return parser.parse_args()


def measure(stack: Stack, options: argparse.Namespace, concurrency: int) -> dict[str, Any]:
    stack.wait_until_ready()
    driver = OrderDriver(stack.url("order"), stack.url("inventory"),
                         Path(stack.env["GLASTONBURY_VAR"]) / "order.db", options.clients)
    control = Celery(broker=stack.env["REDIS_URL"], set_as_current=False).control
    wait_for(lambda: ping(control, "worker@") and ping(control, "floor@"), 120, "workers up")
    ticket = driver.new_ticket(available=10_000_000)
    driver.run_one_by_one(20, ticket, timeout_s=60)  # warm-up: bridge in its group, pools open
    report: dict[str, Any] = {"machine": machine(), "settings": {
        "orders": options.orders, "worker_concurrency": concurrency, "worker_processes": 1,
        "bridges": 1, "payment_partitions": int(stack.env.get("PAYMENT_RESULTS_PARTITIONS", 4)),
        "clients": options.clients, "saga_hops": SAGA_HOPS,
        "procfile_worker": stack.parts["worker"],
        **BENCH_SETTINGS}}
    phases = {
        "idle": lambda: driver.run_one_by_one(options.one_by_one, ticket),
        "burst": lambda: with_cpu(stack, options.orders,
                                  lambda: driver.run_burst(options.orders, ticket)),
        "floor": lambda: with_cpu(stack, options.orders * SAGA_HOPS,
                                  lambda: run_floor(stack, options.orders)),
        "burst_2_workers": lambda: run_with_second_worker(stack, driver, control, ticket,
                                                          options.orders),
        "hold": lambda: hold(stack, driver, control, ticket, options),
    }
    wanted = {"burst_2_workers": options.scale, "hold": bool(options.hold)}
    for name, phase in phases.items():
        if wanted.get(name, True):
            report[name] = phase()
            print(f"{name}: {json.dumps(report[name])}", file=sys.stderr, flush=True)
    report |= headline(report)
    return report


def run_floor(stack: Stack, chains: int) -> dict[str, Any]:
    os.environ["REDIS_URL"] = stack.env["REDIS_URL"]  # the floor app reads it, like the stack
    floor.app.conf.broker_url = floor.app.conf.result_backend = stack.env["REDIS_URL"]
    floor.run_chains(20, SAGA_HOPS)  # warm-up
    return floor.run_chains(chains, SAGA_HOPS)


def with_cpu(stack: Stack, units: int, run: Any) -> dict[str, Any]:
    """`run()`'s figures plus the CPU time each part of the stack spent per unit of work.

    CPU seconds do not stretch when other programs share the cores, so they say where the time
    goes even on a busy machine; 'ms per unit' summed over the parts is the whole cost.
    """
    before = cpu_by_part(stack)
    figures = run()
    after = cpu_by_part(stack)
    spent = {part: round((after[part] - before.get(part, 0.0)) * 1000 / units, 3)
             for part in after}
    return figures | {"cpu_ms_per_unit": dict(sorted(spent.items(), key=lambda kv: -kv[1])),
                      "cpu_ms_per_unit_total": round(sum(spent.values()), 3)}


def cpu_by_part(stack: Stack) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each running part's process tree."""
    used: dict[str, float] = {}
    for part, process in stack.processes.items():
        try:
            root = psutil.Process(process.pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        used[part] = sum(_cpu(p) for p in tree)
    used["bench"] = _cpu(psutil.Process())
    return used


def _cpu(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system + times.children_user + times.children_system


def run_with_second_worker(stack: Stack, driver: OrderDriver, control: Any, ticket: str,
                           orders: int) -> dict[str, Any]:
    stack.parts["worker2"] = stack.parts["worker"].replace("worker@%h", "worker2@%h")
    stack.start("worker2")
    try:
        wait_for(lambda: ping(control, "worker2@"), 120, "second worker up")
        return driver.run_burst(orders, ticket)
    finally:
        stack.kill("worker2", 15)


def hold(stack: Stack, driver: OrderDriver, control: Any, ticket: str,
         options: argparse.Namespace) -> dict[str, Any]:
    """H sagas waiting for a payment: the worker's memory and activity, and new orders meanwhile."""
    worker_pid = stack.processes["worker"].pid
    rss_before = tree_rss(worker_pid)
    began = time.time()
    driver.place_many(options.hold, ticket, customer=HELD_CUSTOMER)
    placed_in = time.time() - began
    saga_db = Path(stack.env["GLASTONBURY_VAR"]) / "orchestrator.db"
    deadline = time.time() + options.hold_timeout
    while awaiting_payment(saga_db) < options.hold and time.time() < deadline:
        time.sleep(1)  # measured with however many wait by the deadline
    waiting_after = time.time() - began
    time.sleep(2)  # let the last acknowledgements and events settle
    active = control.inspect(timeout=3).active() or {}
    rss_after = tree_rss(worker_pid)
    meanwhile = driver.run_one_by_one(options.one_by_one, ticket)
    return {"held": options.hold, "placed_in_s": round(placed_in, 1),
            "all_waiting_after_s": round(waiting_after, 1),
            "awaiting_payment": awaiting_payment(saga_db),
            "worker_rss_before_mb": rss_before, "worker_rss_after_mb": rss_after,
            "worker_processes": len(psutil.Process(worker_pid).children(recursive=True)) + 1,
            "active_tasks": {name: len(tasks) for name, tasks in active.items()},
            "new_orders_while_held": meanwhile}


def awaiting_payment(saga_db: Path) -> int:
    with sqlite3.connect(f"file:{saga_db}?mode=ro", uri=True, timeout=30) as db:
        query = "SELECT count(*) FROM sagas WHERE state = 'AWAITING_PAYMENT'"
        return db.execute(query).fetchone()[0]


def tree_rss(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB."""
    root = psutil.Process(pid)
    total = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
    return round(total / 2**20, 1)


def ping(control: Any, prefix: str) -> bool:
    answers = control.ping(timeout=1) or []
    return any(name.startswith(prefix) for answer in answers for name in answer)


def worker_concurrency(command: str) -> int:
    found = re.search(r"--concurrency[ =](\d+)", command)
    return int(found.group(1)) if found else os.cpu_count() or 1


def headline(report: dict[str, Any]) -> dict[str, Any]:
    burst, floor_run = report["burst"], report["floor"]
    saga_hops = burst["sagas_per_s"] * SAGA_HOPS
    return {"sagas_per_s": round(burst["sagas_per_s"], 1),
            "p50_ms": round(burst["p50_ms"], 1), "p99_ms": round(burst["p99_ms"], 1),
            "idle_p50_ms": round(report["idle"]["p50_ms"], 1),
            "idle_p99_ms": round(report["idle"]["p99_ms"], 1),
            "floor_hops_per_s": round(floor_run["hops_per_s"], 1),
            "saga_hops_per_s": round(saga_hops, 1),
            "cost_per_hop_vs_floor": round(floor_run["hops_per_s"] / saga_hops, 2)
            if saga_hops else None}


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.*)", cpuinfo)
    return {"cores": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "cpu_model": model.group(1).strip() if model else platform.processor(),
            "python": platform.python_version(), "platform": platform.platform(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def write_report(report: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    report["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    path = RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def markdown(report: dict[str, Any]) -> str:
    settings = report["settings"]
    rows = [
        ("orders (N)", settings["orders"]),
        ("worker concurrency × processes", f"{settings['worker_concurrency']} × 1"),
        ("completed sagas/s (N at once)", report["sagas_per_s"]),
        ("p50 / p99 order → terminal, under that load (ms)",
         f"{report['p50_ms']} / {report['p99_ms']}"),
        ("p50 / p99 order → COMPLETED, one at a time (ms)",
         f"{report['idle_p50_ms']} / {report['idle_p99_ms']}"),
        ("saga hops/s (sagas/s × 5)", report["saga_hops_per_s"]),
        ("floor: no-op hops/s, 5-hop chains", report["floor_hops_per_s"]),
        ("cost per hop vs floor", f"{report['cost_per_hop_vs_floor']}×"),
    ]
    if "burst_2_workers" in report:
        rows.append(("completed sagas/s with 2 worker processes",
                     round(report["burst_2_workers"]["sagas_per_s"], 1)))
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
