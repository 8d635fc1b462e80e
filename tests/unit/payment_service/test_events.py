"""The PaymentDecided message, field by field as the contract writes it."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from payment_service.domain.events import payment_decided
from payment_service.domain.model import Decision, InvalidTransition, PaymentStatus

from .conftest import ORDER, REQUESTED_AT

DECIDED_AT = REQUESTED_AT + timedelta(seconds=2)


def test_an_approval_is_announced_with_every_field_of_the_contract(pending):
    approved = pending.decide(Decision(PaymentStatus.APPROVED), DECIDED_AT)
    message = json.loads(payment_decided(approved).to_json())
    event_id = message.pop("eventId")
    assert uuid.UUID(event_id).version == 4
    assert message == {
        "version": 1, "type": "PaymentDecided", "orderId": ORDER,
        "paymentId": pending.payment_id, "status": "APPROVED", "reason": None,
        "amount": "200.00", "decidedAt": "2025-06-25T12:00:02+00:00",
    }


def test_a_decline_carries_its_reason_and_the_amount_with_two_decimals(pending):
    declined = replace(pending, amount=Decimal(1200)).decide(
        Decision(PaymentStatus.DECLINED, "amount 1200.00 is above the gateway limit of 1000.00"),
        DECIDED_AT)
    message = payment_decided(declined).to_message()
    assert (message["status"], message["amount"]) == ("DECLINED", "1200.00")
    assert message["reason"] == "amount 1200.00 is above the gateway limit of 1000.00"


def test_every_event_has_its_own_id(pending):
    approved = pending.decide(Decision(PaymentStatus.APPROVED), DECIDED_AT)
    assert payment_decided(approved).event_id != payment_decided(approved).event_id


def test_an_undecided_payment_has_no_decision_to_announce(pending):
    with pytest.raises(InvalidTransition):
        payment_decided(pending)
