"""Chaos: orders placed while a worker, the bridge, the relay and the services are SIGKILLed.

A small run (CHAOS_ORDERS, 60 by default); `make chaos` runs a thousand and keeps a report.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.harness import ChaosRun, chaos_stack
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
