"""The HTTP API's conventions on the running stack: a retried order with its Idempotency-Key,
the list of orders a page at a time, and each service's page that renders its document."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from tests.e2e.conftest import DAY_ONE, Client
from tests.e2e.stack import Stack

pytestmark = pytest.mark.e2e


def every_order(client: Client, page_size: int) -> list[dict[str, Any]]:
    """Every order, as the admin reads them: a page at a time, following each `Link` header."""
    base, found = client.stack.url("order"), []
    response = requests.get(f"{base}/orders", params={"limit": page_size},
                            headers=client.admin, timeout=10)
    while True:
        assert response.status_code == 200, response.text
        found += response.json()["orders"]
        if "next" not in response.links:
            assert response.json()["next"] is None
            return found
        assert response.links["next"]["url"] == response.json()["next"]
        response = requests.get(base + response.links["next"]["url"], headers=client.admin,
                                timeout=10)


def test_an_order_retried_with_its_idempotency_key_is_placed_once_and_another_body_is_refused(
        client: Client) -> None:
    customer, key = str(uuid.uuid4()), {"Idempotency-Key": f"checkout-{uuid.uuid4()}"}
    body = {"customerId": customer, "amount": 200.0,
            "items": [{"id": DAY_ONE, "name": "day-one", "amount": 200.0, "quantity": 1}]}
    url = f"{client.stack.url('order')}/orders"
    first = requests.post(url, json=body, headers=key, timeout=10)
    assert first.status_code == 202, first.text
    order_id = first.json()["id"]
    assert client.wait_until_terminal(order_id)["status"] == "COMPLETED"

    again = requests.post(url, json=body, headers=key, timeout=10)
    assert again.status_code == 202, again.text
    assert (again.json()["id"], again.headers["Location"]) == (order_id, first.headers["Location"])
    assert again.json()["status"] == "COMPLETED"   # the order as it stands now

    other = requests.post(url, json=body | {"items": [body["items"][0] | {"quantity": 2}]},
                          headers=key, timeout=10)
    assert (other.status_code, other.json()["error"]) == (409, "idempotency_key_reused")
    assert other.json()["details"] == [{"field": "Idempotency-Key",
                                        "problem": "names another order"}]
    mine = [order["id"] for order in every_order(client, page_size=3)
            if order["customerId"] == customer]
    assert mine == [order_id]
    assert client.reservation(order_id) == "CONFIRMED" and client.payment(order_id) == "APPROVED"


SERVICES = ("order", "inventory", "payment")


@pytest.mark.parametrize("service", SERVICES)
def test_each_services_docs_page_and_its_assets_load_over_http_from_the_service(
        stack: Stack, service: str) -> None:
    base = stack.url(service)
    page = requests.get(f"{base}/docs", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    for url in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        asset = requests.get(urljoin(f"{base}/docs", url), timeout=10)
        assert asset.status_code == 200 and asset.content, url


@pytest.mark.parametrize("service", SERVICES)
def test_each_services_docs_page_renders_every_operation_in_a_browser_with_no_network(
        stack: Stack, browser: Any, service: str) -> None:
    base = stack.url(service)
    document = requests.get(f"{base}/openapi.json", timeout=10).json()
    operations = sorted(f"{method.upper()} {path}" for path, methods in document["paths"].items()
                        for method in methods)
    context = browser.new_context()
    elsewhere: list[str] = []
    problems: list[str] = []

    def only_the_service(route: Any) -> None:
        # Anything not asked of the service itself fails, as it would with no network.
        if route.request.url.startswith(f"{base}/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_service)
    page = context.new_page()
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        page.goto(f"{base}/docs")
        page.wait_for_selector(".opblock", timeout=30_000)
        shown = sorted(page.eval_on_selector_all(
            ".opblock", """blocks => blocks.map(block =>
                block.querySelector('.opblock-summary-method').textContent + ' ' +
                block.querySelector('.opblock-summary-path').dataset.path)"""))
        title = page.text_content(".info .title") or ""
    finally:
        context.close()
    assert shown == operations
    assert document["info"]["title"] in title
    assert elsewhere == [] and problems == []
