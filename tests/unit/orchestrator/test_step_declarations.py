"""Each step declared once (orchestrator/domain/steps.py) and placed once in the flow's table
(orchestrator/domain/flow.py): the tasks, the queues, where a step runs, the dashboard's figures
and the diagram all follow them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from orchestrator.adapters.saga_views import StepFigures
from orchestrator.adapters.step_queue import QUEUE_OF_STAGE
from orchestrator.config import retry_policy
from orchestrator.domain.exceptions import ConflictingOutcome, ContractBroken, ServiceUnavailable
from orchestrator.domain.flow import SAGA
from orchestrator.domain.model import TERMINAL, SagaState
from orchestrator.domain.saga import Saga
from orchestrator.domain.steps import (BY_NAME, CALLS_A_SERVICE, DECLARED, RELEASE_RESERVATION,
                                       REQUEST_PAYMENT, RESERVE_TICKETS, Flow, RetryPolicy, Row,
                                       Stage, StepDeclaration)
from orchestrator.entrypoints.celery_app import app
from orchestrator.entrypoints.dashboard import diagram
from tests.unit.orchestrator.test_saga_shape import saga_in

S = SagaState


def test_every_step_with_a_body_is_a_task_in_its_stages_queue_and_every_task_has_a_body(
        ) -> None:
    import orchestrator.entrypoints.saga_tasks  # noqa: F401 - registers the tasks

    tasks = {step.name for step in DECLARED if step.is_a_task}
    assert set(SAGA.bodies) == tasks
    assert {step.name for step in SAGA.steps()} == {step.name for step in DECLARED}
    for name in tasks:
        declared = next(step for step in DECLARED if step.name == name)
        assert app.tasks[f"saga.{name}"].queue == QUEUE_OF_STAGE[declared.stage]


def runs(step: StepDeclaration, saga: Saga) -> bool:
    return any(saga.may_take(row) for row in SAGA.rows_of(step))


def test_a_step_runs_only_in_the_states_its_rows_run_in() -> None:
    expected = {"reserve_tickets": {S.STARTED}, "finalise_order": {S.APPROVED},
                "request_payment": {S.RESERVED, S.AWAITING_PAYMENT},
                "check_payment": {S.RESERVED, S.AWAITING_PAYMENT},
                "release_reservation": {S.COMPENSATING}, "fail_order": {S.COMPENSATING}}
    for name, states in expected.items():
        for state in SagaState:
            assert runs(BY_NAME[name], saga_in(state)) is (state in states), (name, state)
    void = next(step for step in DECLARED if step.name == "void_payment")
    assert runs(void, saga_in(S.REJECTED, payment_to_void=True))   # while a payment is owed
    assert not runs(void, saga_in(S.REJECTED))
    assert not runs(void, saga_in(S.AWAITING_PAYMENT, payment_to_void=True))


def test_every_live_state_is_at_one_step_of_the_table() -> None:
    names = {step.name for step in DECLARED}
    for state in SagaState:
        at = SAGA.where_waiting(state)
        assert (at is None) is (state in TERMINAL), state
        assert at is None or at in names
    assert SAGA.where_waiting(S.COMPENSATING) == "release_reservation"
    assert SAGA.where_waiting(S.COMPENSATING, released=True) == "fail_order"


def test_a_step_with_a_business_no_fails_on_any_outcome_but_its_yes() -> None:
    assert not SAGA.step_failed("reserve_tickets", "reserved")
    assert not SAGA.step_failed("reserve_tickets", "nothing to pay")
    assert SAGA.step_failed("reserve_tickets", "out_of_stock")
    assert SAGA.step_failed("await_payment", "declined")
    assert SAGA.step_failed("await_payment", "gave up")
    assert not SAGA.step_failed("await_payment", "approved")
    assert not SAGA.step_failed("finalise_order", "completed")
    assert not SAGA.step_failed("check_payment", "payment declined")   # beside the way
    assert SAGA.step_failed("finalise_order", "failed")


def test_the_diagram_is_drawn_from_the_table() -> None:
    figures = {name: StepFigures(name) for name in diagram.STEPS}
    drawn = diagram.draw(figures, {})
    assert [(box.step, box.label) for box in drawn.boxes] == [
        (step.name, step.label) for step in (*SAGA.forward(), *SAGA.compensation())]
    assert [box.step for box in drawn.boxes] == [
        "reserve_tickets", "request_payment", "await_payment", "finalise_order",
        "release_reservation", "fail_order"]
    assert {arrow.label for arrow in drawn.arrows if arrow.back} == {
        "refused", "failed", "declined / no result", ""}
    assert "approved" in {arrow.label for arrow in drawn.arrows if not arrow.back}


def test_a_step_added_to_the_table_gets_its_box_its_figures_and_its_arrow_back() -> None:
    check_seats = StepDeclaration("check_seats", "Check the seats", Stage.ONGOING,
                                  CALLS_A_SERVICE)
    runs_now = dict(SAGA.runs)
    runs_now[S.RESERVED] = (check_seats, REQUEST_PAYMENT)
    rows = (*SAGA.rows, Row(check_seats, (S.RESERVED,), "seats", None),
            Row(check_seats, (S.RESERVED,), "no seats", S.COMPENSATING))
    grown = Flow(runs_now, rows, SAGA.beside)
    names = diagram.steps_drawn(grown)
    assert names.index("check_seats") == names.index("request_payment") - 1
    figures = {name: StepFigures(name) for name in names}
    before = diagram.draw(figures, {})
    after = diagram.draw(figures, {}, grown)
    forward = [box for box in after.boxes if box.y == diagram.TOP]
    assert [box.step for box in forward][1:3] == ["check_seats", "request_payment"]
    assert after.width == before.width + diagram.BOX_W + diagram.GAP
    assert "no seats" in {arrow.label for arrow in after.arrows if arrow.back}
    # The compensation stays under the last forward steps, the ends after the last column.
    back = [box for box in after.boxes if box.y == diagram.BOTTOM]
    assert back[-1].x == forward[-1].x and after.ends[0].x > forward[-1].x
    assert grown.runs_in(check_seats) == (S.RESERVED,)
    assert grown.plan("o", S.RESERVED, False).chain == (check_seats, REQUEST_PAYMENT)  # type: ignore[union-attr]
    renamed = replace(check_seats, label="Seats")
    regrown = Flow({**runs_now, S.RESERVED: (renamed, REQUEST_PAYMENT)},
                   tuple(replace(row, by=renamed) if row.by is check_seats else row
                         for row in rows), SAGA.beside)
    assert "Seats" in [box.label for box in diagram.draw(figures, {}, regrown).boxes]


def test_a_saga_in_a_state_no_step_runs_in_is_left_alone() -> None:
    saga = Saga("o", S.COMPLETED, "c", 0, ())  # type: ignore[arg-type]
    assert not any(runs(step, saga) for step in DECLARED if step.is_a_task)


def test_every_task_declares_its_retry_policy_and_a_wait_has_none() -> None:
    assert [step.name for step in DECLARED if not step.is_a_task] == ["await_payment"]
    with pytest.raises(AssertionError, match="declares no retry policy"):
        SAGA.body(replace(RESERVE_TICKETS, name="no_policy", retry=None))


def test_a_service_down_is_retried_a_broken_contract_never_and_a_conflict_parks() -> None:
    assert issubclass(ServiceUnavailable, CALLS_A_SERVICE.retried_on)
    assert issubclass(ContractBroken, CALLS_A_SERVICE.never_retried)
    assert not issubclass(ContractBroken, CALLS_A_SERVICE.retried_on)
    assert issubclass(ConflictingOutcome, CALLS_A_SERVICE.parked_on)


def test_the_retry_numbers_come_from_the_declaration_unless_a_setting_says_otherwise(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STEP_MAX_ATTEMPTS", "SAGA_RESERVE_TICKETS_MAX_ATTEMPTS", "STEP_RETRY_DELAY"):
        monkeypatch.delenv(name, raising=False)
    own = replace(RESERVE_TICKETS, retry=RetryPolicy(max_attempts=7, first_delay=0.5,
                                                     max_delay=4.0))
    assert retry_policy(own) == own.retry
    monkeypatch.setenv("STEP_MAX_ATTEMPTS", "3")              # every step
    assert retry_policy(own).max_attempts == 3
    monkeypatch.setenv("SAGA_RESERVE_TICKETS_MAX_ATTEMPTS", "9")   # this step only
    assert retry_policy(own).max_attempts == 9
    assert retry_policy(RELEASE_RESERVATION).max_attempts == 3
    assert retry_policy(own).first_delay == 0.5 and retry_policy(own).max_delay == 4.0


def test_the_delay_between_attempts_doubles_up_to_its_cap_with_jitter() -> None:
    policy = RetryPolicy(max_attempts=10, first_delay=1.0, max_delay=8.0)
    for retries, ceiling in ((0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (6, 8.0)):
        for _ in range(20):
            assert ceiling / 2 <= policy.delay(retries) <= ceiling


def test_a_step_that_gives_up_by_turning_back_says_why_to_the_customer() -> None:
    for declared in DECLARED:
        if declared.gives_up_saying is None:
            continue
        for state in SAGA.runs_in(declared):
            saga = saga_in(state)
            assert saga.turn_back(declared.gives_up_saying), (declared.name, state)
            assert saga.reason == declared.gives_up_saying
