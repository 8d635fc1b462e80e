"""The saga's steps, each declared once, and how the flow's table is read.

A declaration says what only the step knows: its label, its stage (the queue it waits in), its
retry policy with the errors never retried named, and the customer's words when it gives up.
Where it runs, what follows it and what undoes it are rows of the flow's table
(`orchestrator/domain/flow.py`), which a `Flow` reads for the runner, the diagram, the views and
the metrics.

`STEP_*` and `SAGA_<STEP>_*` override a policy's numbers where a deployment needs others
(`orchestrator.config.retry_policy`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from orchestrator.domain.exceptions import ConflictingOutcome, ContractBroken, ServiceUnavailable
from orchestrator.domain.model import SagaState

S = SagaState


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
    A step that fails for good turns the saga back if it `gives_up_saying` something."""

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


@dataclass(frozen=True, eq=False)   # each step is one object: compared by identity, at once
class StepDeclaration:
    name: str
    label: str                                  # the diagram's box
    stage: Stage
    retry: RetryPolicy | None = None            # a task's: how it meets a failure; a wait: none
    gives_up_saying: str | None = None          # given up on, the saga turns back and the order's
    #                                             reason says this (the technical failure stays
    #                                             in the step's record); None: it must finish,
    #                                             the reconciler drives it again

    @property
    def is_a_task(self) -> bool:
        """False for a wait: a row in the store, no worker."""
        return self.retry is not None


RESERVE_TICKETS = StepDeclaration(
    "reserve_tickets", "Reserve tickets", Stage.ONGOING, CALLS_A_SERVICE,
    gives_up_saying="The tickets could not be reserved just now; nothing was charged.")
REQUEST_PAYMENT = StepDeclaration(
    "request_payment", "Request payment", Stage.ONGOING, CALLS_A_SERVICE,
    gives_up_saying="The payment could not be requested; nothing was charged and the tickets "
                    "are back on sale.")
AWAIT_PAYMENT = StepDeclaration("await_payment", "Wait for the result", Stage.ONGOING)
FINALISE_ORDER = StepDeclaration("finalise_order", "Finalise order", Stage.FINISHING,
                                 CALLS_A_SERVICE)
RELEASE_RESERVATION = StepDeclaration("release_reservation", "Release tickets", Stage.FINISHING,
                                      CALLS_A_SERVICE)
FAIL_ORDER = StepDeclaration("fail_order", "Fail order", Stage.FINISHING, CALLS_A_SERVICE)
CHECK_PAYMENT = StepDeclaration("check_payment", "Check the payment", Stage.FINISHING,
                                CALLS_A_SERVICE)
VOID_PAYMENT = StepDeclaration("void_payment", "Void the payment", Stage.FINISHING,
                               CALLS_A_SERVICE)

DECLARED = (RESERVE_TICKETS, REQUEST_PAYMENT, AWAIT_PAYMENT, FINALISE_ORDER,
            RELEASE_RESERVATION, FAIL_ORDER, CHECK_PAYMENT, VOID_PAYMENT)
BY_NAME = {step.name: step for step in DECLARED}

# The outcome every step is recorded with when it is given up on.
GAVE_UP_OUTCOME = "failed"


@dataclass(frozen=True)
class Outcome:
    """What a step's body found: `name`, the table's word for it; `said`, what the step's
    record says where it tells more (the inventory's refusal code, the payment's status);
    `detail`, the service's answer for operators (the record's error, never the customer's);
    `reason`, the customer's words where the saga turns back."""

    name: str
    said: str | None = None
    detail: str | None = None
    reason: str | None = None

    @property
    def recorded(self) -> str:
        return self.said or self.name


@dataclass(frozen=True)
class Row:
    """A row of the table: a step (or either of several) that ends with `outcome` while the
    saga is in one of `runs_in` moves the saga `to` a state (None: it stays, and the chain the
    step ran in goes on). `gives_the_payment_back`: the row runs only while the saga owes a
    payment back, and settles that debt."""

    by: StepDeclaration | tuple[StepDeclaration, ...]
    runs_in: tuple[SagaState, ...]
    outcome: str
    to: SagaState | None
    gives_the_payment_back: bool = False

    @property
    def steps(self) -> tuple[StepDeclaration, ...]:
        return self.by if isinstance(self.by, tuple) else (self.by,)

    @property
    def turns_back(self) -> bool:
        return self.to is S.COMPENSATING


@dataclass(frozen=True)
class Plan:
    """Steps to run for one saga: `chain` one after the other, each failing for good handed to
    the error callback; `beside` alongside the chain, on its own."""

    order_id: str
    chain: tuple[StepDeclaration, ...]
    beside: tuple[StepDeclaration, ...] = ()


Body = Callable[[Any, Any], Outcome]   # (saga, services) -> Outcome; typed in the flow


