"""The saga's steps, each declared once: where it stands in the saga, the states it runs in,
what a pass is, and how the saga ends when it fails for good.

The flow (`orchestrator/service_layer/saga.py`) gives each step its body, which the edge runs as
the Celery task `saga.<name>`; the diagram, the dashboard's figures, the saga metrics and the
docs read the declarations here. Adding a step is a declaration here and a body there.

Each step names its retry policy beside it: how often and how far apart it tries again when a
service is down, and which failures are never tried again. `STEP_*` and `SAGA_<STEP>_*` override
the numbers where a deployment needs others (`orchestrator.config.retry_policy`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from orchestrator.domain.exceptions import ConflictingOutcome, ContractBroken, ServiceUnavailable
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
class RetryPolicy:
    """What a step does when its body fails: tries again after a doubling, capped, jittered
    delay (`retried_on`), up to `max_attempts` in a row; leaves the saga for a person
    (`parked_on`); or fails for good at once (`never_retried`, and any error not named: a bug).
    A step that fails for good ends its saga as its declaration's `gives_up_as` says."""

    max_attempts: int
    first_delay: float      # seconds
    max_delay: float
    retried_on: tuple[type[Exception], ...] = (ServiceUnavailable,)
    parked_on: tuple[type[Exception], ...] = (ConflictingOutcome,)
    never_retried: tuple[type[Exception], ...] = (ContractBroken,)

    def delay(self, retries_so_far: int) -> float:
        """Seconds before the next attempt: doubling, capped, with jitter over its upper half."""
        ceiling = min(self.max_delay, self.first_delay * 2 ** retries_so_far)
        return random.uniform(ceiling / 2, ceiling)


# A service down for a restart (seconds) is waited out; one down for a minute leaves the step
# to the reconciler, which drives it again later.
CALLS_A_SERVICE = RetryPolicy(max_attempts=5, first_delay=1.0, max_delay=30.0)


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
    gives_up_saying: str | None = None          # the order's reason then, for the customer (the
    #                                             technical failure stays in the step's record)
    is_a_task: bool = True                      # False: a wait, a row in the store
    retry: RetryPolicy | None = None            # a task's: how it meets a failure

    def __post_init__(self) -> None:
        assert (self.gives_up_as is None) is (self.gives_up_saying is None), (
            f"{self.name}: a step that gives up says so to the customer, and only then")


RESERVE_TICKETS = StepDeclaration(
    "reserve_tickets", "Reserve tickets", Place.FORWARD, Stage.ONGOING, runs_in=(S.STARTED,),
    where_a_saga_waits=(S.STARTED,), passes_as="reserved", turns_back_as="out of stock",
    gives_up_as=S.REJECTED, retry=CALLS_A_SERVICE,
    gives_up_saying="The tickets could not be reserved just now; nothing was charged.")
REQUEST_PAYMENT = StepDeclaration(
    "request_payment", "Request payment", Place.FORWARD, Stage.ONGOING,
    runs_in=(S.RESERVED, S.AWAITING_PAYMENT), where_a_saga_waits=(S.RESERVED,),
    turns_back_as="failed", gives_up_as=S.PAYMENT_FAILED, retry=CALLS_A_SERVICE,
    gives_up_saying="The payment could not be requested; nothing was charged and the tickets "
                    "are back on sale.")
AWAIT_PAYMENT = StepDeclaration(
    "await_payment", "Wait for the result", Place.FORWARD, Stage.ONGOING,
    where_a_saga_waits=(S.AWAITING_PAYMENT,), passes_as="approved",
    turns_back_as="declined / no result", is_a_task=False)
FINALISE_ORDER = StepDeclaration(
    "finalise_order", "Finalise order", Place.FORWARD, Stage.FINISHING, runs_in=(S.APPROVED,),
    where_a_saga_waits=(S.APPROVED,), retry=CALLS_A_SERVICE)
RELEASE_RESERVATION = StepDeclaration(
    "release_reservation", "Release tickets", Place.COMPENSATION, Stage.FINISHING,
    runs_in=(S.COMPENSATING,), where_a_saga_waits=(S.COMPENSATING,), retry=CALLS_A_SERVICE)
FAIL_ORDER = StepDeclaration(
    "fail_order", "Fail order", Place.COMPENSATION, Stage.FINISHING, runs_in=(S.COMPENSATING,),
    retry=CALLS_A_SERVICE)
CHECK_PAYMENT = StepDeclaration(
    "check_payment", "Check the payment", Place.SIDE, Stage.FINISHING, runs_in=PAYMENT_MAY_EXIST,
    retry=CALLS_A_SERVICE)
VOID_PAYMENT = StepDeclaration(   # runs while the saga says a payment must be given back
    "void_payment", "Void the payment", Place.SIDE, Stage.FINISHING, retry=CALLS_A_SERVICE)

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


# Every step fails with this outcome when it is given up on; where a business "no" is possible
# (`passes_as`), any other outcome than the step's yes (out of stock, declined) fails it too.
GAVE_UP_OUTCOME = "failed"


def step_failed(step: str, outcome: str | None) -> bool:
    """Whether a finished run of the step with this outcome counts as failed there."""
    if outcome == GAVE_UP_OUTCOME:
        return True
    return step in PASSING_OUTCOME and outcome != PASSING_OUTCOME[step]


WAITING_STATES = tuple(state for step in DECLARED for state in step.where_a_saga_waits)
COMPENSATION_STEPS = tuple(step.name for step in on(Place.COMPENSATION))
PASSING_OUTCOME = {step.name: step.passes_as for step in DECLARED if step.passes_as}


@dataclass(frozen=True)
class Plan:
    """Steps to run for one saga: `chain` one after the other (a step's verdict may end it
    early), a step of it that fails for good handed to the flow's `step_failed`; `beside`
    alongside the chain, on its own."""

    order_id: str
    chain: tuple[StepDeclaration, ...]
    beside: tuple[StepDeclaration, ...] = ()
