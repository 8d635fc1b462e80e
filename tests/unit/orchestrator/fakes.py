"""In-memory stand-ins for the three services, answering as their contracts say."""

from __future__ import annotations

from decimal import Decimal

from orchestrator.domain.ports import PaymentRecord
from orchestrator.domain.exceptions import ConflictingOutcome, ServiceUnavailable
from orchestrator.domain.refusals import Refusal, TicketLimit
from orchestrator.domain.steps import Plan, StepDeclaration


class FakeInventory:
    def __init__(self, stock: dict[str, int], per_customer: int = 6):
        self.stock = dict(stock)
        self.per_customer = per_customer   # of every ticket, HELD or CONFIRMED
        self.reservations: dict[str, tuple[str, dict[str, int]]] = {}
        self.customers: dict[str, str] = {}   # order id -> its customer
        self.asked: list[tuple[str, str, tuple]] = []   # (order, customer, lines) as sent
        self.down = 0  # how many next calls fail technically

    def _maybe_down(self) -> None:
        if self.down:
            self.down -= 1
            raise ServiceUnavailable("inventory down")

    def _held_by(self, customer: str, ticket: str) -> int:
        return sum(lines.get(ticket, 0) for order, (status, lines) in self.reservations.items()
                   if status != "RELEASED" and self.customers.get(order) == customer)

    def reserve(self, order_id, customer_id, lines):  # type: ignore[no-untyped-def]
        self._maybe_down()
        self.asked.append((order_id, customer_id, tuple(lines)))
        if order_id in self.reservations:
            status = self.reservations[order_id][0]
            if status == "RELEASED":
                return Refusal("reservation_released", "released")
            return None
        over = [line for line in lines
                if self._held_by(customer_id, line.ticket_id) + line.quantity > self.per_customer]
        if over:
            return Refusal("over_customer_limit", f"{len(over)} over the limit",
                           tuple(TicketLimit(line.ticket_id, self.per_customer) for line in over))
        short = [line for line in lines if self.stock.get(line.ticket_id, 0) < line.quantity]
        if short:
            return Refusal("out_of_stock", ", ".join(
                f"{line.ticket_id} ({self.stock.get(line.ticket_id, 0)} available, "
                f"{line.quantity} requested)" for line in short))
        self.customers[order_id] = customer_id
        for line in lines:
            self.stock[line.ticket_id] -= line.quantity
        self.reservations[order_id] = ("HELD", {line.ticket_id: line.quantity for line in lines})
        return None

    def confirm(self, order_id):  # type: ignore[no-untyped-def]
        self._maybe_down()
        status, lines = self.reservations[order_id]
        self.reservations[order_id] = ("CONFIRMED", lines)

    def release(self, order_id):  # type: ignore[no-untyped-def]
        self._maybe_down()
        status, lines = self.reservations.get(order_id, ("RELEASED", {}))
        if status == "HELD":
            for ticket, quantity in lines.items():
                self.stock[ticket] += quantity
        self.reservations[order_id] = ("RELEASED", lines)


class FakePayments:
    def __init__(self) -> None:
        self.payments: dict[str, str] = {}
        self.down = 0

    def _maybe_down(self) -> None:
        if self.down:
            self.down -= 1
            raise ServiceUnavailable("payment down")

    def _record(self, order_id):  # type: ignore[no-untyped-def]
        return PaymentRecord(self.payments[order_id], None, f"p-{order_id}", Decimal("200.00"))

    def request(self, order_id, customer_id, amount):  # type: ignore[no-untyped-def]
        self._maybe_down()
        self.payments.setdefault(order_id, "PENDING")
        return self.payments[order_id]

    def status(self, order_id):  # type: ignore[no-untyped-def]
        self._maybe_down()
        return self._record(order_id) if order_id in self.payments else None

    def cancel(self, order_id):  # type: ignore[no-untyped-def]
        self._maybe_down()
        if self.payments.get(order_id, "PENDING") == "PENDING":
            self.payments[order_id] = "CANCELLED"
        return self._record(order_id)

    def refund(self, order_id):  # type: ignore[no-untyped-def]
        self._maybe_down()
        if order_id not in self.payments:
            return None
        if self.payments[order_id] == "APPROVED":
            self.payments[order_id] = "REFUNDED"
        return self._record(order_id)


class FakeOrders:
    def __init__(self) -> None:
        self.outcomes: dict[str, tuple[str, str | None]] = {}

    def record_outcome(self, order_id, status, reason):  # type: ignore[no-untyped-def]
        if self.outcomes.setdefault(order_id, (status, reason))[0] != status:
            raise ConflictingOutcome(f"order {order_id} ended {self.outcomes[order_id][0]}")

    def pending_before(self, moment_iso, limit=100, following=None):  # type: ignore[no-untyped-def]
        return [], None


class RecordingDispatch:
    """Notes, in the flow's words, what the flow would have the workers run."""

    def __init__(self, sent: list[str] | None = None) -> None:
        self.sent = sent if sent is not None else []
        self.plans: list[Plan] = []

    def run(self, plan: Plan) -> None:
        self.plans.append(plan)
        beside = f" beside {', '.join(s.name for s in plan.beside)}" if plan.beside else ""
        self.sent.append(f"run {', '.join(s.name for s in plan.chain)}{beside}")

    def send(self, order_id: str, step: StepDeclaration) -> None:
        self.sent.append(f"send {step.name}")

    def start(self, order_message: dict) -> None:
        self.sent.append(f"start {order_message['orderId']}")
