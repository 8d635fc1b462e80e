"""The saga's shape, read from the flow's table: which steps run in each state, where each
outcome takes the saga, and the Celery canvases the edge makes of a plan, with the error
callback."""

from __future__ import annotations

from decimal import Decimal

from celery import group

from orchestrator.adapters.step_queue import QUEUE_OF_STAGE, CeleryDispatch
from orchestrator.domain.flow import SAGA
from orchestrator.domain.model import SagaState
from orchestrator.domain.saga import Saga
from orchestrator.domain.steps import (CHECK_PAYMENT, FAIL_ORDER, RELEASE_RESERVATION,
                                       REQUEST_PAYMENT, RESERVE_TICKETS, Plan)
from orchestrator.entrypoints.celery_app import app

S = SagaState
canvas = CeleryDispatch(app).canvas


def saga_in(state: SagaState, **fields: object) -> Saga:
    return Saga("order-1", state, "customer-1", Decimal("200.00"), (), **fields)  # type: ignore[arg-type]


def plan_in(state: SagaState, owes_a_payment: bool = False) -> Plan | None:
    return SAGA.plan("order-1", state, owes_a_payment)


def names(plan: Plan | None) -> list[str] | None:
    return None if plan is None else [step.name for step in plan.chain]


def to(step: object, state: SagaState, outcome: str) -> SagaState | None:
    row = SAGA.row(step, state, outcome)  # type: ignore[arg-type]
    assert row is not None, (step, state, outcome)
    return row.to


def test_a_new_saga_reserves_the_tickets_and_a_reservation_leads_to_the_payment_request() -> None:
    assert names(plan_in(S.STARTED)) == ["reserve_tickets"]
    assert to(RESERVE_TICKETS, S.STARTED, "reserved") is S.RESERVED
    assert names(plan_in(S.RESERVED)) == ["request_payment"]


def test_a_saga_waiting_for_its_payment_runs_nothing() -> None:
    assert to(REQUEST_PAYMENT, S.RESERVED, "requested") is S.AWAITING_PAYMENT
    assert plan_in(S.AWAITING_PAYMENT) is None


def test_an_approved_saga_is_finalised_in_one_step() -> None:
    assert to(CHECK_PAYMENT, S.AWAITING_PAYMENT, "approved") is S.APPROVED
    assert names(plan_in(S.APPROVED)) == ["finalise_order"]


def test_an_order_with_nothing_to_pay_goes_from_its_reservation_to_finalising() -> None:
    assert to(RESERVE_TICKETS, S.STARTED, "nothing to pay") is S.APPROVED


def test_compensation_releases_the_reservation_then_fails_the_order() -> None:
    plan = plan_in(S.COMPENSATING)
    assert plan is not None and names(plan) == ["release_reservation", "fail_order"]
    assert plan.beside == ()
    assert to(RELEASE_RESERVATION, S.COMPENSATING, "released") is None   # its chain goes on
    assert to(FAIL_ORDER, S.COMPENSATING, "rejected") is S.REJECTED
    assert to(FAIL_ORDER, S.COMPENSATING, "payment_failed") is S.PAYMENT_FAILED


def test_compensation_voids_a_payment_that_may_have_been_taken_beside_the_release() -> None:
    plan = plan_in(S.COMPENSATING, owes_a_payment=True)
    assert plan is not None and names(plan) == ["release_reservation", "fail_order"]
    assert [step.name for step in plan.beside] == ["void_payment"]


def test_finished_sagas_run_nothing() -> None:
    for state in (S.COMPLETED, S.REJECTED, S.PAYMENT_FAILED):
        assert plan_in(state) is None


def test_every_way_back_leads_into_the_compensation() -> None:
    back = {(row.steps[0].name, row.outcome) for row in SAGA.rows if row.turns_back}
    assert back == {("reserve_tickets", "refused"), ("await_payment", "declined"),
                    ("await_payment", "no result")}


def test_only_the_steps_before_the_payment_is_decided_give_up_by_turning_back() -> None:
    gives_up = {step.name for step in SAGA.steps() if step.gives_up_saying}
    assert gives_up == {"reserve_tickets", "request_payment"}


# -- the plans as Celery canvases ----------------------------------------------------------------

def test_a_plan_is_a_chain_of_its_steps_tasks_each_in_its_stages_queue() -> None:
    plan = plan_in(S.COMPENSATING)
    assert plan is not None
    chain = canvas(plan)
    assert [task.task for task in chain.tasks] == ["saga.release_reservation", "saga.fail_order"]
    assert [task.options["queue"] for task in chain.tasks] == [
        QUEUE_OF_STAGE[step.stage] for step in plan.chain]


def test_every_chain_carries_the_error_callback_that_compensates() -> None:
    for state in (S.STARTED, S.RESERVED, S.APPROVED, S.COMPENSATING):
        plan = plan_in(state)
        assert plan is not None
        assert canvas(plan).options["link_error"] == [app.signature("saga.on_step_failed")], state


def test_each_step_takes_only_a_versioned_reference_to_its_order() -> None:
    plan = plan_in(S.COMPENSATING)
    assert plan is not None
    for task in canvas(plan).tasks:
        assert task.args == ({"version": 1, "orderId": "order-1"},)
        assert task.immutable
        assert task.options["argsrepr"] == "order order-1"


def test_a_step_beside_the_chain_runs_in_a_group_with_it() -> None:
    plan = plan_in(S.COMPENSATING, owes_a_payment=True)
    assert plan is not None
    both = canvas(plan)
    assert isinstance(both, group)
    chain_part, void = both.tasks
    assert [task.task for task in chain_part.tasks] == ["saga.release_reservation",
                                                        "saga.fail_order"]
    assert void.task == "saga.void_payment"
    assert "link_error" not in void.options   # a failed void is the reconciler's to retry


def test_the_start_is_sent_with_the_error_callback_of_the_chains(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    sent = []
    monkeypatch.setenv("ORDER_MESSAGES_SIGNING_KEY", "k")
    monkeypatch.setattr("celery.app.task.Task.apply_async",
                        lambda self, args=None, kwargs=None, **options: sent.append(
                            (self.name, args, options)))
    import orchestrator.entrypoints.saga_tasks  # noqa: F401 - registers saga.start

    CeleryDispatch(app).start({"version": 1, "orderId": "order-1"})
    ((name, (message,), options),) = sent
    assert name == "saga.start" and message["orderId"] == "order-1"
    assert options["link_error"] == app.signature("saga.on_step_failed")
    assert options["argsrepr"] == "order order-1"
