"""The simulated gateway's deterministic rules, in the contract's order."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from glastonbury.contracts.money import money_text
from payment_service.domain.gateway import (
    CARD_DECLINED,
    GatewayRules,
    customer_set,
)
from payment_service.domain.model import Decision, PaymentStatus

from .conftest import CUSTOMER, REQUESTED_AT

APPROVED = Decision(PaymentStatus.APPROVED)


def test_an_ordinary_payment_is_approved_without_a_reason(pending):
    assert GatewayRules().decide(pending) == APPROVED


def test_a_held_customer_is_never_decided(pending):
    rules = GatewayRules(hold_customers=frozenset({CUSTOMER}))
    assert rules.decide(pending) is None
    assert not rules.is_due(pending, REQUESTED_AT + timedelta(days=365))


def test_holding_wins_over_declining(pending):
    both = frozenset({CUSTOMER})
    assert GatewayRules(hold_customers=both, decline_customers=both).decide(pending) is None


def test_a_declined_customer_is_declined_as_card_declined(pending):
    decision = GatewayRules(decline_customers=frozenset({CUSTOMER})).decide(pending)
    assert decision == Decision(PaymentStatus.DECLINED, CARD_DECLINED)
    assert decision.reason == "card declined by the gateway"


def test_a_declined_customer_wins_over_the_amount_limit(pending):
    rules = GatewayRules(decline_customers=frozenset({CUSTOMER}))
    assert rules.decide(replace(pending, amount=Decimal(5000))).reason == CARD_DECLINED


def test_an_amount_above_the_limit_is_declined_naming_both_amounts(pending):
    decision = GatewayRules().decide(replace(pending, amount=Decimal(1200)))
    assert decision == Decision(
        PaymentStatus.DECLINED, "amount 1200.00 is above the gateway limit of 1000.00")


def test_an_amount_equal_to_the_limit_is_approved(pending):
    assert GatewayRules().decide(replace(pending, amount=Decimal("1000.00"))) == APPROVED


def test_the_limit_is_configurable(pending):
    decision = GatewayRules(decline_above=Decimal(150)).decide(pending)
    assert decision.reason == "amount 200.00 is above the gateway limit of 150.00"


def test_a_payment_is_due_the_configured_delay_after_it_was_requested(pending):
    rules = GatewayRules(decision_delay_s=5)
    assert not rules.is_due(pending, REQUESTED_AT + timedelta(seconds=4.9))
    assert rules.is_due(pending, REQUESTED_AT + timedelta(seconds=5))


def test_without_a_delay_a_payment_is_due_at_once(pending):
    assert GatewayRules().is_due(pending, REQUESTED_AT)


def test_a_decided_payment_is_never_due_again(pending):
    decided = pending.decide(APPROVED, REQUESTED_AT)
    assert not GatewayRules().is_due(decided, REQUESTED_AT + timedelta(hours=1))


def test_customer_lists_are_comma_separated_with_blanks_and_case_ignored():
    text = " E081AD0F-F83E-4F81-B2D7-23655AC04B8A, ,abc ,"
    assert customer_set(text) == frozenset({CUSTOMER, "abc"})
    assert customer_set("") == frozenset()


def test_money_has_two_decimals_and_no_exponent():
    assert money_text(Decimal("1E+3")) == "1000.00"
    assert money_text(Decimal("10.5")) == "10.50"
