"""`python -m tests.chaos.soak` (`make soak`): the whole sale in one go, a fault every few minutes.

On a stack of its own (the chaos harness's: its short repair settings and the sale's limits
raised, `CHAOS_SETTINGS`), with the chaos harness's orders (3/5 approved, 1/5 declined by the
gateway, 1/5 for scarce tickets), each POSTed with its Idempotency-Key and retried until the order
service answers, from a pool of clients on kept-alive connections:

1. capacity: after a warm-up, SOAK_CAPACITY_ORDERS (3,000) orders at once from
   SOAK_BURST_CLIENTS (32) clients; sagas completed a second from the first `createdAt` to the
   last `updatedAt`, and over the later half of the completions (`steady_rate`), the lower
   counting;
2. the sale: SOAK_ORDERS (135,000: Glastonbury's 2020 sale, sold in 34 minutes) placed at a
   steady SOAK_RATE_FRACTION (0.7) of that capacity (or SOAK_RATE orders a second) from
   SOAK_CLIENTS (16) clients; every SOAK_FAULT_EVERY_S (180) s the next of the harness's victims
   in turn (each worker, the bridge, the relay, the three services) is SIGKILLed and started
   again a second or three later; every SOAK_SAMPLE_EVERY_S (10) s each part's memory (RSS of
   its process tree) and the saga store's files are sampled;
3. every part back, every order settled, the chaos verdict (tests/chaos/verdict.py).

Writes bench/results/soak-<timestamp>.json and prints a table; its progress goes to stderr
(`bench.progress`). SOAK_SEED (random), SOAK_SETTLE_TIMEOUT (s, 900). Exits 1 if the verdict
found a problem. The figures and the flat judgment: tests/chaos/soak_figures.py.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import create_engine, func, select, text

from bench.driver import OrderDriver, summarise
from bench.progress import Progress
from bench.run import machine, tree_rss
from devtools.devstack.__main__ import ROOT
from orchestrator.adapters.tables import metadata as saga_store
from tests.chaos.background import OnItsThread
from tests.chaos import soak_figures
from tests.chaos.harness import CHAOS_SETTINGS, ChaosRun, Killer, PlannedOrder, chaos_stack
from tests.chaos.verdict import Verdict, database_urls
from tests.e2e.stack import RAISED_LIMITS, Stack

WARM_UP_ORDERS = 20   # the bridge joins its group, every pool opens: not counted in the capacity


@dataclass
class TurnKiller(Killer):
    """One fault every `every_s`: the next of the victims in turn SIGKILLed, started again after
    `down_s`; at most `max_faults`. `stop()` waits only for a restart under way."""

    max_faults: int | None = None
    made: list[dict[str, Any]] = field(default_factory=list)   # each fault: when, whom, after what
    orders_done: Callable[[], int] = lambda: 0

    def _run(self) -> None:
        victims = itertools.cycle([*self.always, *self.services])
        while not self.stop_event.wait(self.rng.uniform(*self.every_s)):
            if self.max_faults is not None and len(self.made) >= self.max_faults:
                return
            victim = next(victims)
            self.made.append({"at": time.time(), "victim": victim,
                           "orders_acknowledged": self.orders_done()})
            self.stack.kill(victim)
            self.kills[victim] += 1
            time.sleep(self.rng.uniform(*self.down_s))
            self.stack.start(victim)
            self.last_restart = time.monotonic()


class Sampler(OnItsThread):
    """Every `every_s` until stopped: each running part's pid and RSS (its process tree, MB),
    the orders acknowledged so far, the saga store's size on disk and the machine's load
    average (the stack shares its cores: a load above them slows every part)."""

    thread_name = "soak-sampler"

    def __init__(self, stack: Stack, every_s: float, orders_done: Callable[[], int],
                 store_url: str) -> None:
        self.stack, self.every_s, self.orders_done = stack, every_s, orders_done
        self.store_url = store_url
        self.samples: list[dict[str, Any]] = []
        self._make_thread()

    def stop(self) -> None:
        super().stop()
        self.take()

    def take(self) -> None:
        parts = {}
        for name, process in list(self.stack.processes.items()):
            try:
                parts[name] = [process.pid, tree_rss(process.pid)]
            except psutil.Error:
                continue   # killed this moment: the next sample finds its new life
        self.samples.append({"t": time.time(), "orders": self.orders_done(),
                             "store_bytes": store_bytes(self.store_url),
                             "load_average": round(os.getloadavg()[0], 2), "parts": parts})

    def _run(self) -> None:
        self.take()
        while not self.stop_event.wait(self.every_s):
            self.take()


def store_bytes(url: str) -> int | None:
    """The saga store's size on disk: its SQLite file with its journal (None elsewhere)."""
    if not url.startswith("sqlite:///"):
        return None
    path = Path(url.removeprefix("sqlite:///"))
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal"))
               if p.exists())


