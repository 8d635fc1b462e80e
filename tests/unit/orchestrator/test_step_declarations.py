"""Each step declared once (orchestrator/domain/steps.py): the tasks, the queues, the dashboard's
figures and the diagram all follow the declarations."""

from __future__ import annotations

from dataclasses import replace

from orchestrator.adapters.saga_views import StepFigures
import pytest

from orchestrator.adapters.step_queue import QUEUE_OF_STAGE
from orchestrator.config import retry_policy
from orchestrator.domain.exceptions import ConflictingOutcome, ContractBroken, ServiceUnavailable
from orchestrator.domain.model import TERMINAL, Saga, SagaState
from orchestrator.domain.steps import (CALLS_A_SERVICE, DECLARED, RELEASE_RESERVATION, step_failed,
                                       REQUEST_PAYMENT, RESERVE_TICKETS, Place, RetryPolicy,
                                       Stage, StepDeclaration, step_where_waiting)
from orchestrator.entrypoints.celery_app import app
from orchestrator.entrypoints.dashboard import diagram
from orchestrator.service_layer.step_runner import STEPS, saga_step
from tests.unit.orchestrator.test_saga_shape import saga_in

S = SagaState


def test_every_declared_step_is_a_task_in_its_stages_queue_and_every_step_task_is_declared(
        ) -> None:
    import orchestrator.entrypoints.saga_tasks  # noqa: F401 - registers the tasks

    tasks = {step.name for step in DECLARED if step.is_a_task}
    assert set(STEPS) == tasks
    for name in tasks:
        declared = next(step for step in DECLARED if step.name == name)
        assert app.tasks[f"saga.{name}"].queue == QUEUE_OF_STAGE[declared.stage]


def test_a_step_runs_only_in_the_states_it_is_declared_for() -> None:
    import orchestrator.service_layer.saga  # noqa: F401 - gives the steps their bodies

    for declared in DECLARED:
        if not declared.is_a_task or not declared.runs_in:
            continue
        for state in SagaState:
            assert STEPS[declared.name].runs_when(saga_in(state)) is (state in declared.runs_in), (
                declared.name, state)
    void = STEPS["void_payment"].runs_when   # runs while the saga owes a payment back
    assert void(saga_in(S.REJECTED, payment_to_void=True))
    assert not void(saga_in(S.REJECTED))


def test_every_live_state_is_at_one_declared_step() -> None:
    names = {step.name for step in DECLARED}
    for state in SagaState:
        at = step_where_waiting(state)
        assert (at is None) is (state in TERMINAL), state
        assert at is None or at in names
    assert step_where_waiting(S.COMPENSATING) == "release_reservation"
    assert step_where_waiting(S.COMPENSATING, released=True) == "fail_order"


def test_a_step_with_a_business_no_fails_on_any_outcome_but_its_declared_yes() -> None:
    assert not step_failed("reserve_tickets", "reserved")
    assert step_failed("reserve_tickets", "out of stock")
    assert step_failed("await_payment", "declined")
    assert not step_failed("finalise_order", "completed")
    assert step_failed("finalise_order", "failed")


def test_the_diagram_is_built_from_the_declarations() -> None:
    figures = {name: StepFigures(name) for name in diagram.STEPS}
    drawn = diagram.draw(figures, {})
    assert [(box.step, box.label) for box in drawn.boxes] == [
        (step.name, step.label) for place in (Place.FORWARD, Place.COMPENSATION)
        for step in DECLARED if step.place is place]
    assert {arrow.label for arrow in drawn.arrows if arrow.back} >= {
        step.turns_back_as for step in DECLARED if step.turns_back_as}


def test_a_newly_declared_step_gets_its_box_its_figures_and_its_arrow_back() -> None:
    check_seats = StepDeclaration("check_seats", "Check the seats", Place.FORWARD, Stage.ONGOING,
                                  runs_in=(S.RESERVED,), turns_back_as="no seats")
    steps = list(DECLARED)
    steps.insert(steps.index(REQUEST_PAYMENT), check_seats)
    names = diagram.steps_drawn(tuple(steps))
    assert names.index("check_seats") == names.index("request_payment") - 1
    figures = {name: StepFigures(name) for name in names}
    before = diagram.draw(figures, {})
    after = diagram.draw(figures, {}, tuple(steps))
    forward = [box for box in after.boxes if box.y == diagram.TOP]
    assert [box.step for box in forward][1:3] == ["check_seats", "request_payment"]
    assert after.width == before.width + diagram.BOX_W + diagram.GAP
    assert "no seats" in {arrow.label for arrow in after.arrows if arrow.back}
    # The compensation stays under the last forward steps, the ends after the last column.
    back = [box for box in after.boxes if box.y == diagram.BOTTOM]
    assert back[-1].x == forward[-1].x and after.ends[0].x > forward[-1].x
    renamed = replace(check_seats, label="Seats")
    assert "Seats" in [box.label for box in diagram.draw(
        figures, {}, tuple(renamed if step is check_seats else step for step in steps)).boxes]


def test_a_saga_in_a_state_no_step_runs_in_is_left_alone() -> None:
    saga = Saga("o", S.COMPLETED, "c", 0, ())  # type: ignore[arg-type]
    assert not any(STEPS[step.name].runs_when(saga) for step in DECLARED if step.is_a_task)


def test_every_task_declares_its_retry_policy_and_a_wait_has_none() -> None:
    for declared in DECLARED:
        assert (declared.retry is not None) is declared.is_a_task, declared.name
    with pytest.raises(AssertionError, match="declares no retry policy"):
        saga_step(replace(RESERVE_TICKETS, name="no_policy", retry=None))


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


def test_a_step_that_gives_up_says_why_to_the_customer() -> None:
    for declared in DECLARED:
        assert (declared.gives_up_as is None) is (declared.gives_up_saying is None)
    with pytest.raises(AssertionError, match="says so to the customer"):
        replace(RESERVE_TICKETS, gives_up_saying=None)
