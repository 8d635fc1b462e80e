"""The saga's steps, each declared once: where it stands in the saga, the states it runs in,
what a pass is, and how the saga ends when it fails for good.

The flow (`orchestrator/saga.py`) gives each step its body and registers it as the Celery task
`saga.<name>`; the diagram, the dashboard's figures, the saga metrics and the docs read the
declarations here. Adding a step is a declaration here and a body there.

Every step retries a service that is down by `RetryPolicy.for_step(name)` (orchestrator.config:
`STEP_*` defaults, `SAGA_<STEP>_*` overrides); a broken contract is not retried (the step fails
for good at once), and a conflicting outcome parks the saga for a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from orchestrator.domain.model import PAYMENT_MAY_EXIST, SagaState

S = SagaState


class Place(StrEnum):
    FORWARD = "forward"             # the saga's way to COMPLETED, in order
    COMPENSATION = "compensation"   # the way back, in order
    SIDE = "side"                   # beside the way: a check, a payment to give back


class Stage(StrEnum):
    """When a step comes in a saga's life, which is also the queue it waits in: a worker takes
    finishing steps before ongoing ones, so a burst of new orders never holds back paid ones."""

    ONGOING = "ongoing"       # before the payment is decided
    FINISHING = "finishing"   # after it: finalise, compensate, check, give back


@dataclass(frozen=True)
class StepDeclaration:
    name: str
    label: str                                  # the diagram's box
    place: Place
    stage: Stage
    runs_in: tuple[SagaState, ...] = ()         # its task does its work only in these states
    where_a_saga_waits: tuple[SagaState, ...] = ()   # a live saga in these states is at this step
    passes_as: str | None = None                # where a business "no" is possible: the yes
    turns_back_as: str | None = None            # why the saga turns back at this step (diagram)
    gives_up_as: SagaState | None = None        # the saga's end if it fails for good; None: it
    #                                             must finish, the reconciler drives it again
    is_a_task: bool = True                      # False: a wait, a row in the store


RESERVE_TICKETS = StepDeclaration(
    "reserve_tickets", "Reserve tickets", Place.FORWARD, Stage.ONGOING, runs_in=(S.STARTED,),
    where_a_saga_waits=(S.STARTED,), passes_as="reserved", turns_back_as="out of stock",
    gives_up_as=S.REJECTED)
REQUEST_PAYMENT = StepDeclaration(
    "request_payment", "Request payment", Place.FORWARD, Stage.ONGOING,
    runs_in=(S.RESERVED, S.AWAITING_PAYMENT), where_a_saga_waits=(S.RESERVED,),
    turns_back_as="failed", gives_up_as=S.PAYMENT_FAILED)
AWAIT_PAYMENT = StepDeclaration(
    "await_payment", "Wait for the result", Place.FORWARD, Stage.ONGOING,
    where_a_saga_waits=(S.AWAITING_PAYMENT,), passes_as="approved",
    turns_back_as="declined / no result", is_a_task=False)
FINALISE_ORDER = StepDeclaration(
    "finalise_order", "Finalise order", Place.FORWARD, Stage.FINISHING, runs_in=(S.APPROVED,),
    where_a_saga_waits=(S.APPROVED,))
RELEASE_RESERVATION = StepDeclaration(
    "release_reservation", "Release tickets", Place.COMPENSATION, Stage.FINISHING,
    runs_in=(S.COMPENSATING,), where_a_saga_waits=(S.COMPENSATING,))
FAIL_ORDER = StepDeclaration(
    "fail_order", "Fail order", Place.COMPENSATION, Stage.FINISHING, runs_in=(S.COMPENSATING,))
CHECK_PAYMENT = StepDeclaration(
    "check_payment", "Check the payment", Place.SIDE, Stage.FINISHING, runs_in=PAYMENT_MAY_EXIST)
VOID_PAYMENT = StepDeclaration(   # runs while the saga says a payment must be given back
    "void_payment", "Void the payment", Place.SIDE, Stage.FINISHING)

DECLARED = (RESERVE_TICKETS, REQUEST_PAYMENT, AWAIT_PAYMENT, FINALISE_ORDER,
            RELEASE_RESERVATION, FAIL_ORDER, CHECK_PAYMENT, VOID_PAYMENT)
BY_NAME = {step.name: step for step in DECLARED}


def on(place: Place, steps: tuple[StepDeclaration, ...] = DECLARED) -> list[StepDeclaration]:
    """The steps at this place of the saga, in their order."""
    return [step for step in steps if step.place is place]


def step_where_waiting(state: SagaState, released: bool = False) -> str | None:
    """The step a live saga in `state` is at; a compensating saga whose tickets were released
    (`released`) is at the compensation's next step."""
    compensation = on(Place.COMPENSATION)
    for step in DECLARED:
        if state in step.where_a_saga_waits:
            if released and step is compensation[0]:
                return compensation[1].name
            return step.name
    return None


WAITING_STATES = tuple(state for step in DECLARED for state in step.where_a_saga_waits)
COMPENSATION_STEPS = tuple(step.name for step in on(Place.COMPENSATION))
PASSING_OUTCOME = {step.name: step.passes_as for step in DECLARED if step.passes_as}
GIVE_UP_AS = {step.name: step.gives_up_as for step in DECLARED if step.gives_up_as}
