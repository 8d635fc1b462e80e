"""The dashboard end to end: one login for every path, and the saga view in a real browser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import HELD_CUSTOMER, Client
from tests.e2e.stack import Stack, wait_for

pytestmark = pytest.mark.e2e

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "saga-view.png"
FIGURES = ("now", "passed", "failed", "count")
PATHS = ["/", "/sagas", "/metrics", "/healthcheck", "/api/workers"]


def login(stack: Stack) -> tuple[str, str]:
    # The Procfile falls back to the default documented in .env.example.
    return "techlead", stack.env.get("FLOWER_PASSWORD") or "glastonbury"


@pytest.fixture(scope="module")
def dashboard(stack: Stack) -> str:
    return dashboard_up(stack)


def dashboard_up(stack: Stack) -> str:
    """The dashboard's base URL, once it answers."""
    base = stack.url("flower")

    def up() -> bool:
        try:
            return requests.get(f"{base}/healthcheck", auth=login(stack), timeout=2).ok
        except requests.RequestException:
            return False

    wait_for(up, 60, "the dashboard answering")
    return base


def test_without_the_login_every_path_answers_401_and_with_it_200(
        stack: Stack, dashboard: str) -> None:
    for path in PATHS:
        denied = requests.get(dashboard + path, timeout=10)
        assert denied.status_code == 401, path
        assert denied.headers["WWW-Authenticate"].startswith("Basic"), path
    # A wrong password twice (past five, this address would wait: test_dashboard_app).
    for path in PATHS[:2]:
        wrong = requests.get(dashboard + path, auth=("techlead", "wrong"), timeout=10)
        assert wrong.status_code == 401, path
    for path in PATHS:
        allowed = requests.get(dashboard + path, auth=login(stack), timeout=30)
        assert allowed.status_code == 200, path


def test_the_reconciler_stays_out_of_flowers_task_list_and_the_saga_view_shows_its_passes(
        stack: Stack, dashboard: str, client: Client) -> None:
    order = client.wait_until_terminal(client.place_order([(client.new_ticket(5), 10.0, 1)]))
    assert order["status"] == "COMPLETED"

    def passes() -> int:
        page = requests.get(f"{dashboard}/sagas", auth=login(stack), timeout=10).text
        found = re.search(r'class="small saga-reconciler" data-passes="(\d+)"', page)
        assert found, "the sagas page says nothing of the reconciler"
        return int(found.group(1))

    seen = wait_for(passes, 30, "a reconciler pass recorded")
    wait_for(lambda: passes() > seen, 30, "another pass (every second in the test stack)")

    def tasks(name: str) -> dict[str, Any]:
        answer = requests.get(f"{dashboard}/api/tasks", params={"taskname": name},
                              auth=login(stack), timeout=10)
        assert answer.status_code == 200
        return answer.json()

    assert wait_for(lambda: tasks("saga.finalise_order"), 20, "the business steps in Flower")
    assert tasks("saga.reconcile") == {}, "the reconciler's passes fill Flower's task list"


def saga_metrics(stack: Stack, dashboard: str) -> dict[tuple[str, tuple[Any, ...]], float]:
    """The glastonbury_* samples of the dashboard's /metrics: (name, labels) -> value."""
    from prometheus_client.parser import text_string_to_metric_families

    answer = requests.get(f"{dashboard}/metrics", auth=login(stack), timeout=10)
    assert answer.status_code == 200
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(answer.text)
            for sample in family.samples if sample.name.startswith("glastonbury_")}


def test_flowers_metrics_carry_the_sagas_steps_reconciler_and_dead_letters(
        stack: Stack, dashboard: str, client: Client) -> None:
    before = saga_metrics(stack, dashboard)
    order = client.wait_until_terminal(client.place_order([(client.new_ticket(5), 10.0, 1)]))
    assert order["status"] == "COMPLETED"
    client.publish_payment_result(order["id"], "DECLINED")   # a forgery: not signed
    unsigned = ("glastonbury_dead_letters_total", (("kind", "unsigned"),))
    finalised = ("glastonbury_saga_step_duration_seconds_count", (("step", "finalise_order"),))
    completed = ("glastonbury_sagas", (("state", "COMPLETED"),))

    def moved() -> dict[tuple[str, tuple[Any, ...]], float] | None:
        after = saga_metrics(stack, dashboard)
        grew = all(after.get(key, 0) > before.get(key, 0) for key in (unsigned, finalised,
                                                                       completed))
        return after if grew else None

    after = wait_for(moved, 30, "the order and the forgery counted in /metrics")
    assert after[("glastonbury_reconciler_passes_total", ())] > 0
    assert after[("glastonbury_saga_steps_total", (("result", "passed"),
                                                   ("step", "finalise_order")))] >= 1
    assert ("glastonbury_saga_step_duration_seconds_bucket",
            (("le", "+Inf"), ("step", "await_payment"))) in after


