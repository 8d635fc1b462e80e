"""The chaos harness: orders placed over HTTP while parts of the stack are SIGKILLed and restarted.

A run places orders of three kinds (approved; declined: a total above the gateway's limit; out of
stock: tickets with a small stock) at a steady pace from a few threads, while a killer thread
SIGKILLs one part at a random moment (a Celery worker, the Kafka bridge, the payment relay, an
HTTP service: the whole process group), leaves it down a moment and starts it again. Then every
part runs, the run waits for the databases to settle and `verdict.judge` reads them.

`python -m tests.chaos` runs it on a stack of its own and writes a JSON report; given a
`bench.progress.Progress`, a run shows its phases as they go (orders placed and acknowledged,
then the orders still to end while the stack settles), with the time left.
"""

from __future__ import annotations

import os
import random
import shlex
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import requests

from bench.progress import Phase, Progress
from devtools.devstack import binaries
from glastonbury import settings
from glastonbury.topology import PARTS, instances, services
from tests.chaos.background import OnItsThread
from tests.chaos import power_loss
from tests.chaos.netproxy import FAULTS, RESET, FaultyProxy
from tests.chaos.postgres import PostgresServer, server_binaries
from tests.chaos.recovery import CustomerProbe, Disruption, kill_kind, recovery_by_kind
from tests.chaos.verdict import TERMINAL, Snapshot, Verdict, database_urls, judge
from tests.e2e.stack import RAISED_LIMITS, Stack, wait_for

CUSTOMER = "e081ad0f-f83e-4f81-b2d7-23655ac04b8a"
KINDS = ("approved", "declined", "out_of_stock")
# Each round kills every process that works on orders in the background (a database, no port:
# each worker, the bridge, the relay) and one HTTP service (granian: the whole process group).
ALWAYS_KILLED = tuple(name for part in PARTS.values() if part.database and not part.port
                      for name in instances(part, dict(os.environ)))
SERVICES = tuple(part.name for part in services())
# What `CHAOS_VICTIMS` may name (`make chaos` kills them all): every part the chaos stack runs
# (not the dashboard), the embedded Redis and Kafka broker among them, and the run's own
# PostgreSQL when there is one (`CHAOS_DATABASE=postgresql`).
POSTGRESQL = "postgresql"
REDIS = "redis"
POWER_CUT = "redis loses its last second"
VICTIMS = tuple(name for name in PARTS if name != "flower") + (POSTGRESQL,)
# The connections `CHAOS_NETWORK` may name: the clients' to Redis, to the broker and to each
# service, each through a FaultyProxy of the run's.
LINKS = ("redis", "kafka", *SERVICES)

# The settings the issue asks for, each short so that repairs happen within the run:
CHAOS_SETTINGS = {
    # The reconciler drives a saga that made no progress for 3 s, checking every second.
    "SAGA_STUCK_AFTER": "3",
    "SAGA_RECONCILE_INTERVAL": "1",
    # A killed worker's unacknowledged tasks come back from Redis after 30 s, not an hour.
    "CELERY_VISIBILITY_TIMEOUT": "30",
    # No payment result within 5 s: check_payment asks the payment service (cancels if undecided).
    "PAYMENT_RESULT_TIMEOUT": "5",
    # Steps ride out a service's restart (a second or two) before they give up.
    "STEP_MAX_ATTEMPTS": "6",
    "STEP_RETRY_DELAY": "0.3",
    "STEP_RETRY_MAX_DELAY": "2",
    # Many re-drives are expected while parts are down; parking one would need a person.
    "SAGA_MAX_DRIVES": "50",
    # Every order from one address, most for one customer: the sale's limits raised.
    **RAISED_LIMITS,
}


def still_moving(snapshot: Snapshot) -> str:
    """What keeps a run from settling, for its progress: `not settled yet: sagas 3, ...`."""
    sagas = sum(s["state"] not in TERMINAL or s["payment_to_void"]
                for s in snapshot.sagas.values()) + len(set(snapshot.orders) - set(snapshot.sagas))
    counts = {"sagas": sagas,
              "payments pending": list(snapshot.payments.values()).count("PENDING"),
              "reservations held": list(snapshot.reservations.values()).count("HELD")}
    moving = [f"{what} {count}" for what, count in counts.items() if count]
    return f"not settled yet: {', '.join(moving)}" if moving else ""


