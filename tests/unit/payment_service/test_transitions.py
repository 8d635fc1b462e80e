"""Which status a payment may move to from which, and what it keeps."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from payment_service.domain.model import (
    CANCELLED_BEFORE_REQUEST,
    Decision,
    InvalidTransition,
    PaymentStatus,
    cancelled_tombstone,
)

from .conftest import ORDER, REQUESTED_AT

DECIDED_AT = REQUESTED_AT + timedelta(seconds=1)
APPROVE = Decision(PaymentStatus.APPROVED)
DECLINE = Decision(PaymentStatus.DECLINED, "card declined by the gateway")


def test_a_new_payment_is_pending_with_no_reason_and_no_decision(pending):
    assert (pending.status, pending.reason, pending.decided_at) == (
        PaymentStatus.PENDING, None, None)


def test_deciding_a_pending_payment_records_status_reason_and_time(pending):
    declined = pending.decide(DECLINE, DECIDED_AT)
    assert (declined.status, declined.reason, declined.decided_at) == (
        PaymentStatus.DECLINED, DECLINE.reason, DECIDED_AT)
    assert declined.payment_id == pending.payment_id


@pytest.mark.parametrize("status", [s for s in PaymentStatus if s is not PaymentStatus.PENDING])
def test_only_a_pending_payment_can_be_decided(pending, status):
    with pytest.raises(InvalidTransition):
        replace(pending, status=status).decide(APPROVE, DECIDED_AT)


def test_the_gateway_can_only_approve_or_decline(pending):
    with pytest.raises(InvalidTransition):
        pending.decide(Decision(PaymentStatus.REFUNDED), DECIDED_AT)


def test_cancelling_a_pending_payment_makes_it_cancelled_with_a_reason(pending):
    cancelled = pending.cancel()
    assert cancelled.status is PaymentStatus.CANCELLED
    assert cancelled.reason


@pytest.mark.parametrize("status", [s for s in PaymentStatus if s is not PaymentStatus.PENDING])
def test_cancelling_any_other_status_changes_nothing(pending, status):
    payment = replace(pending, status=status)
    assert payment.cancel() is payment


def test_refunding_an_approved_payment_makes_it_refunded(pending):
    refunded = pending.decide(APPROVE, DECIDED_AT).refund()
    assert refunded.status is PaymentStatus.REFUNDED
    assert refunded.decided_at == DECIDED_AT


@pytest.mark.parametrize("status", [s for s in PaymentStatus if s is not PaymentStatus.APPROVED])
def test_refunding_any_other_status_changes_nothing(pending, status):
    payment = replace(pending, status=status)
    assert payment.refund() is payment


def test_a_tombstone_is_cancelled_with_no_customer_and_no_amount():
    tombstone = cancelled_tombstone(ORDER, REQUESTED_AT)
    assert (tombstone.status, tombstone.customer_id, tombstone.amount, tombstone.reason) == (
        PaymentStatus.CANCELLED, None, None, CANCELLED_BEFORE_REQUEST)
    assert tombstone.cancel() is tombstone
