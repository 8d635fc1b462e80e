"""Chaos: orders placed while a worker, the bridge, the relay and the services are SIGKILLed;
while Redis and the Kafka broker are killed and the network to them and the services is slow,
reset or cut; and on a PostgreSQL server that is killed too.

Small runs (CHAOS_ORDERS, 60 by default); `make chaos` runs a thousand and keeps a report.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.harness import LINKS, POSTGRESQL, ChaosRun, chaos_stack
from tests.chaos.postgres import server_binaries
from tests.e2e.stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[Stack]:
    stack = chaos_stack(tmp_path)
    try:
        yield stack
    finally:
        stack.stop()
        print(f"\nchaos stack logs kept in {stack.logs}")


def test_after_random_crashes_of_every_moving_part_every_order_ends_and_the_databases_agree(
        own_stack: Stack) -> None:
    run = ChaosRun(own_stack, orders=int(os.environ.get("CHAOS_ORDERS", "60")), seed=20260,
                   rate_per_s=4.0, settle_timeout_s=100)
    verdict = run.run()
    print(f"\nchaos figures: {verdict.figures}")
    assert verdict.ok, verdict.summary()
    assert verdict.figures["settled"]
    assert {"worker", "bridge", "payment_relay"} <= set(verdict.figures["kills"])
    assert verdict.figures["kills_total"] >= 4
    assert verdict.figures["never_acknowledged"] == 0


def ended_and_agreeing(run: ChaosRun) -> dict:
    verdict = run.run()
    print(f"\nchaos figures: {verdict.figures}")
    assert verdict.ok, verdict.summary()
    assert verdict.figures["settled"]
    assert verdict.figures["never_acknowledged"] == 0
    return verdict.figures


def test_after_broker_crashes_and_network_faults_every_order_ends_and_the_databases_agree(
        tmp_path: Path) -> None:
    stack = chaos_stack(tmp_path, links=LINKS)
    try:
        figures = ended_and_agreeing(ChaosRun(
            stack, orders=int(os.environ.get("CHAOS_ORDERS", "60")), seed=20261,
            rate_per_s=4.0, settle_timeout_s=100, always=("redis", "kafka", "bridge"),
            services=()))
    finally:
        stack.stop()
    assert {"redis", "kafka", "bridge"} <= set(figures["kills"])
    assert {fault.split()[0] for fault in figures["network_faults"]} == {
        "latency", "reset", "blackhole"}
    assert {"kill redis", "kill kafka", "latency", "reset", "blackhole"} <= set(
        figures["recovery"])


@pytest.mark.skipif(server_binaries() is None, reason="no PostgreSQL server binaries here "
                    "(Debian's postgresql package; .ci/run installs it)")
def test_after_crashes_of_the_postgresql_server_every_order_ends_and_the_databases_agree(
        tmp_path: Path) -> None:
    stack = chaos_stack(tmp_path, database=POSTGRESQL)
    try:
        figures = ended_and_agreeing(ChaosRun(
            stack, orders=int(os.environ.get("CHAOS_ORDERS", "60")), seed=20262,
            rate_per_s=4.0, settle_timeout_s=100, always=(POSTGRESQL, "worker"), services=()))
    finally:
        stack.stop()
    assert figures["kills"][POSTGRESQL] >= 1