@dataclass(frozen=True)
class Flow:
    """A saga's table, read: what runs while a saga stands in each state (`runs`, a wait
    included), what runs beside it while the saga owes a payment back (`beside`), the rows that
    say where each outcome takes it, and each step's body."""

    runs: Mapping[SagaState, tuple[StepDeclaration, ...]]
    rows: tuple[Row, ...]
    beside: Mapping[SagaState, StepDeclaration] = field(default_factory=dict)
    bodies: dict[str, Body] = field(default_factory=dict)
    # What is read from the table on every step (its rows, the way forward), read once: a step's
    # record is written many times a second.
    _read: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def body(self, step: StepDeclaration) -> Callable[[Body], Body]:
        """Give the step its body, `body(saga, services) -> Outcome`; the edge makes it the
        Celery task `saga.<name>`."""
        assert step.is_a_task, f"{step.name} declares no retry policy"

        def register(body: Body) -> Body:
            self.bodies[step.name] = body
            return body
        return register

    def rows_of(self, step: StepDeclaration) -> tuple[Row, ...]:
        if step not in self._read:
            self._read[step] = tuple(row for row in self.rows if step in row.steps)
        return self._read[step]  # type: ignore[no-any-return]

    def row(self, step: StepDeclaration, state: SagaState, outcome: str) -> Row | None:
        """The row for the step's outcome in that state; None if the table has none."""
        return next((row for row in self.rows_of(step)
                     if row.outcome == outcome and state in row.runs_in), None)

    def runs_in(self, step: StepDeclaration) -> tuple[SagaState, ...]:
        """The states the step does its work in (a wait: where its result is taken)."""
        return tuple(dict.fromkeys(state for row in self.rows_of(step) for state in row.runs_in))

    def plan(self, order_id: str, state: SagaState, owes_a_payment: bool) -> Plan | None:
        """What runs while a saga stands in this state; None: nothing (a wait, or the end)."""
        chain = tuple(step for step in self.runs.get(state, ()) if step.is_a_task)
        beside = (self.beside[state],) if owes_a_payment and state in self.beside else ()
        return Plan(order_id, chain, beside) if chain or beside else None

    def forward(self) -> list[StepDeclaration]:
        """The way to the end that is not a turn back, in order: each state's steps, then the
        state the first row of its last step that goes forward leads to."""
        if "forward" not in self._read:
            self._read["forward"] = self._way_forward()
        return list(self._read["forward"])

    def _way_forward(self) -> list[StepDeclaration]:
        way: list[StepDeclaration] = []
        state: SagaState | None = S.STARTED
        while state is not None and state in self.runs and state is not S.COMPENSATING:
            steps = self.runs[state]
            way += steps
            state = next((row.to for row in self.rows_of(steps[-1])
                          if row.to not in (None, S.COMPENSATING, state)), None)
        return way

    def compensation(self) -> list[StepDeclaration]:
        return list(self.runs.get(S.COMPENSATING, ()))

    def steps(self) -> list[StepDeclaration]:
        """Every step of the table: the way forward, the way back, then those beside them."""
        on_a_way = [*self.forward(), *self.compensation()]
        rest = dict.fromkeys(step for row in self.rows for step in row.steps
                             if step not in on_a_way)
        return [*on_a_way, *rest]

    def turns_back_as(self, step: StepDeclaration) -> str | None:
        """Why the saga turns back at this step (its outcomes that do), or None."""
        outcomes = [row.outcome for row in self.rows_of(step) if row.turns_back]
        if outcomes:
            return " / ".join(dict.fromkeys(outcomes))
        return GAVE_UP_OUTCOME if step.gives_up_saying else None

    def goes_on_as(self, step: StepDeclaration) -> list[str]:
        """The outcomes with which the step lets the saga go on (not turn back)."""
        return [row.outcome for row in self.rows_of(step) if not row.turns_back]

    def step_failed(self, name: str, outcome: str | None) -> bool:
        """Whether a finished run of the step with this outcome counts as failed there: given
        up on, or, on the way forward, any outcome of a step that can say no but its yes."""
        if outcome == GAVE_UP_OUTCOME:
            return True
        if ("yes", name) not in self._read:
            self._read["yes", name] = self._its_yes(name)
        yes = self._read["yes", name]
        return yes is not None and outcome not in yes

    def _its_yes(self, name: str) -> frozenset[str] | None:
        step = next((step for step in self.forward() if step.name == name), None)
        if step is None or self.turns_back_as(step) in (None, GAVE_UP_OUTCOME):
            return None
        return frozenset(self.goes_on_as(step))

    def waiting_states(self) -> tuple[SagaState, ...]:
        """The live states: a saga in one is at one of the steps that run there."""
        return tuple(state for state, steps in self.runs.items() if steps)

    def where_waiting(self, state: SagaState, released: bool = False) -> str | None:
        """The step a live saga in `state` is at; a compensating saga whose tickets were released
        (`released`) is at the compensation's next step."""
        steps = self.runs.get(state, ())
        if not steps:
            return None
        return steps[1].name if released and state is S.COMPENSATING else steps[0].name
