"""The published language (glastonbury.contracts): what one part writes, the other reads as it
was meant, with one model for both sides."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from glastonbury.contracts.ids import canonical_uuid
from glastonbury.contracts.messages import OrderPlaced, PaymentDecided
from order_service.domain.model import Order, OrderLine, order_message
from order_service.entrypoints.schemas import order_json
from payment_service.domain.events import payment_decided
from payment_service.domain.model import Decision, PaymentStatus, new_payment

NOW = datetime(2025, 6, 25, 12, 0, tzinfo=UTC)
DAY_ONE, CAMPING = uuid.UUID(int=1), uuid.UUID(int=2)


def an_order() -> Order:
    return Order.place(uuid.uuid4(), Decimal("410.10"),
                       [OrderLine(DAY_ONE, "day-one", Decimal("200.00"), 2),
                        OrderLine(CAMPING, "camping", Decimal("5.05"), 2)], NOW)


def test_the_orchestrator_reads_the_order_message_the_order_service_writes() -> None:
    order = an_order()
    read = OrderPlaced.from_message(order_message(order))
    assert (read.order_id, read.customer_id, read.total) == (
        str(order.id), str(order.customer_id), Decimal("410.10"))
    assert [(line.ticket_id, line.quantity, line.unit_price) for line in read.lines] == [
        (str(DAY_ONE), 2, Decimal("200.00")), (str(CAMPING), 2, Decimal("5.05"))]


def test_the_reconciler_starts_a_lost_saga_with_the_message_the_order_service_sent() -> None:
    order = an_order()
    assert OrderPlaced.from_order(order_json(order)).to_message() == order_message(order)


@pytest.mark.parametrize("decision", [Decision(PaymentStatus.APPROVED),
                                      Decision(PaymentStatus.DECLINED, "card declined")])
def test_the_bridge_reads_the_payment_result_the_payment_service_publishes(
        decision: Decision) -> None:
    payment = new_payment(str(uuid.uuid4()), str(uuid.uuid4()), Decimal("12.5"), NOW)
    published = payment_decided(payment.decide(decision, NOW))
    read = PaymentDecided.from_message(json.loads(published.to_json()))
    assert read == published
    assert (read.status, read.reason, read.amount) == (decision.status, decision.reason,
                                                       Decimal("12.50"))


@pytest.mark.parametrize("text", ["{12345678-1234-1234-1234-123456789abc}",
                                  "urn:uuid:12345678-1234-1234-1234-123456789abc",
                                  "12345678123412341234123456789abc", "", None, 7,
                                  "12345678-1234-1234-1234-123456789abc\n"])
def test_an_id_is_a_uuid_in_its_hyphenated_form_only(text: object) -> None:
    with pytest.raises(ValueError):
        canonical_uuid(text)
    assert canonical_uuid("12345678-1234-1234-1234-123456789ABC") == uuid.UUID(
        "12345678-1234-1234-1234-123456789abc")


def test_every_error_code_the_openapi_documents_name_is_declared_in_the_contracts() -> None:
    from glastonbury.contracts import errors
    from inventory_service.entrypoints import flask_app as inventory
    from order_service.entrypoints import flask_app as orders
    from payment_service.entrypoints import flask_app as payments

    declared = {value for name, value in vars(errors).items() if name.isupper()}
    documents = [orders.API.document(orders.routes), inventory.API.document(inventory.api),
                 payments.API.document(payments.api)]
    named = {code for document in documents for path in document["paths"].values()
             for operation in path.values() if isinstance(operation, dict)
             for status, answer in operation.get("responses", {}).items()
             if status.startswith(("4", "5"))
             for code in re.findall(r"`([a-z]+_[a-z_]+)`", answer.get("description", ""))}
    assert named and named <= declared, named - declared


def test_the_bodies_that_carry_a_status_take_the_contracts_statuses() -> None:
    from typing import get_args

    from glastonbury.contracts.statuses import DECIDED, OrderStatus
    from order_service.entrypoints.schemas import OutcomeBody
    from payment_service.entrypoints.schemas import ManualDecision

    # Written as plain strings, so that a refused value is named as the client sent it.
    outcomes = get_args(OutcomeBody.model_fields["status"].annotation)
    assert set(outcomes) == {status.value for status in OrderStatus if status.is_terminal}
    assert set(get_args(ManualDecision.model_fields["status"].annotation)) == set(DECIDED)
