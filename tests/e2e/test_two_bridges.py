"""Two Kafka bridges share the payment results: one dies, the other takes its partitions over."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import DAY_ONE, Client
from tests.e2e.stack import Stack, wait_for

pytestmark = pytest.mark.e2e

PARTITIONS = 4
ASSIGNED = re.compile(r"Setting newly assigned partitions (.*) for group orchestrator-bridge")


@pytest.fixture(scope="module")
def two_bridges(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # No payment time-out during the test: every order must complete through a bridge.
    running = Stack(tmp_path_factory.mktemp("two-bridges"), PAYMENT_RESULT_TIMEOUT="600",
                    PAYMENT_RESULTS_PARTITIONS=str(PARTITIONS))
    running.parts["bridge2"] = running.parts["bridge"]  # the Procfile's own command, twice
    running.start(*(name for name in running.parts if name != "bridge2"))
    try:
        running.wait_until_ready()
        wait_for(lambda: assigned(running, "bridge") == PARTITIONS, 90, "first bridge in the group")
        running.start("bridge2")
        wait_for(lambda: assigned(running, "bridge") + assigned(running, "bridge2") == PARTITIONS
                 and assigned(running, "bridge2") > 0, 90, "the partitions shared by two bridges")
        yield running
    finally:
        running.stop()
        print(f"\nstack logs kept in {running.logs}")


def assigned(stack: Stack, bridge: str) -> int:
    """How many partitions the bridge holds, by its latest assignment in its log."""
    found = ASSIGNED.findall(stack.log(bridge))
    return found[-1].count("partition=") if found else 0


def test_orders_complete_after_one_of_two_bridges_is_killed(two_bridges: Stack,
                                                            tmp_path: Path) -> None:
    client = Client(two_bridges)
    # One customer places all 20 orders: their limit is raised to the stock, so that only the
    # bridges decide whether an order completes.
    ticket = client.new_ticket(available=1000, maxPerCustomer=1000)
    before = [client.place_order([(ticket, 10.0, 1)]) for _ in range(8)]
    for order_id in before:
        assert client.wait_until_terminal(order_id)["status"] == "COMPLETED"

    two_bridges.kill("bridge", signal.SIGKILL)
    during = [client.place_order([(ticket, 10.0, 1)]) for _ in range(12)]

    wait_for(lambda: assigned(two_bridges, "bridge2") == PARTITIONS, 60,
             "the surviving bridge holds every partition")
    for order_id in before + during:
        assert client.wait_until_terminal(order_id, timeout_s=60)["status"] == "COMPLETED"
    assert client.available(ticket) == 1000 - len(before) - len(during)


def test_the_brief_ticket_still_sells_with_one_bridge_left(two_bridges: Stack) -> None:
    client = Client(two_bridges)
    order_id = client.place_order([(DAY_ONE, 200.0, 1)])
    assert client.wait_until_terminal(order_id, timeout_s=60)["status"] == "COMPLETED"
