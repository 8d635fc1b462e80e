"""The parts of the system, declared once: what each runs, where it listens, what it owns, what it
needs and how many of it run.

The local stack (`make up`: devtools.devstack), the test stacks (tests/e2e/stack.py), the chaos
runs and the bench start the parts from here; the Procfile is printed from here

    python -m glastonbury.topology > Procfile

and docker-compose.yml is checked against it (tests/unit/test_docker_compose.py). Plain data: a
part's code is named as its command names it (a module, a `module:factory`), never imported.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from glastonbury import settings
from glastonbury.settings import Setting


@dataclass(frozen=True)
class Part:
    """One kind of process of the system."""

    name: str
    # A shell line, as the Procfile writes it: `$NAME` is filled from the environment.
    command: str
    port: Setting | None = None       # the setting of the port it listens on
    health: str | None = None         # the route that answers while it can serve
    database: str | None = None       # the service database it owns (one of DATABASES)
    needs: tuple[str, ...] = ()       # the servers and the parts it calls
    runs: int | Setting = 1           # how many the stack runs, or the setting that says
    scales: bool = False              # more may run at once (compose's replicas, `--scale`)
    address: Setting | None = None    # where the parts that need it find it
    embedded: bool = False            # a server the local stack runs unless `address` is set
    public: bool = False              # reached from outside: behind the proxy in production


# Each service database and where its service declares its schema (a glastonbury.migrate.Schema:
# its tables and its migrations), as `module:name`. `python -m glastonbury.migrate` imports them
# when it runs, so that the shared kernel imports no service.
DATABASES = {
    "order": "order_service.adapters.tables:SCHEMA",
    "inventory": "inventory_service.adapters.tables:SCHEMA",
    "payment": "payment_service.adapters.tables:SCHEMA",
    "orchestrator": "orchestrator.adapters.tables:SCHEMA",
}

# Run once, before any part with a database starts: every database's schema at head.
MIGRATE = "python -m glastonbury.migrate"

PARTS = {part.name: part for part in (
    Part("redis", "python -m devtools.devstack redis", port=settings.EMBEDDED_REDIS,
         address=settings.REDIS_URL, embedded=True),
    Part("kafka", "python -m devtools.devstack kafka", port=settings.EMBEDDED_KAFKA,
         address=settings.KAFKA_BOOTSTRAP_SERVERS, embedded=True),
    # Each request's body is read on granian's event loop (RSGI, glastonbury.gateway) before a
    # thread runs it: slow clients hold none of the threads.
    Part("order", "granian --interface rsgi --no-ws --host 127.0.0.1 --port $ORDER_PORT "
                  "--workers 1 --factory order_service.entrypoints.flask_app:serve",
         port=settings.PORTS["order"], health="/healthz", database="order",
         needs=("redis", "inventory"), address=settings.SERVICE_URLS["order"], public=True),
    Part("inventory", "granian --interface wsgi --host 127.0.0.1 --port $INVENTORY_PORT "
                      "--workers 1 --blocking-threads 2 "
                      "--factory inventory_service.entrypoints.flask_app:serve",
         port=settings.PORTS["inventory"], health="/healthz", database="inventory",
         address=settings.SERVICE_URLS["inventory"]),
    Part("payment", "granian --interface wsgi --host 127.0.0.1 --port $PAYMENT_PORT "
                    "--workers 1 --blocking-threads 2 "
                    "--factory payment_service.entrypoints.flask_app:serve",
         port=settings.PORTS["payment"], health="/healthz", database="payment",
         address=settings.SERVICE_URLS["payment"]),
    # The simulated gateway and the outbox's publisher: a second one would decide and publish
    # every payment twice.
    Part("payment_relay", "python -m payment_service.entrypoints.relay", database="payment",
         needs=("kafka",)),
    # One step at a time a process (`--pool solo`: the cheapest hop); two keep both cores of a
    # laptop busy while either waits for a service's answer.
    Part("worker", "celery -A orchestrator worker -E --pool solo --loglevel INFO "
                   "--hostname worker@%h",
         database="orchestrator", needs=("redis", "order", "inventory", "payment"),
         runs=settings.WORKER_PROCESSES, scales=True),
    # Exactly one: a second would send every reconciler pass twice.
    Part("beat", "celery -A orchestrator beat --loglevel INFO "
                 "--schedule $GLASTONBURY_VAR/celerybeat-schedule",
         needs=("redis",)),
    # Bridges share the payment results' partitions as one consumer group.
    Part("bridge", "python -m orchestrator.entrypoints.payment_results_bridge",
         database="orchestrator", needs=("redis", "kafka", "payment"), scales=True),
    Part("flower", "python -m orchestrator.entrypoints.dashboard --address=127.0.0.1 "
                   "--port=$FLOWER_PORT",
         port=settings.PORTS["flower"], health="/healthcheck", database="orchestrator",
         needs=("redis",), public=True),
)}

PROCFILE_HEAD = """\
# The local stack, one line a part, printed from glastonbury/topology.py by
# `python -m glastonbury.topology > Procfile`: change the parts there, not here. `make up`
# (devtools.devstack) starts them from that declaration: WORKER_PROCESSES workers, and no redis
# or kafka when REDIS_URL or KAFKA_BOOTSTRAP_SERVERS point elsewhere.
"""


def procfile() -> str:
    """The Procfile: one `name: command` line a part."""
    return PROCFILE_HEAD + "".join(f"{part.name}: {part.command}\n" for part in PARTS.values())


def services() -> list[Part]:
    """The HTTP services the other parts call (order, inventory, payment)."""
    return [part for part in PARTS.values() if part.address and not part.embedded]


def instances(part: Part, environ: dict[str, str]) -> list[str]:
    """The names of the part's processes under the stack (`worker`, `worker2`, ...)."""
    count = part.runs if isinstance(part.runs, int) else int(
        environ.get(part.runs.name) or part.runs.default)
    return [part.name] + [f"{part.name}{number}" for number in range(2, count + 1)]


if __name__ == "__main__":
    if sys.argv[1:]:
        sys.exit("usage: python -m glastonbury.topology > Procfile")
    sys.stdout.write(procfile())
