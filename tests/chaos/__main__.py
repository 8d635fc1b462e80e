"""`python -m tests.chaos` (`make chaos`): a chaos run of CHAOS_ORDERS orders (1,000) on a stack
of its own; prints the figures and writes them to bench/results/chaos-<timestamp>.json.
Its progress goes to stderr as it runs (`bench.progress`: bars on a terminal, a line every few
seconds elsewhere); stdout gets the report alone.

CHAOS_RATE (orders a second, 6), CHAOS_SEED (random), CHAOS_SETTLE_TIMEOUT (s, 300);
CHAOS_VICTIMS: the parts killed, a comma list among tests.chaos.harness.VICTIMS (all: every
part but the dashboard, Redis and the Kafka broker included, and `postgresql` when there is
one; `none`); CHAOS_NETWORK: the links with network faults, among redis, kafka, order,
inventory, payment (all; `none`: no proxy at all); CHAOS_DATABASE: sqlite (each service's file)
or postgresql (a server of the run's own, killed like the other parts).
Exits 1 if the verdict found a problem, 2 if the run cannot start (no PostgreSQL here).
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.progress import Progress
from devtools.devstack.__main__ import ROOT
from tests.chaos.harness import (CHAOS_SETTINGS, LINKS, VICTIMS, ChaosRun, MissingPostgres,
                                 chaos_stack, chosen, victims)
from tests.chaos.recovery import markdown_table


def main() -> int:
    orders = int(os.environ.get("CHAOS_ORDERS", "1000"))
    rate = float(os.environ.get("CHAOS_RATE", "6"))
    seed = int(os.environ.get("CHAOS_SEED", str(random.randrange(2**31))))
    settle_timeout = float(os.environ.get("CHAOS_SETTLE_TIMEOUT", "300"))
    database = os.environ.get("CHAOS_DATABASE", "sqlite")
    victim_names = chosen(os.environ.get("CHAOS_VICTIMS"), VICTIMS, "CHAOS_VICTIMS")
    links = chosen(os.environ.get("CHAOS_NETWORK"), LINKS, "CHAOS_NETWORK")
    workdir = Path(tempfile.mkdtemp(prefix="glastonbury-chaos-"))
    began = time.monotonic()
    with Progress() as progress:
        with progress.phase("starting the stack"):
            try:
                stack = chaos_stack(workdir, database, links)
            except MissingPostgres as missing:
                print(f"no chaos run: {missing}", file=sys.stderr)
                return 2
        every_round, services = victims(victim_names, stack)
        try:
            run = ChaosRun(stack, orders, seed=seed, rate_per_s=rate, threads=8,
                           settle_timeout_s=settle_timeout, progress=progress,
                           always=every_round, services=services)
            verdict = run.run()
        finally:
            with progress.phase("stopping the stack"):
                stack.stop()
    report = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "seed": seed,
              "rate_per_s": rate, "database": database, "victims": list(victim_names),
              "network_links": list(links), "settings": CHAOS_SETTINGS, "ok": verdict.ok,
              "problems": verdict.problems[:200], "problem_count": len(verdict.problems),
              **verdict.figures, "wall_clock_s": round(time.monotonic() - began, 1),
              "logs": str(stack.logs)}
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"chaos-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(markdown_table(verdict.figures["recovery"]))
    print(f"report written to {path}")
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