@pytest.fixture
def page(browser: Any, stack: Stack, dashboard: str) -> Iterator[Any]:
    user, password = login(stack)
    context = browser.new_context(base_url=dashboard, viewport={"width": 1440, "height": 900},
                                  http_credentials={"username": user, "password": password})
    yield context.new_page()
    context.close()


def diagram(page: Any) -> dict[str, dict[str, int]]:
    """Each box of the diagram (step or final state) -> its figures as the page shows them."""
    page.goto("/sagas")
    boxes = page.eval_on_selector_all(
        "svg.saga-diagram [data-step], svg.saga-diagram [data-state]",
        "nodes => nodes.map(n => Object.assign({}, n.dataset))")
    return {box.pop("step", None) or box.pop("state"):
            {key: int(value) for key, value in box.items() if key in FIGURES}
            for box in boxes}


def changes(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> dict[str, Any]:
    return {(box, figure): after[box][figure] - value
            for box, figures in before.items() for figure, value in figures.items()
            if after[box][figure] != value}


def test_the_diagram_counts_a_completed_a_declined_and_a_rejected_order(
        page: Any, client: Client) -> None:
    # The stack is shared: start from a quiet moment and compare with the counts before.
    wait_for(lambda: not any(box.get("now") for box in diagram(page).values()), 60,
             "no saga in a step")
    before = diagram(page)
    orders = [client.place_order([(client.new_ticket(10), 10.0, 1)]),    # completed
              client.place_order([(client.new_ticket(10, 400.0), 400.0, 3)]),   # 1200: declined
              client.place_order([(client.new_ticket(2), 10.0, 3)])]     # 3 > 2: rejected
    statuses = [client.wait_until_terminal(order)["status"] for order in orders]
    assert statuses == ["COMPLETED", "PAYMENT_FAILED", "REJECTED"]

    expected = {
        ("COMPLETED", "count"): 1, ("PAYMENT_FAILED", "count"): 1, ("REJECTED", "count"): 1,
        ("reserve_tickets", "passed"): 2, ("reserve_tickets", "failed"): 1,
        ("request_payment", "passed"): 2,
        ("await_payment", "passed"): 1, ("await_payment", "failed"): 1,
        ("finalise_order", "passed"): 1,
        ("release_reservation", "passed"): 2, ("fail_order", "passed"): 2,
    }
    # The order's status is set a moment before the saga records its last step: poll.
    wait_for(lambda: changes(before, diagram(page)) == expected, 20,
             f"the diagram to change by {expected}")

    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.goto("/sagas")
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def act(page: Any, button: str) -> str:
    """Press an action's button on a saga's page; the notice the page then shows."""
    page.get_by_role("button", name=button).click()
    return str(page.locator("[data-notice]").inner_text())


def saga_waiting_for_its_payment(client: Client) -> tuple[str, str]:
    """A new order of a customer whose payment is never decided, once its saga waits: ticket, id."""
    ticket = client.new_ticket(5, price=20.0)
    order_id = client.place_order([(ticket, 20.0, 2)], customer=HELD_CUSTOMER)
    wait_for(lambda: (s := client.saga(order_id)) and s.state == "AWAITING_PAYMENT", 20,
             "the saga waiting for its payment")
    return ticket, order_id


def test_an_operator_retries_then_compensates_a_saga_waiting_for_its_payment(
        page: Any, client: Client) -> None:
    # The test stack gives up on a payment after 4 s; on a busy machine the browser may come
    # too late, and the page then says so: try again with a new order (a few times at most).
    for _ in range(3):
        ticket, order_id = saga_waiting_for_its_payment(client)
        page.goto(f"/sagas/{order_id}")
        retried = act(page, "Retry the current step")
        if "nothing to retry" not in retried:
            break
    assert "payment request sent again" in retried
    assert "the order will end PAYMENT_FAILED" in act(page, "Compensate and fail the order")

    order = client.wait_until_terminal(order_id)
    assert (order["status"], order["reason"]) == ("PAYMENT_FAILED", "Compensated by an operator.")
    assert client.available(ticket) == 5
    # The order's status is set a moment before the saga's own.
    wait_for(lambda: client.saga(order_id).state == "PAYMENT_FAILED", 10, "the saga finished")
    page.reload()
    assert page.locator("[data-saga-state]").get_attribute("data-saga-state") == "PAYMENT_FAILED"
    assert page.get_by_role("button", name="Compensate and fail the order").count() == 0
    task_link = page.locator("tr[data-step=reserve_tickets] a").get_attribute("href")
    assert task_link.startswith("/task/")