def store_size(url: str) -> dict[str, Any]:
    """The saga store's rows, table by table, and its size (the files, or PostgreSQL's own)."""
    engine = create_engine(url, **({"connect_args": {"timeout": 30}}
                                   if url.startswith("sqlite") else {}))
    try:
        with engine.connect() as db:
            rows = {table.name: db.execute(select(func.count()).select_from(table)).scalar_one()
                    for table in saga_store.sorted_tables}
            size = store_bytes(url) if url.startswith("sqlite") else db.execute(
                text("select pg_database_size(current_database())")).scalar_one()
    finally:
        engine.dispose()
    return {"rows": rows, "bytes": size}


@dataclass
class Sale:
    """The sale as it went: its orders and rate, the faults and the samples, its start and end
    (epoch s, as the order service's times)."""

    orders: list[PlannedOrder]
    rate_per_s: float
    killer: TurnKiller
    sampler: Sampler
    store_at_start: dict[str, Any]
    began: float = 0.0
    ended: float = 0.0


def steady_rate(ended: dict[str, tuple[str, float, float]]) -> float | None:
    """Sagas ended a second over the later half of a burst's completions: its queues full, what
    the stack keeps up (a burst's first seconds end sagas faster than any long run can: the
    whole burst's rate overstated 2026-12-03's sustained capacity by half)."""
    ends = sorted(updated for _, _, updated in ended.values())
    half = len(ends) // 2
    span = ends[-1] - ends[half] if ends else 0.0
    return round((len(ends) - 1 - half) / span, 1) if span > 0 else None


