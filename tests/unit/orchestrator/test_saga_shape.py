"""The saga's shape: which steps run in which order for each state (the flow's plans), and the
Celery canvases the edge makes of them, with the error callback."""

from __future__ import annotations

from decimal import Decimal

from celery import group

from orchestrator.adapters.step_queue import QUEUE_OF_STAGE, CeleryDispatch
from orchestrator.domain.model import Saga, SagaState
from orchestrator.domain.steps import DECLARED, Plan
from orchestrator.entrypoints.celery_app import app
from orchestrator.service_layer.saga import next_steps

S = SagaState
canvas = CeleryDispatch(app).canvas


def saga_in(state: SagaState, **fields: object) -> Saga:
    return Saga("order-1", state, "customer-1", Decimal("200.00"), (), **fields)  # type: ignore[arg-type]


def names(plan: Plan | None) -> list[str] | None:
    return None if plan is None else [step.name for step in plan.chain]


def test_a_new_saga_reserves_the_tickets_then_requests_the_payment() -> None:
    assert names(next_steps(saga_in(S.STARTED))) == ["reserve_tickets", "request_payment"]


def test_a_reserved_saga_goes_on_with_the_payment_request() -> None:
    assert names(next_steps(saga_in(S.RESERVED))) == ["request_payment"]


def test_a_saga_waiting_for_its_payment_runs_nothing() -> None:
    assert next_steps(saga_in(S.AWAITING_PAYMENT)) is None


def test_an_approved_saga_is_finalised_in_one_step() -> None:
    assert names(next_steps(saga_in(S.APPROVED))) == ["finalise_order"]


def test_compensation_releases_the_reservation_then_fails_the_order() -> None:
    plan = next_steps(saga_in(S.COMPENSATING))
    assert plan is not None and names(plan) == ["release_reservation", "fail_order"]
    assert plan.beside == ()


def test_compensation_voids_a_payment_that_may_have_been_taken_beside_the_release() -> None:
    plan = next_steps(saga_in(S.COMPENSATING, payment_to_void=True))
    assert plan is not None and names(plan) == ["release_reservation", "fail_order"]
    assert [step.name for step in plan.beside] == ["void_payment"]


def test_finished_sagas_run_nothing() -> None:
    for state in (S.COMPLETED, S.REJECTED, S.PAYMENT_FAILED):
        assert next_steps(saga_in(state)) is None


def test_only_the_steps_before_the_payment_is_decided_give_up_by_compensating() -> None:
    gives_up_as = {step.name: step.gives_up_as for step in DECLARED if step.gives_up_as}
    assert gives_up_as == {"reserve_tickets": S.REJECTED, "request_payment": S.PAYMENT_FAILED}


# -- the plans as Celery canvases ----------------------------------------------------------------

def test_a_plan_is_a_chain_of_its_steps_tasks_each_in_its_stages_queue() -> None:
    plan = next_steps(saga_in(S.STARTED))
    assert plan is not None
    chain = canvas(plan)
    assert [task.task for task in chain.tasks] == ["saga.reserve_tickets", "saga.request_payment"]
    assert [task.options["queue"] for task in chain.tasks] == [
        QUEUE_OF_STAGE[step.stage] for step in plan.chain]


def test_every_chain_carries_the_error_callback_that_compensates() -> None:
    for state in (S.STARTED, S.RESERVED, S.APPROVED, S.COMPENSATING):
        plan = next_steps(saga_in(state))
        assert plan is not None
        assert canvas(plan).options["link_error"] == [app.signature("saga.on_step_failed")], state


def test_each_step_takes_only_a_versioned_reference_to_its_order() -> None:
    plan = next_steps(saga_in(S.STARTED))
    assert plan is not None
    for task in canvas(plan).tasks:
        assert task.args == ({"version": 1, "orderId": "order-1"},)
        assert task.immutable
        assert task.options["argsrepr"] == "order order-1"


def test_a_step_beside_the_chain_runs_in_a_group_with_it() -> None:
    plan = next_steps(saga_in(S.COMPENSATING, payment_to_void=True))
    assert plan is not None
    both = canvas(plan)
    assert isinstance(both, group)
    chain_part, void = both.tasks
    assert [task.task for task in chain_part.tasks] == ["saga.release_reservation",
                                                        "saga.fail_order"]
    assert void.task == "saga.void_payment"
    assert "link_error" not in void.options   # a failed void is the reconciler's to retry
