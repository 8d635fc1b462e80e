"""The saga's own rules, as its methods keep them: plain Python, no store, no Celery."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from glastonbury.contracts.limits import REASON_MAX_LENGTH
from orchestrator.domain.flow import SAGA
from orchestrator.domain.model import SagaState
from orchestrator.domain.saga import MoveRefused, Saga
from orchestrator.domain.steps import (AWAIT_PAYMENT, CHECK_PAYMENT, FINALISE_ORDER,
                                       REQUEST_PAYMENT, RESERVE_TICKETS, VOID_PAYMENT, Outcome,
                                       StepDeclaration)

S = SagaState
DEADLINE = datetime(2026, 6, 24, 18, 5, tzinfo=UTC)


def saga_in(state: SagaState, **fields: object) -> Saga:
    return Saga("o1", state, "c1", Decimal("200.00"), (), **fields)  # type: ignore[arg-type]


def take(saga: Saga, step: StepDeclaration, outcome: Outcome) -> None:
    row = SAGA.row(step, saga.state, outcome.name)
    assert row is not None
    saga.take(row, outcome, DEADLINE)


def test_a_saga_takes_the_tables_row_and_says_what_changed() -> None:
    saga = saga_in(S.STARTED)
    take(saga, RESERVE_TICKETS, Outcome("reserved"))
    move = saga.move
    assert (move.was, move.to, move.moves, move.changes) == (S.STARTED, S.RESERVED, True, {})


def test_a_row_its_state_does_not_allow_is_refused_and_changes_nothing() -> None:
    saga = saga_in(S.COMPLETED)
    row = SAGA.row(FINALISE_ORDER, S.APPROVED, "completed")
    assert row is not None and not saga.may_take(row)
    with pytest.raises(MoveRefused):
        saga.take(row, Outcome("completed"), DEADLINE)
    assert saga.state is S.COMPLETED and not saga.move.moves and saga.move.changes == {}


def test_asking_for_the_payment_begins_the_wait_with_its_deadline() -> None:
    saga = saga_in(S.RESERVED)
    take(saga, REQUEST_PAYMENT, Outcome("requested"))
    assert saga.state is S.AWAITING_PAYMENT and saga.payment_requested
    assert saga.move.changes == {"payment_requested": True, "payment_deadline": DEADLINE}
    assert saga.move.wait_begins and saga.move.wait_ended_as is None


def test_a_refusal_turns_the_saga_back_to_end_rejected_with_the_customers_reason() -> None:
    saga = saga_in(S.STARTED)
    take(saga, RESERVE_TICKETS, Outcome("refused", said="out_of_stock",
                                        reason="Not enough tickets left."))
    assert (saga.state, saga.outcome, saga.reason) == (
        S.COMPENSATING, S.REJECTED, "Not enough tickets left.")
    assert not saga.payment_to_void   # no payment was ever asked for


def test_a_declined_payment_ends_the_wait_and_leaves_nothing_to_give_back() -> None:
    saga = saga_in(S.AWAITING_PAYMENT, payment_requested=True)
    take(saga, CHECK_PAYMENT, Outcome("declined", reason="Payment declined: no funds"))
    assert (saga.state, saga.outcome) == (S.COMPENSATING, S.PAYMENT_FAILED)
    assert not saga.payment_to_void and saga.move.wait_ended_as == "declined"


def test_turning_back_once_a_payment_may_exist_gives_it_back_and_ends_the_wait() -> None:
    saga = saga_in(S.AWAITING_PAYMENT, payment_requested=True)
    assert saga.turn_back("Compensated by an operator.")
    assert (saga.state, saga.outcome, saga.payment_to_void) == (
        S.COMPENSATING, S.PAYMENT_FAILED, True)
    assert saga.move.wait_ended_as == "gave up"


@pytest.mark.parametrize("state", [S.APPROVED, S.COMPENSATING, S.COMPLETED, S.REJECTED,
                                   S.PAYMENT_FAILED])
def test_after_approval_or_once_turned_back_or_finished_a_saga_does_not_turn_back(
        state: SagaState) -> None:
    saga = saga_in(state)
    assert not saga.turn_back("too late")
    assert saga.state is state and saga.move.changes == {}


def test_a_customers_reason_is_cut_to_what_the_order_service_keeps() -> None:
    saga = saga_in(S.RESERVED)
    saga.turn_back("x" * 2000 + "\x00")
    assert saga.reason is not None and len(saga.reason) <= REASON_MAX_LENGTH
    assert "\x00" not in saga.reason


def test_a_payment_approved_after_giving_up_is_owed_back_and_voiding_settles_it() -> None:
    saga = saga_in(S.PAYMENT_FAILED)
    assert saga.approved_after_giving_up() and saga.payment_to_void
    assert not saga_in(S.APPROVED).approved_after_giving_up()
    settled = saga_in(S.PAYMENT_FAILED, payment_to_void=True)
    take(settled, VOID_PAYMENT, Outcome("voided", said="payment refunded"))
    assert not settled.payment_to_void and not settled.move.moves
    assert settled.move.changes == {"payment_to_void": False}


def test_the_wait_is_a_step_of_the_table_and_no_task() -> None:
    assert not AWAIT_PAYMENT.is_a_task
    assert SAGA.plan("o1", S.AWAITING_PAYMENT, False) is None


def test_a_person_unparks_a_saga_and_its_drives_count_afresh() -> None:
    saga = saga_in(S.APPROVED, parked=True, drives=7)
    saga.unpark()
    assert saga.move.changes == {"parked": False, "drives": 0} and not saga.move.moves
