"""One order's trail through every process: with LOG_FORMAT=json every line of every part is a
JSON object, and each line about an order names it, from the order service to the bridge."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Client
from tests.e2e.stack import Stack

pytestmark = pytest.mark.e2e

# The embedded brokers are not ours (production runs Redis and Kafka images of their own).
NOT_OURS = {"redis", "kafka"}
# What Celery writes straight to the terminal as it stops (from a signal handler, where
# logging could deadlock): a blank line and this notice.
CELERY_STOP_NOTICE = ("", "worker: Warm shutdown (MainProcess)")


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, dict[str, str]]]:
    """A stack logging JSON; a completed and a declined order; every part stopped (its logs
    complete). The stack, and the orders by how they ended."""
    stack = Stack(Path(tmp_path_factory.mktemp("trail")), LOG_FORMAT="json")
    stack.start()
    try:
        stack.wait_until_ready()
        ended = Client(stack).a_paid_and_a_declined_order()
    finally:
        stack.stop()
    yield stack, ended


def lines(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    """Each of our parts' log as JSON objects; fails on any line that is not one."""
    parsed: dict[str, list[dict[str, Any]]] = {}
    for part in stack.parts:
        if part in NOT_OURS:
            continue
        parsed[part] = []
        for number, line in enumerate(stack.log(part).splitlines(), 1):
            if line.strip() in CELERY_STOP_NOTICE and part.startswith("worker"):
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                raise AssertionError(
                    f"{part}.log line {number} is not JSON: {line[:200]!r}") from None
            assert isinstance(entry, dict) and {"time", "level", "message"} <= set(entry), line
            parsed[part].append(entry)
    return parsed


def test_every_line_of_every_part_is_one_json_object(trail: tuple[Stack, dict[str, str]]) -> None:
    stack, _ = trail
    parsed = lines(stack)
    assert all(parsed[part] for part in ("order", "inventory", "payment", "payment_relay",
                                         "bridge", "beat", "flower")), "a part logged nothing"


def about(stack: Stack, order_id: str) -> list[dict[str, Any]]:
    return [entry for entries in lines(stack).values() for entry in entries
            if entry.get("order_id") == order_id]


def test_a_paid_orders_trail_runs_through_every_process(
        trail: tuple[Stack, dict[str, str]]) -> None:
    stack, ended = trail
    entries = about(stack, ended["COMPLETED"])
    assert {entry["process"] for entry in entries} >= {
        "order", "inventory", "payment", "payment-relay", "worker", "bridge"}
    messages = [entry["message"] for entry in entries]
    for said in ("order accepted", "tickets held", "requested", "APPROVED",
                 "payment result APPROVED stored", "tickets confirmed",
                 "outcome recorded: COMPLETED"):
        assert any(said in message for message in messages), f"nothing says {said!r}"
    for step in ("reserve_tickets", "request_payment", "finalise_order"):
        assert any(message.startswith(step) for message in messages), f"no line of {step}"


def test_a_declined_orders_trail_shows_its_compensation(
        trail: tuple[Stack, dict[str, str]]) -> None:
    stack, ended = trail
    messages = [entry["message"] for entry in about(stack, ended["PAYMENT_FAILED"])]
    for said in ("DECLINED", "tickets released", "outcome recorded: PAYMENT_FAILED"):
        assert any(said in message for message in messages), f"nothing says {said!r}"
    assert any(message.startswith("fail_order") for message in messages)
