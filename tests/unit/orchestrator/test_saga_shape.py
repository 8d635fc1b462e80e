"""The saga's shape: which steps run in which order for each state, with which error callback."""

from __future__ import annotations

from decimal import Decimal

from celery import group

from orchestrator.domain.model import Saga, SagaState
from orchestrator.saga import GIVE_UP_AS, next_canvas, on_step_failed

S = SagaState


def saga_in(state: SagaState, **fields: object) -> Saga:
    return Saga("order-1", state, "customer-1", Decimal("200.00"), (), **fields)  # type: ignore[arg-type]


def step_names(canvas) -> list[str]:  # type: ignore[no-untyped-def]
    return [task.task for task in canvas.tasks]


def test_a_new_saga_reserves_the_tickets_then_requests_the_payment() -> None:
    canvas = next_canvas(saga_in(S.STARTED))
    assert step_names(canvas) == ["saga.reserve_tickets", "saga.request_payment"]


def test_every_chain_carries_the_error_callback_that_compensates() -> None:
    for state in (S.STARTED, S.RESERVED, S.APPROVED, S.COMPENSATING):
        canvas = next_canvas(saga_in(state))
        assert canvas.options["link_error"] == [on_step_failed.s()], state


def test_each_step_takes_only_a_versioned_reference_to_its_order() -> None:
    canvas = next_canvas(saga_in(S.STARTED))
    for task in canvas.tasks:
        assert task.args == ({"version": 1, "orderId": "order-1"},)
        assert task.immutable


def test_a_reserved_saga_goes_on_with_the_payment_request() -> None:
    assert step_names(next_canvas(saga_in(S.RESERVED))) == ["saga.request_payment"]


def test_a_saga_waiting_for_its_payment_runs_nothing() -> None:
    assert next_canvas(saga_in(S.AWAITING_PAYMENT)) is None


def test_an_approved_saga_is_finalised_in_one_step() -> None:
    canvas = next_canvas(saga_in(S.APPROVED))
    assert step_names(canvas) == ["saga.finalise_order"]


def test_compensation_releases_the_reservation_then_fails_the_order() -> None:
    canvas = next_canvas(saga_in(S.COMPENSATING))
    assert step_names(canvas) == ["saga.release_reservation", "saga.fail_order"]


def test_compensation_voids_a_payment_that_may_have_been_taken_beside_the_release() -> None:
    canvas = next_canvas(saga_in(S.COMPENSATING, payment_to_void=True))
    assert isinstance(canvas, group)
    chain_part, void = canvas.tasks
    assert step_names(chain_part) == ["saga.release_reservation", "saga.fail_order"]
    assert void.task == "saga.void_payment"


def test_finished_sagas_run_nothing() -> None:
    for state in (S.COMPLETED, S.REJECTED, S.PAYMENT_FAILED):
        assert next_canvas(saga_in(state)) is None


def test_only_the_steps_before_the_payment_is_decided_give_up_by_compensating() -> None:
    assert GIVE_UP_AS == {"reserve_tickets": S.REJECTED, "request_payment": S.PAYMENT_FAILED}
