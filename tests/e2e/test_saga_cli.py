"""`celery -A orchestrator saga` against the running stack, run as an operator runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal

import pytest

from devtools.devstack.__main__ import ROOT
from tests.e2e.conftest import HELD_CUSTOMER, Client
from tests.e2e.stack import Stack, wait_for

pytestmark = pytest.mark.e2e

STEPS_OF_A_COMPLETED_SAGA = ["reserve_tickets", "request_payment", "await_payment",
                             "finalise_order"]


def saga(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `celery -A orchestrator saga ARGS` with the stack's environment."""
    return subprocess.run([sys.executable, "-m", "celery", "-A", "orchestrator", "saga", *args],
                          env=stack.env, cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.fixture
def reconciler_paused(stack: Stack) -> Iterator[None]:
    """No beat: a saga waits past its deadline or stays stuck until the operator acts."""
    stack.kill("beat")
    try:
        yield
    finally:
        stack.start("beat")


def test_a_completed_saga_is_listed_shown_and_never_retried(stack: Stack, client: Client) -> None:
    ticket = client.new_ticket(5, price=25.0)
    order_id = client.place_order([(ticket, 25.0, 1)])
    assert client.wait_until_terminal(order_id)["status"] == "COMPLETED"

    listed = saga(stack, "list", "--state", "COMPLETED", "--since", "10m")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith(order_id))
    assert row.split()[1] == "COMPLETED" and "finalise_order (completed)" in row

    shown = saga(stack, "show", order_id)
    assert shown.returncode == 0, shown.stderr
    steps = [line.split()[0] for line in shown.stdout.splitlines()
             if line.split() and line.split()[0] in STEPS_OF_A_COMPLETED_SAGA]
    assert steps == STEPS_OF_A_COMPLETED_SAGA

    retried = saga(stack, "retry", order_id)
    assert retried.returncode == 1
    assert retried.stderr.strip() == f"saga {order_id} is COMPLETED: there is nothing to retry"


def test_list_and_show_answer_json_and_a_list_cut_at_its_limit_says_so(
        stack: Stack, client: Client) -> None:
    ticket = client.new_ticket(5, price=25.5)
    first = client.place_order([(ticket, 25.5, 1)])
    assert client.wait_until_terminal(first)["status"] == "COMPLETED"
    newest = client.place_order([(ticket, 25.5, 2)])
    assert client.wait_until_terminal(newest)["status"] == "COMPLETED"

    listed = saga(stack, "list", "--since", "10m", "--limit", "1", "--json")
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)
    assert document["truncated"] is True and document["limit"] == 1
    assert [one["orderId"] for one in document["sagas"]] == [newest]
    assert listed.stderr.strip().endswith("… 1 of more shown (the newest); --limit to see more")

    shown = saga(stack, "show", newest, "--json")
    assert shown.returncode == 0, shown.stderr
    timeline = json.loads(shown.stdout)
    assert timeline["state"] == "COMPLETED" and isinstance(timeline["total"], str)
    assert Decimal(timeline["total"]) == Decimal("51")
    assert Decimal(timeline["lines"][0]["unitPrice"]) == Decimal("25.5")
    assert [step["name"] for step in timeline["steps"]] == STEPS_OF_A_COMPLETED_SAGA
    assert all(step["endedAt"].endswith("Z") for step in timeline["steps"])


def test_compensating_a_saga_waiting_for_its_payment_fails_the_order_and_restores_the_stock(
        stack: Stack, client: Client, reconciler_paused: None) -> None:
    ticket = client.new_ticket(5, price=20.0)
    order_id = _waiting_for_its_payment(client, ticket, quantity=2)

    compensated = saga(stack, "compensate", order_id)
    assert compensated.returncode == 0, compensated.stderr
    assert compensated.stdout.strip() == (
        f"{order_id}: compensating, the order will end PAYMENT_FAILED")
    order = client.wait_until_terminal(order_id)
    assert order["status"] == "PAYMENT_FAILED" and order["reason"] == "Compensated by an operator."
    assert client.available(ticket) == 5
    assert client.reservation(order_id) == "RELEASED"
    wait_for(lambda: client.payment(order_id) == "CANCELLED", 20, "the payment cancelled")

    again = saga(stack, "compensate", order_id)
    assert again.returncode == 1
    assert again.stderr.strip() == (
        f"saga {order_id} is PAYMENT_FAILED already: nothing to compensate")


def test_a_saga_stuck_while_the_order_service_is_down_is_finished_by_retry(
        stack: Stack, client: Client, reconciler_paused: None) -> None:
    ticket = client.new_ticket(5, price=20.0)
    order_id = _waiting_for_its_payment(client, ticket, quantity=1)
    stack.kill("order")
    try:
        client.decide_payment(order_id, "APPROVED")   # the gateway approves at last
        wait_for(lambda: _outcome(client, order_id, "finalise_order") == "failed", 30,
                 "the finalise_order step given up")
        wait_for(lambda: order_id in saga(stack, "list", "--state", "stuck").stdout, 30,
                 "the saga listed as stuck", interval_s=0.5)
    finally:
        stack.start("order")
        stack.wait_until_ready()

    retried = saga(stack, "retry", "--state", "stuck", "--since", "5m", "--yes")
    assert f"{order_id}: APPROVED driven again" in retried.stdout, retried.stderr
    assert client.wait_until_terminal(order_id)["status"] == "COMPLETED"
    assert client.reservation(order_id) == "CONFIRMED"
    assert client.available(ticket) == 4


def _waiting_for_its_payment(client: Client, ticket: str, quantity: int) -> str:
    """An order of a customer the gateway never decides for, once its saga waits for payment."""
    order_id = client.place_order([(ticket, 20.0, quantity)], customer=HELD_CUSTOMER)
    wait_for(lambda: (s := client.saga(order_id)) and s.state == "AWAITING_PAYMENT", 20,
             "the saga waiting for its payment")
    return order_id


def _outcome(client: Client, order_id: str, step: str) -> str | None:
    found = client.saga(order_id)
    return next((s.outcome for s in found.steps if s.name == step), None) if found else None
