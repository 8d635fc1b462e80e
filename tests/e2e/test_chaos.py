"""Chaos: orders placed while a worker, the bridge, the relay and the services are SIGKILLed;
while Redis (losing its last second of writes too) and the Kafka broker are killed and the
network to them and the services is slow, reset or cut; and on a PostgreSQL server that is
killed too.

Small runs (CHAOS_ORDERS, 60 by default); `make chaos` runs a thousand and keeps a report.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.harness import ALWAYS_KILLED, LINKS, POSTGRESQL, ChaosRun, chaos_stack
from tests.chaos.postgres import server_binaries
from tests.chaos.soak import Soak
from tests.chaos.soak_figures import table
from tests.e2e.stack import RAISED_LIMITS, Stack

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
    figures = ended_and_agreeing(ChaosRun(
        own_stack, orders=int(os.environ.get("CHAOS_ORDERS", "60")), seed=20260, rate_per_s=4.0,
        settle_timeout_s=100))
    assert {"worker", "bridge", "payment_relay"} <= set(figures["kills"])
    assert figures["kills_total"] >= 4


# `make soak` in short: its capacity measured, a few hundred orders at a share of it, one fault,
# and a report with every figure the whole sale's has (tests/chaos/soak.py).
def test_a_short_soak_judges_its_orders_clean_and_reports_memory_store_latency_and_throughput(
        own_stack: Stack) -> None:
    # At 0.3 of the capacity the 300 orders take three times the fault's 5 s or more, however
    # fast the machine: at 0.7 a fast one placed them all in 5.3 s, the fault fell on the last
    # tenth and left it with nothing placed.
    report = Soak(own_stack, orders=300, capacity_orders=100, rate_fraction=0.3,
                  fault_every_s=5, max_faults=1, sample_every_s=1, seed=20261203,
                  settle_timeout_s=100).run()
    print(f"\n{table(report)}")
    json.dumps(report)   # written as JSON by `make soak`

    assert report["ok"], report["problems"]
    assert report["verdict"]["settled"] and report["verdict"]["parked_sagas"] == 0
    assert report["verdict"]["never_acknowledged"] == 0
    assert report["capacity"]["sagas_per_s"] > 0 and report["capacity"]["ended"] == 100
    assert 0 < report["rate_per_s"] <= report["capacity"]["sagas_per_s"]
    assert report["raised_limits"] == RAISED_LIMITS
    victim = ALWAYS_KILLED[0]   # the first in turn
    assert [fault["victim"] for fault in report["faults"]] == [victim]
    assert report["faults"][0]["at_s"] >= 5

    parts = set(own_stack.processes)
    assert set(report["memory"]) == parts
    for name, figures in report["memory"].items():
        assert figures["start_mb"] > 0 and figures["end_mb"] > 0, name
        assert figures["lives"] == (2 if name == victim else 1), name
        if name != victim:   # its first life may end before three samples are fitted
            assert isinstance(figures["slope_mb_per_10k_orders"], float), name

    store = report["saga_store"]["at_end"]
    assert store["rows"]["sagas"] == 20 + 100 + 300
    assert store["rows"]["saga_steps"] > store["rows"]["sagas"]
    assert store["bytes"] > report["saga_store"]["at_start"]["bytes"]

    tenths = report["tenths"]
    assert [row["tenth"] for row in tenths] == list(range(1, 11))
    assert sum(row["placed"] for row in tenths) == 300
    for row in tenths:
        assert row["placed_per_s"] > 0 and row["ended_per_s"] >= 0 and row["backlog_at_end"] >= 0
        assert 0 < row["p50_ms"] <= row["p99_ms"]

    assert report["load_average"]["max"] > 0

    judged = report["flat"]
    assert isinstance(judged["memory"], bool) and isinstance(judged["latency"], bool)
    assert judged["bounds"]["mb_per_10k"] > 0 and judged["bounds"]["p99_ratio"] > 1
    assert judged["p99_last_vs_second"] == round(tenths[-1]["p99_ms"] / tenths[1]["p99_ms"], 2)
    assert judged["latency_judged_on"] in ("p99_ms", "p99_away_from_faults_ms")


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
            # Redis twice a round: its second kill is a power cut (its last second lost).
            rate_per_s=4.0, settle_timeout_s=100, always=("redis", "kafka", "bridge", "redis"),
            services=()))
    finally:
        stack.stop()
    assert {"redis", "kafka", "bridge"} <= set(figures["kills"])
    assert figures["redis_power_cuts"]["count"] >= 1
    assert "redis loses its last second" in figures["recovery"]
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