class ChaosStack(Stack):
    """A stack whose databases may live on a PostgreSQL server of its own, and whose clients
    may reach Redis, the broker and the services through fault-injecting proxies (`links`)."""

    def __init__(self, workdir: Path, postgres: PostgresServer | None = None,
                 links: Iterable[str] = (), **overrides: str):
        super().__init__(workdir, **overrides)
        self.postgres = postgres
        self.links: dict[str, FaultyProxy] = {}
        latency_s = float(self.env["HTTP_TIMEOUT"]) + 1   # above every client's time-out
        for link in links:
            self.links[link] = self._proxy(link, latency_s)

    def _proxy(self, link: str, latency_s: float) -> FaultyProxy:
        """A proxy in front of the link's server, and the clients pointed at it."""
        port_setting = PARTS[link].port
        assert port_setting is not None, link
        proxy = FaultyProxy(int(self.env[port_setting.name]), latency_s=latency_s).start()
        if link == "redis":
            self.env["REDIS_URL"] = settings.embedded_redis_url(
                Path(self.env["GLASTONBURY_VAR"]), proxy.port)
        elif link == "kafka":
            # The broker's metadata names where to connect: the proxy, or clients would go
            # round it after their first request.
            self.env["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{proxy.port}"
            self.parts["kafka"] = "exec " + shlex.join(binaries.tansu_command(
                int(self.env[port_setting.name]), advertised_port=proxy.port))
        else:
            self.env[settings.SERVICE_URLS[link].name] = f"http://127.0.0.1:{proxy.port}"
        return proxy

    def cut_power(self, name: str) -> int:
        """Redis killed having lost its last second of acknowledged writes (a second of them
        let through first); the bytes of its append-only file lost."""
        data_dir = Path(self.env["GLASTONBURY_VAR"]) / "redis"
        noted = power_loss.increments(data_dir)
        time.sleep(1.0)
        self.kill(name)
        return power_loss.cut_back(data_dir, noted)

    def start_postgres(self) -> None:
        """The run's PostgreSQL up, a database a service in it, and the parts pointed at it."""
        assert self.postgres is not None
        self.postgres.initdb()
        self.env.update(self.postgres.database_urls())
        self.add_server(POSTGRESQL, self.postgres.command())
        wait_for(lambda: binaries.port_is_free(self.postgres.port) is False, 60,
                 "PostgreSQL listening")
        wait_for(self._postgres_answers, 60, "PostgreSQL answering")
        self.postgres.create_databases()

    def _postgres_answers(self) -> bool:
        assert self.postgres is not None
        return subprocess.run([str(self.postgres.bin_dir / "pg_isready"), "-q", "-h",
                               "127.0.0.1", "-p", str(self.postgres.port)],
                              check=False).returncode == 0

    def stop(self) -> None:
        super().stop()
        for proxy in self.links.values():
            proxy.stop()
        if self.postgres is not None:
            self.postgres.remove()


def chaos_stack(workdir: Path, database: str = "sqlite", links: Iterable[str] = (),
                **overrides: str) -> ChaosStack:
    """A stack of its own (never the session's: parts of it get killed), Flower left out; its
    databases on SQLite files or on a PostgreSQL server of its own (`database="postgresql"`),
    the `links` through fault-injecting proxies."""
    postgres = None
    if database == POSTGRESQL:
        bin_dir = server_binaries()
        if bin_dir is None:
            raise MissingPostgres("CHAOS_DATABASE=postgresql needs Debian's postgresql package "
                                  "(initdb, postgres under /usr/lib/postgresql/<version>/bin)")
        postgres = PostgresServer(bin_dir)
    elif database != "sqlite":
        raise ValueError(f"CHAOS_DATABASE is sqlite or postgresql, not {database!r}")
    stack = ChaosStack(workdir, postgres, links, **{**CHAOS_SETTINGS, **overrides})
    if postgres is not None:
        stack.start_postgres()
    stack.start(*[name for name in stack.parts if name not in ("flower", POSTGRESQL)])
    stack.wait_until_ready()
    return stack


def ended_on_their_own(stack: Stack) -> list[str]:
    """A sentence per part that is not running though nobody stopped it: a part that dies of a
    fault it should ride out (a broker cut off) would wait for a person to start it again."""
    return [f"{name} ended on its own (exit status {process.returncode}): see "
            f"{stack.logs / name}.log" for name, process in sorted(stack.processes.items())
            if process.poll() is not None]


class MissingPostgres(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def chosen(names: str | None, among: tuple[str, ...], what: str) -> tuple[str, ...]:
    """The names a comma list picks among `among` (all of them if unset, none for `none`)."""
    if names is None or names.strip() in ("", "all"):
        return among
    if names.strip() == "none":
        return ()
    picked = tuple(name.strip() for name in names.split(",") if name.strip())
    unknown = [name for name in picked if name not in among]
    if unknown:
        raise ValueError(f"{what} names {', '.join(unknown)}; it may name {', '.join(among)}")
    return picked


def victims(names: tuple[str, ...], stack: Stack) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The processes a round kills each of (every worker for `worker`), and the services of
    which it kills one, for the chosen parts that the stack runs."""
    running = [name for name in names if name in PARTS or name in stack.parts]
    every_round = tuple(instance for name in running if name not in SERVICES
                        for instance in (instances(PARTS[name], stack.env)
                                         if name in PARTS else [name]))
    return every_round, tuple(name for name in running if name in SERVICES)


@dataclass
class PlannedOrder:
    key: str
    kind: str
    lines: list[tuple[str, float, int]]   # (ticket, price, quantity)


@dataclass
class Killer(OnItsThread):
    """SIGKILLs the victims in shuffled rounds at random moments; restarts each after a while.

    A round kills each of `always` once and one of `services`, so every kind of part dies at
    least once in a run that lasts a round. `stop()` waits for the round in progress.
    """

    stack: Stack
    rng: random.Random
    always: tuple[str, ...] = ALWAYS_KILLED
    services: tuple[str, ...] = SERVICES
    links: dict[str, FaultyProxy] = field(default_factory=dict)
    every_s: tuple[float, float] = (0.5, 2.5)
    down_s: tuple[float, float] = (0.3, 2.0)
    fault_s: tuple[float, float] = (3.0, 8.0)   # a network fault's length (a reset: a tenth)
    kills: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    lost_bytes: list[int] = field(default_factory=list)   # each power cut's, of Redis's file
    disruptions: list[Disruption] = field(default_factory=list)
    last_restart: float = 0.0

    thread_name = "chaos-killer"

    def __post_init__(self) -> None:
        self._make_thread()

    def _run(self) -> None:
        while not self.stop_event.is_set():
            for event in self.round():
                time.sleep(self.rng.uniform(*self.every_s))   # a random moment
                event()
                self.last_restart = time.monotonic()

    def round(self) -> list[Callable[[], None]]:
        """A round's faults in a random order: each victim killed, one service killed, and a
        fault on each link (the kinds taken in turn, so that each comes once in three links)."""
        victims = [*self.always, *([self.rng.choice(self.services)] if self.services else [])]
        kinds = self.rng.sample(FAULTS, len(FAULTS))
        events: list[Callable[[], None]] = [partial(self.kill, victim) for victim in victims]
        events += [partial(self.cut, link, kinds[index % len(kinds)])
                   for index, link in enumerate(self.links)]
        self.rng.shuffle(events)
        return events

    def kill(self, victim: str) -> None:
        began = time.time()
        # Every other kill of the embedded Redis is a power cut: its last second of
        # acknowledged writes lost with it (tests/chaos/power_loss.py).
        if victim == REDIS and self.kills[victim] % 2 == 1 and isinstance(self.stack,
                                                                          ChaosStack):
            self.lost_bytes.append(self.stack.cut_power(victim))
            kind = POWER_CUT
        else:
            self.stack.kill(victim)
            kind = kill_kind(victim)
        self.kills[victim] += 1
        time.sleep(self.rng.uniform(*self.down_s))    # down for a while, then back
        self.stack.start(victim)
        self.disruptions.append(Disruption(kind, victim, began, time.time()))

    def cut(self, link: str, kind: str) -> None:
        began = time.time()
        self.links[link].inject(kind)
        self.faults[f"{kind} {link}"] += 1
        lasts = self.rng.uniform(*self.fault_s)
        time.sleep(lasts / 10 if kind == RESET else lasts)
        self.links[link].clear()
        self.disruptions.append(Disruption(kind, link, began, time.time()))


@dataclass
class ChaosRun:
    """One run: its plan, what the order service acknowledged, and the figures."""

    stack: Stack
    orders: int
    seed: int = 0
    rate_per_s: float = 5.0
    threads: int = 4
    settle_timeout_s: float = 120.0
    acknowledged: dict[str, str] = field(default_factory=dict)      # key -> order id
    unacknowledged: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    progress: Progress = field(default_factory=Progress.quiet)
    # The victims a round kills each of, and the services of which it kills one (`victims`).
    always: tuple[str, ...] = ALWAYS_KILLED
    services: tuple[str, ...] = SERVICES

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.lock = threading.Lock()
        self.listed: dict[str, dict[str, int]] = {}   # ticket -> its limits, as created
        self.post_retries = 0
        self.placed = 0   # orders whose first POST was sent
        self.clients = threading.local()

    # -- the plan ----------------------------------------------------------------------------

    def make_tickets(self) -> dict[str, int]:
        """Plentiful tickets for approved (50.00) and declined (400.00) orders; scarce ones
        (20.00), stock 2 each. One customer places every order: each ticket's limit per
        customer is raised to its stock, so that only the stock and the payments decide how an
        order ends (its limit per order, the catalogue's 6, is above any order's 3)."""
        self.plentiful = self._new_ticket("chaos-plentiful", 2 * self.orders + 10, 50.0)
        self.dear = self._new_ticket("chaos-dear", 3 * self.orders + 10, 400.0)
        self.scarce = [self._new_ticket(f"chaos-scarce-{n}", 2, 20.0)
                       for n in range(max(2, self.orders // 20))]
        self.initial_stock = {self.plentiful: 2 * self.orders + 10,
                              self.dear: 3 * self.orders + 10,
                              **{ticket: 2 for ticket in self.scarce}}
        self.limits = {"chaos-plentiful": self.listed[self.plentiful],
                       "chaos-dear": self.listed[self.dear],
                       "chaos-scarce-*": self.listed[self.scarce[0]]}
        return self.initial_stock

    def plan(self) -> list[PlannedOrder]:
        planned = []
        for n in range(self.orders):
            kind = KINDS[n % 5 % 3] if n % 5 < 3 else KINDS[0]   # 3/5 approved, 1/5 each other
            if kind == "approved":
                lines = [(self.plentiful, 50.0, self.rng.randint(1, 2))]
            elif kind == "declined":
                lines = [(self.dear, 400.0, 3)]                   # 1200.00 > 1000.00
            else:
                lines = [(self.rng.choice(self.scarce), 20.0, self.rng.randint(1, 2))]
            planned.append(PlannedOrder(f"chaos-{uuid.uuid4()}", kind, lines))
        return planned

    # -- the run -----------------------------------------------------------------------------

    def run(self) -> Verdict:
        """Place every order under chaos, restore the stack, wait until settled, judge."""
        self.make_tickets()
        planned = self.plan()
        self.kinds = {order.key: order.kind for order in planned}
        links = self.stack.links if isinstance(self.stack, ChaosStack) else {}
        killer = Killer(self.stack, self.rng, self.always, self.services, links)
        customer = CustomerProbe(self.stack.url("order"), self._latest_acknowledged)
        started = time.monotonic()
        killer.start()
        customer.start()
        try:
            with self.progress.phase("orders acknowledged", total=self.orders) as placing:
                self._place_all(planned, placing, killer)
                self._note_placing(placing, killer)
        finally:
            # The killer ends its round: ~20 s at most.
            with self.progress.phase("the killer's last round"):
                killer.stop()
        chaos_ended = time.monotonic()
        verdict = self.settle_and_judge(planned)
        customer.stop()
        verdict.figures.update({
            "kills": dict(killer.kills),
            "kills_total": sum(killer.kills.values()),
            "redis_power_cuts": {"count": len(killer.lost_bytes),
                                 "append_only_bytes_lost": killer.lost_bytes},
            "network_faults": dict(killer.faults),
            "recovery": recovery_by_kind(killer.disruptions, self.snapshot.orders,
                                         customer.answers),
            "customer_saw": dict(Counter(answer.seen for answer in customer.answers)),
            "chaos_s": round(chaos_ended - started, 1),
            "settle_s": round(self.settled_at - max(chaos_ended, killer.last_restart), 1),
            "total_s": round(self.settled_at - started, 1),
        })
        return verdict

    def settle_and_judge(self, planned: list[PlannedOrder]) -> Verdict:
        """Once the faults ended: every part back, the orders never acknowledged placed again,
        the databases settled (`settled_at`), then the verdict and the outcomes by kind."""
        self.kinds = {order.key: order.kind for order in planned}
        with self.progress.phase("every part back"):
            self.stack.wait_until_ready()
        # An order whose every POST failed may exist anyway: the same key finds it, or places it.
        if self.unacknowledged:
            with self.progress.phase("orders placed again",
                                     total=len(self.unacknowledged)) as phase:
                for key in list(self.unacknowledged):
                    order = next(o for o in planned if o.key == key)
                    if self._place(order, give_up_after_s=60):
                        self.unacknowledged.remove(key)
                    phase.advance()
        snapshot = self.wait_until_settled()
        self.settled_at = time.monotonic()
        self.snapshot = snapshot
        verdict = judge(snapshot, self.initial_stock, self.acknowledged.values())
        verdict.problems += ended_on_their_own(self.stack)
        by_kind: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
        for key, order_id in self.acknowledged.items():
            status = snapshot.orders.get(order_id, {}).get("status", "MISSING")
            by_kind[self.kinds[key]][status] += 1
        for key, order_id in self.acknowledged.items():
            if self.kinds[key] == "declined" and snapshot.orders.get(order_id, {}).get(
                    "status") == "COMPLETED":
                verdict.problems.append(f"order {order_id} above the gateway's limit completed")
        verdict.figures.update({
            "planned": self.orders,
            "never_acknowledged": len(self.unacknowledged),
            "post_retries": self.post_retries,
            "outcomes_by_kind": {kind: dict(counts) for kind, counts in by_kind.items()},
            "settled": snapshot.settled(),
            "limits": self.limits,
        })
        self.figures = verdict.figures
        return verdict

    def wait_until_settled(self) -> Snapshot:
        """The databases once nothing moves any more, or as they are at the deadline."""
        urls = database_urls(self.stack.env)
        tickets = list(self.initial_stock)
        with self.progress.phase("orders ended since the chaos") as phase:
            unended: set[str] | None = None

            def settled() -> Snapshot | None:
                nonlocal unended
                snapshot = Snapshot.read(urls, tickets)
                now_unended = {order_id for order_id, order in snapshot.orders.items()
                               if order["status"] not in TERMINAL}
                if unended is None:   # the first read: what is left to end once placing ended
                    unended = now_unended
                    phase.update(total=len(unended))
                phase.update(done=len(unended - now_unended), detail=still_moving(snapshot))
                return snapshot if snapshot.settled() else None

            try:
                return wait_for(settled, self.settle_timeout_s, "every order settled",
                                interval_s=0.5)
            except AssertionError:
                return Snapshot.read(urls, tickets)

    def _latest_acknowledged(self) -> str | None:
        with self.lock:
            return next(reversed(self.acknowledged.values()), None)

    def _note_placing(self, placing: Phase, killer: Killer) -> None:
        """The placing phase's counts: acknowledged (the bar), and placed, retried, killed."""
        with self.lock:
            placing.update(done=len(self.acknowledged), detail=(
                f"placed {self.placed:,}, POSTs retried {self.post_retries:,}, "
                f"parts killed {sum(killer.kills.values())}, "
                f"network faults {sum(killer.faults.values())}"))

    def _place_all(self, planned: list[PlannedOrder], placing: Phase, killer: Killer) -> None:
        begin = time.monotonic()

        def paced(index_and_order: tuple[int, PlannedOrder]) -> None:
            index, order = index_and_order
            delay = begin + index / self.rate_per_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)   # the pace of customers, not a wait for the system
            with self.lock:
                self.placed += 1
            if not self._place(order, give_up_after_s=20):
                with self.lock:
                    self.unacknowledged.append(order.key)
            self._note_placing(placing, killer)

        with ThreadPoolExecutor(self.threads) as pool:
            list(pool.map(paced, enumerate(planned)))

    def _place(self, order: PlannedOrder, give_up_after_s: float) -> bool:
        """POST with the order's idempotency key until the order service answers 202."""
        items = [{"id": ticket, "name": "chaos", "amount": price, "quantity": quantity}
                 for ticket, price, quantity in order.lines]
        body = {"customerId": CUSTOMER, "amount": 1.0, "items": items}
        deadline = time.monotonic() + give_up_after_s
        while time.monotonic() < deadline:
            try:
                response = self._client().post(f"{self.stack.url('order')}/orders", json=body,
                                               headers={"Idempotency-Key": order.key},
                                               timeout=10)
                if response.status_code == 202:
                    with self.lock:
                        self.acknowledged[order.key] = response.json()["id"]
                    return True
                assert response.status_code >= 500, response.text
            except requests.RequestException:
                pass  # the order service is down, or died with our request: the key makes it safe
            with self.lock:
                self.post_retries += 1
            time.sleep(0.2)
        return False

    def _client(self) -> requests.Session:
        """This thread's client: its connection to the order service kept alive between orders,
        as a customer's browser keeps it (a new one after the order service died)."""
        session = getattr(self.clients, "session", None)
        if session is None:
            session = self.clients.session = requests.Session()
        return session

    def _new_ticket(self, name: str, available: int, price: float) -> str:
        ticket = str(uuid.uuid4())
        admin = {"Authorization": f"Bearer {self.stack.env['ADMIN_TOKEN']}"}
        response = requests.post(f"{self.stack.url('inventory')}/tickets", timeout=10,
                                 headers=admin, json={"id": ticket, "name": name,
                                                      "available": available, "price": price,
                                                      "maxPerCustomer": available})
        assert response.status_code == 201, response.text
        self.listed[ticket] = {key: response.json()[key]
                               for key in ("maxPerOrder", "maxPerCustomer")}
        return ticket
