"""HTTP clients for the three services, as the saga's steps see them.

Each call returns the business outcome as a value and raises `ServiceUnavailable` for anything
technical (refused connection, time-out, 5xx): the step's retry policy decides what happens then.
A 4xx the contract does not foresee is a `ContractBroken` and is never retried.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

import requests

from glastonbury import settings
from orchestrator.domain.model import OrderLine


class ServiceUnavailable(Exception):
    """A technical failure: worth retrying."""


class ContractBroken(Exception):
    """The service answered something the contract does not allow: retrying cannot help."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]

    @property
    def error(self) -> str | None:
        return self.body.get("error") if self.status >= 400 else None


def call(method: str, url: str, expected: tuple[int, ...], json: dict | None = None,
         params: dict | None = None) -> Answer:
    """One HTTP call; the statuses in `expected` are answers, every other one an exception."""
    try:
        response = _session().request(method, url, json=json, params=params,
                                      timeout=settings.http_timeout())
    except requests.RequestException as error:
        raise ServiceUnavailable(f"{method} {url}: {type(error).__name__}") from None
    if response.status_code >= 500:
        raise ServiceUnavailable(f"{method} {url}: HTTP {response.status_code}")
    try:
        body = response.json() if response.content else {}
    except ValueError:
        body = {}
    if response.status_code not in expected:
        raise ContractBroken(f"{method} {url}: HTTP {response.status_code} {body}")
    return Answer(response.status_code, body if isinstance(body, dict) else {})


_local = threading.local()


def _session() -> requests.Session:
    """This thread's HTTP session: connections kept alive between calls (one TCP handshake per
    service and process, not per call). A forked worker process opens its own."""
    if getattr(_local, "pid", None) != os.getpid():
        _local.session, _local.pid = requests.Session(), os.getpid()
    return _local.session


class InventoryClient:
    """Reserve, confirm and release tickets for an order."""

    def __init__(self, base_url: str | None = None):
        self.base = base_url or settings.inventory_service_url()

    def reserve(self, order_id: str, lines: tuple[OrderLine, ...]) -> Answer:
        items = [{"ticketId": line.ticket_id, "quantity": line.quantity} for line in lines]
        return call("PUT", f"{self.base}/reservations/{order_id}", (200, 201, 409),
                    {"items": items})

    def confirm(self, order_id: str) -> Answer:
        return call("POST", f"{self.base}/reservations/{order_id}/confirm", (200,))

    def release(self, order_id: str) -> Answer:
        return call("POST", f"{self.base}/reservations/{order_id}/release", (200,))


class PaymentClient:
    """Request, look up, cancel and refund an order's payment."""

    def __init__(self, base_url: str | None = None):
        self.base = base_url or settings.payment_service_url()

    def request(self, order_id: str, customer_id: str, amount: str) -> Answer:
        body = {"orderId": order_id, "customerId": customer_id, "amount": float(amount)}
        return call("POST", f"{self.base}/payments", (200, 201, 202), body)

    def status(self, order_id: str) -> Answer:
        return call("GET", f"{self.base}/payments/{order_id}", (200, 404))

    def cancel(self, order_id: str) -> Answer:
        return call("POST", f"{self.base}/payments/{order_id}/cancel", (200,))

    def refund(self, order_id: str) -> Answer:
        return call("POST", f"{self.base}/payments/{order_id}/refund", (200, 404))


class OrderClient:
    """Tell the order service how its order ended; find orders whose saga never started."""

    def __init__(self, base_url: str | None = None):
        self.base = base_url or settings.order_service_url()

    def record_outcome(self, order_id: str, status: str, reason: str | None) -> Answer:
        return call("POST", f"{self.base}/orders/{order_id}/outcome", (200, 409),
                    {"status": status, "reason": reason})

    def pending_before(self, moment_iso: str, limit: int = 100) -> list[dict[str, Any]]:
        query = {"status": "PENDING", "createdBefore": moment_iso, "limit": limit}
        answer = call("GET", f"{self.base}/orders", (200,), params=query)
        return list(answer.body.get("orders", []))
