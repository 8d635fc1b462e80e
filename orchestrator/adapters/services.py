"""The three services as the saga's steps see them: business answers in, technical failures out.

Each call returns what the service decided, in the domain's words (held, out of stock, the
payment's status, ...), and raises `ServiceUnavailable` for anything technical (refused
connection, time-out, 5xx): the step's retry policy decides what happens then. An answer the
contract does not allow is a `ContractBroken` and is never retried.

HTTP goes through the parts' one client (glastonbury.service_client): the URL as given, kept
alive, TLS for `https`. Every call is idempotent on the service's side, so a kept-alive
connection the server closed meanwhile is simply tried once more afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from glastonbury import settings
from glastonbury.auth import ORCHESTRATOR, bearer
from glastonbury.contracts import paths
from glastonbury.contracts.paths import fill
from glastonbury.contracts.statuses import OrderStatus, PaymentStatus
from glastonbury.service_client import ServiceHttp, Unreachable
from orchestrator.domain.exceptions import (ConflictingOutcome, ContractBroken,
                                            ServiceUnavailable)
from orchestrator.domain.model import OrderLine
from orchestrator.domain.ports import PaymentRecord, payment_status
from orchestrator.domain.refusals import Refusal, TicketLimit


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]

    @property
    def error(self) -> str | None:
        return self.body.get("error") if self.status >= 400 else None

    @property
    def message(self) -> str:
        return str(self.body.get("message") or self.error or f"HTTP {self.status}")


class HttpService:
    """JSON to one service (glastonbury.service_client: its URL as given, kept-alive, TLS),
    with the orchestrator's credential; its answers in the saga's terms."""

    def __init__(self, base_url: str, timeout_s: float | None = None,
                 credential: dict[str, str] | None = None):
        # Every call the orchestrator makes carries its own credential (glastonbury.auth).
        self.http = ServiceHttp(
            base_url, settings.HTTP_TIMEOUT.number() if timeout_s is None else timeout_s,
            headers=credential if credential is not None else bearer(ORCHESTRATOR))

    def call(self, method: str, path: str, expected: tuple[int, ...],
             body: dict[str, Any] | None = None, query: dict[str, Any] | None = None) -> Answer:
        """One call; the statuses in `expected` are answers, every other one an exception:
        ServiceUnavailable (unreachable, 5xx) or ContractBroken (anything else)."""
        what = f"{method} {self.http.base}{path}"
        try:
            reply = self.http.request(method, path, body, query)
        except Unreachable as error:
            raise ServiceUnavailable(str(error)) from None
        if reply.status >= 500:
            raise ServiceUnavailable(f"{what}: HTTP {reply.status}")
        parsed = reply.json()
        answer = Answer(reply.status, parsed if isinstance(parsed, dict) else {})
        if reply.status not in expected:
            raise ContractBroken(f"{what}: HTTP {reply.status} {answer.body}")
        return answer


class InventoryClient:
    """Reserve, confirm and release the tickets of an order."""

    def __init__(self, base_url: str | None = None):
        self.http = HttpService(base_url or settings.inventory_service_url())

    def reserve(self, order_id: str, customer_id: str,
                lines: tuple[OrderLine, ...]) -> Refusal | None:
        """Hold every ticket of the order, each line at the price it was placed at, counted
        against the customer's limits (None); or none of them (the refusal says why). A line
        without its price is sent without one: the inventory refuses it (a broken contract)."""
        items = [{"ticketId": line.ticket_id, "quantity": line.quantity,
                  **({"unitPrice": float(line.unit_price)} if line.unit_price is not None else {})}
                 for line in lines]
        answer = self.http.call("PUT", fill(paths.RESERVATION, order_id=order_id), (200, 201, 409),
                                {"customerId": customer_id, "items": items})
        if answer.status in (200, 201):
            return None
        details = answer.body.get("details")
        limits = tuple(TicketLimit(str(detail["name"]), int(detail["limit"]))
                       for detail in (details if isinstance(details, list) else [])
                       if isinstance(detail, dict) and "name" in detail and "limit" in detail)
        return Refusal(answer.error or "refused", answer.message, limits)

    def confirm(self, order_id: str) -> None:
        self.http.call("POST", fill(paths.RESERVATION_CONFIRM, order_id=order_id), (200,))

    def release(self, order_id: str) -> None:
        self.http.call("POST", fill(paths.RESERVATION_RELEASE, order_id=order_id), (200,))


class PaymentClient:
    """Request, look up, cancel and refund the payment of an order."""

    def __init__(self, base_url: str | None = None):
        self.http = HttpService(base_url or settings.payment_service_url())

    def request(self, order_id: str, customer_id: str, amount: Decimal) -> PaymentStatus:
        """Ask for the payment (acknowledged at once, decided later); its status now."""
        body = {"orderId": order_id, "customerId": customer_id, "amount": float(amount)}
        answer = self.http.call("POST", paths.PAYMENTS, (200, 201, 202), body)
        return payment_status(answer.body.get("status", PaymentStatus.PENDING))

    def records(self, order_ids: list[str]) -> dict[str, PaymentRecord]:
        """The payment service's records of these orders' payments (those that exist)."""
        answer = self.http.call("GET", paths.PAYMENTS, (200,),
                                query={"orderId": list(dict.fromkeys(order_ids))})
        return {str(body.get("orderId")): PaymentRecord.from_body(body)
                for body in answer.body.get("payments", []) if isinstance(body, dict)}

    def status(self, order_id: str) -> PaymentRecord | None:
        answer = self.http.call("GET", fill(paths.PAYMENT, order_id=order_id), (200, 404))
        return PaymentRecord.from_body(answer.body) if answer.status == 200 else None

    def cancel(self, order_id: str) -> PaymentRecord:
        """Cancel an undecided payment (after which it is never approved); what it is now."""
        return PaymentRecord.from_body(
            self.http.call("POST", fill(paths.PAYMENT_CANCEL, order_id=order_id), (200,)).body)

    def refund(self, order_id: str) -> PaymentRecord | None:
        answer = self.http.call("POST", fill(paths.PAYMENT_REFUND, order_id=order_id), (200, 404))
        return PaymentRecord.from_body(answer.body) if answer.status == 200 else None


class OrderClient:
    """Tell the order service how its order ended; find orders whose saga never started."""

    def __init__(self, base_url: str | None = None):
        self.http = HttpService(base_url or settings.order_service_url())

    def record_outcome(self, order_id: str, status: OrderStatus, reason: str | None) -> None:
        """The order ends so; ConflictingOutcome if it ended otherwise already."""
        answer = self.http.call("POST", fill(paths.ORDER_OUTCOME, order_id=order_id), (200, 409),
                                {"status": status, "reason": reason})
        if answer.status == 409:
            raise ConflictingOutcome(f"order {order_id} cannot end {status}: {answer.message}")

    def pending_before(self, moment_iso: str, limit: int = 100, following: str | None = None
                       ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the PENDING orders created before a moment, oldest first, and the link to
        the next page (None after the last); `following` is that link, to read the next page."""
        if following is None:
            path = paths.ORDERS
            query: dict[str, Any] = {"status": OrderStatus.PENDING, "createdBefore": moment_iso,
                                     "limit": limit}
        else:   # the service's own link, read under this client's base URL
            link = urlsplit(following)
            path, query = link.path, parse_qs(link.query)
        answer = self.http.call("GET", path, (200,), query=query)
        next_page = answer.body.get("next")
        return (list(answer.body.get("orders", [])),
                next_page if isinstance(next_page, str) else None)