@dataclass
class Soak:
    """One soak: the capacity measured, then the sale at a share of it under faults."""

    stack: Stack
    orders: int
    capacity_orders: int = 3000
    rate_fraction: float = 0.7
    rate_per_s: float | None = None       # a fixed rate instead of the capacity's share
    fault_every_s: float = 180.0
    max_faults: int | None = None
    clients: int = 16
    burst_clients: int = 32
    sample_every_s: float = 10.0
    seed: int = 0
    settle_timeout_s: float = 900.0
    bounds: soak_figures.FlatBounds = field(default_factory=soak_figures.FlatBounds)
    progress: Progress = field(default_factory=Progress.quiet)

    def run(self) -> dict[str, Any]:
        """The capacity, the sale at its share under faults, the verdict: the report."""
        self.urls = database_urls(self.stack.env)
        self.reader = OrderDriver(self.stack.url("order"), self.stack.url("inventory"),
                                  self.urls["order"], self.stack.env["ADMIN_TOKEN"], self.progress)
        chaos = ChaosRun(self.stack, WARM_UP_ORDERS + self.capacity_orders + self.orders,
                         seed=self.seed, settle_timeout_s=self.settle_timeout_s,
                         progress=self.progress)
        with self.progress.phase("tickets listed"):
            chaos.make_tickets()
        planned = chaos.plan()
        first = WARM_UP_ORDERS + self.capacity_orders
        killer = TurnKiller(self.stack, chaos.rng, every_s=(self.fault_every_s,) * 2,
                            down_s=(1.0, 3.0), max_faults=self.max_faults)
        with self.progress.section("capacity"):
            capacity = self.capacity(chaos, planned[:first], killer)
        rate = self.rate_per_s or round(self.rate_fraction * min(
            capacity["sagas_per_s"], capacity["steady_sagas_per_s"] or capacity["sagas_per_s"]),
            1)
        sale = self.sell(chaos, planned[first:], rate, killer)
        verdict = chaos.settle_and_judge(planned)
        return self.report(chaos, capacity, sale, verdict)

    def sell(self, chaos: ChaosRun, orders: list[PlannedOrder], rate: float,
             killer: TurnKiller) -> Sale:
        """Place the sale's orders at `rate` from the clients while the killer kills and the
        sampler samples; both stopped once the last order was acknowledged."""
        chaos.rate_per_s, chaos.threads = rate, self.clients
        before = len(chaos.acknowledged)
        killer.orders_done = sold = lambda: len(chaos.acknowledged) - before
        sale = Sale(orders, rate, killer, Sampler(self.stack, self.sample_every_s, sold,
                                                  self.urls["orchestrator"]),
                    store_size(self.urls["orchestrator"]), began=time.time())
        sale.sampler.start()
        killer.start()
        try:
            with self.progress.phase("orders acknowledged",
                                     total=before + len(orders)) as placing:
                chaos._place_all(orders, placing, killer)
                chaos._note_placing(placing, killer)
        finally:
            with self.progress.phase("the last restart"):
                killer.stop()
            sale.sampler.stop()
        sale.ended = time.time()
        return sale

    def report(self, chaos: ChaosRun, capacity: dict[str, Any], sale: Sale,
               verdict: Verdict) -> dict[str, Any]:
        """Every figure of the run, its settings and its samples."""
        times = self.order_times([chaos.acknowledged[o.key] for o in sale.orders
                                  if o.key in chaos.acknowledged])
        samples, began, ended = sale.sampler.samples, sale.began, sale.ended
        memory = soak_figures.memory(samples, fit_from=began + (ended - began) / 10)
        by_tenth = soak_figures.tenths(times, began, ended,
                                       [fault["at"] for fault in sale.killer.made])
        return {
            "when": datetime.now(UTC).isoformat(timespec="seconds"), "seed": self.seed,
            "machine": machine(),
            "settings": {**CHAOS_SETTINGS, "orders": self.orders, "clients": self.clients,
                         "rate_fraction": None if self.rate_per_s else self.rate_fraction,
                         "fault_every_s": self.fault_every_s,
                         "sample_every_s": self.sample_every_s},
            "raised_limits": RAISED_LIMITS, "ticket_limits": chaos.limits,
            "capacity": capacity, "rate_per_s": sale.rate_per_s,
            "placed_per_s": round(len(sale.orders) / (ended - began), 1),
            "sale_s": round(ended - began, 1),
            "ok": verdict.ok, "flat": soak_figures.flat(memory, by_tenth, self.bounds),
            "problems": verdict.problems[:200], "problem_count": len(verdict.problems),
            "verdict": verdict.figures,
            "faults": [{**fault, "at_s": round(fault["at"] - began, 1)}   # at: as samples' t
                       for fault in sale.killer.made],
            "memory": memory, "tenths": by_tenth,
            "load_average": {"at_start": samples[0]["load_average"],
                             "max": max(sample["load_average"] for sample in samples),
                             "at_end": samples[-1]["load_average"]},
            "saga_store": {"at_start": sale.store_at_start,
                           "at_end": store_size(self.urls["orchestrator"])},
            "samples": samples,
            "logs": str(self.stack.logs),
        }

    def capacity(self, chaos: ChaosRun, planned: list[PlannedOrder],
                 killer: Killer) -> dict[str, Any]:
        """The warm-up orders, one after another until they end, then the burst at once:
        completed sagas a second from its first `createdAt` to its last `updatedAt`."""
        warm_up, burst = planned[:WARM_UP_ORDERS], planned[WARM_UP_ORDERS:]
        for orders, rate, clients in ((warm_up, 5.0, 1), (burst, float("inf"),
                                                          self.burst_clients)):
            chaos.rate_per_s, chaos.threads = rate, clients
            total = len(chaos.acknowledged) + len(orders)   # the count goes on from before
            with self.progress.phase("orders acknowledged", total=total) as placing:
                chaos._place_all(orders, placing, killer)
            ids = [chaos.acknowledged[o.key] for o in orders if o.key in chaos.acknowledged]
            ended = self.reader.wait_for([uuid.UUID(i).hex for i in ids], self.settle_timeout_s)
        figures = summarise(ended, len(burst))
        return {"orders": len(burst), "clients": self.burst_clients,
                **{key: figures.get(key) for key in ("ended", "statuses", "sagas_per_s",
                                                     "p50_ms", "p99_ms")},
                "steady_sagas_per_s": steady_rate(ended)}

    def order_times(self, order_ids: list[str]) -> dict[str, tuple[float, float]]:
        """Each ended order's `createdAt` and `updatedAt` (epoch s), as the order service has
        them."""
        ended = self.reader.ended(uuid.UUID(order_id).hex for order_id in order_ids)
        return {order_id: (created, updated) for order_id, (_, created, updated) in ended.items()}


def main() -> int:
    env = os.environ.get
    seed = int(env("SOAK_SEED", str(random.randrange(2**31))))
    workdir = Path(tempfile.mkdtemp(prefix="glastonbury-soak-"))
    began = time.monotonic()
    with Progress() as progress:
        with progress.phase("starting the stack"):
            stack = chaos_stack(workdir)
        try:
            report = Soak(stack, int(env("SOAK_ORDERS", "135000")),
                          capacity_orders=int(env("SOAK_CAPACITY_ORDERS", "3000")),
                          rate_fraction=float(env("SOAK_RATE_FRACTION", "0.7")),
                          rate_per_s=float(env("SOAK_RATE", "0")) or None,
                          fault_every_s=float(env("SOAK_FAULT_EVERY_S", "180")),
                          clients=int(env("SOAK_CLIENTS", "16")),
                          burst_clients=int(env("SOAK_BURST_CLIENTS", "32")),
                          sample_every_s=float(env("SOAK_SAMPLE_EVERY_S", "10")), seed=seed,
                          settle_timeout_s=float(env("SOAK_SETTLE_TIMEOUT", "900")),
                          progress=progress).run()
        finally:
            with progress.phase("stopping the stack"):
                stack.stop()
    report["wall_clock_s"] = round(time.monotonic() - began, 1)
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"soak-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(soak_figures.table(report))
    print(f"\nreport written to {path}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
