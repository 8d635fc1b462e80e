"""One order's saga, an aggregate: its fields change only through its methods, which keep its
rules, and it says what changed (a `Move`) for the repository to write as a compare-and-set from
the state it was read in.

Its rules: it takes a row of the flow's table only in a state the row runs in; a turn back
(before the payment is decided) sets how the order ends, the customer's reason and whether a
payment must be given back; after approval it only goes forward; a finished saga does not move.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from orchestrator.domain.model import (GAVE_UP, PAYMENT_MAY_EXIST, TERMINAL, OrderLine,
                                       OrderPlaced, SagaState, customer_reason)
from orchestrator.domain.steps import AWAIT_PAYMENT, Outcome, Row

S = SagaState
BEFORE_PAYMENT_DECIDED = (S.STARTED, *PAYMENT_MAY_EXIST)
WAIT_GAVE_UP = "gave up"   # how the wait for the payment ends when the saga turns back meanwhile


class MoveRefused(ValueError):
    """The saga's state does not allow the move: a bug in the caller, which must ask first."""


@dataclass(frozen=True)
class StepRun:
    """One finished run of a step, as its record is written."""

    name: str
    outcome: str
    started_at: datetime
    task_id: str | None = None
    counted: bool = False   # its attempt was counted already (a redelivered message)
    error: str | None = None


@dataclass(frozen=True)
class StepRecord:
    """When a step ran, how often, and how it ended (the saga's timeline)."""

    name: str
    started_at: datetime
    ended_at: datetime | None
    attempts: int
    outcome: str | None
    error: str | None
    task_id: str | None


@dataclass(frozen=True)
class Move:
    """What changed since the saga was read: its state `was` and is now `to` (the same: no
    move), its other fields' new values, and whether the wait for the payment began or ended
    (its outcome)."""

    was: SagaState
    to: SagaState
    changes: dict[str, Any]
    wait_begins: bool = False
    wait_ended_as: str | None = None

    @property
    def moves(self) -> bool:
        return self.to is not self.was


@dataclass
class Saga:
    """One order's saga as stored by the orchestrator."""

    order_id: str
    state: SagaState
    customer_id: str
    total: Decimal
    lines: tuple[OrderLine, ...]
    outcome: SagaState | None = None      # the terminal state compensation ends in
    reason: str | None = None
    payment_requested: bool = False
    payment_deadline: datetime | None = None
    payment_to_void: bool = False
    drives: int = 0
    parked: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    steps: list[StepRecord] = field(default_factory=list)   # its timeline, when read with it
    _was: SagaState = field(init=False, repr=False, compare=False)
    _changes: dict[str, Any] = field(init=False, repr=False, compare=False)
    _wait: tuple[bool, str | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._was, self._changes, self._wait = self.state, {}, (False, None)

    @classmethod
    def begin(cls, order: OrderPlaced, at: datetime) -> Saga:
        """A new order's saga, in STARTED."""
        return cls(order.order_id, S.STARTED, order.customer_id, order.total, order.lines,
                   created_at=at, updated_at=at)

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL

    @property
    def ends_as(self) -> SagaState:
        """How the order ends once compensated."""
        return self.outcome or S.PAYMENT_FAILED

    @property
    def move(self) -> Move:
        changes = {name: value for name, value in self._changes.items() if name != "state"}
        return Move(self._was, self.state, changes, *self._wait)

    # -- the table's moves ----------------------------------------------------------------------

    def may_take(self, row: Row) -> bool:
        """Whether the row applies to the saga as it stands."""
        return self.state in row.runs_in and (self.payment_to_void or
                                              not row.gives_the_payment_back)

    def take(self, row: Row, outcome: Outcome, payment_deadline: datetime) -> None:
        """Go where the row says for this outcome. A payment asked for is waited for until
        `payment_deadline`; a result of the wait ends it."""
        if not self.may_take(row):
            raise MoveRefused(f"{row.steps[0].name} {row.outcome!r} does not apply in "
                              f"{self.state}")
        if row.gives_the_payment_back:
            self._change(payment_to_void=False)
        if AWAIT_PAYMENT in row.steps:
            self._wait = (False, row.outcome)
        if row.to is S.AWAITING_PAYMENT:
            self._change(state=row.to, payment_requested=True, payment_deadline=payment_deadline)
            self._wait = (True, None)
        elif row.turns_back:
            # A payment declined or cancelled (the wait's result) leaves nothing to give back.
            self._turn_back(outcome.reason or outcome.recorded,
                            settled=AWAIT_PAYMENT in row.steps)
        elif row.to is not None:
            self._change(state=row.to)

    # -- moves from outside the table: a step given up on, an operator, a late result -----------

    def turn_back(self, reason: str) -> bool:
        """Compensate: only before the payment is decided (False otherwise, nothing changes)."""
        if self.state not in BEFORE_PAYMENT_DECIDED:
            return False
        if self.state is S.AWAITING_PAYMENT:
            self._wait = (False, WAIT_GAVE_UP)
        self._turn_back(reason, settled=False)
        return True

    def approved_after_giving_up(self) -> bool:
        """A payment approved after the saga turned back: the money must go back (False when
        the saga had not given up)."""
        if self.state not in GAVE_UP:
            return False
        self._change(payment_to_void=True)
        return True

    def _turn_back(self, reason: str, settled: bool) -> None:
        # Once a payment may have been asked for (a request whose answer was lost included),
        # the order ends PAYMENT_FAILED and the payment is cancelled or refunded, unless the
        # payment service settled it already; before, the order ends REJECTED.
        asked = self.payment_requested or self.state in PAYMENT_MAY_EXIST
        self._change(state=S.COMPENSATING, outcome=S.PAYMENT_FAILED if asked else S.REJECTED,
                     reason=customer_reason(reason), payment_to_void=asked and not settled)

    # -- the reconciler's and the operators' bookkeeping -----------------------------------------

    def driven_again(self) -> None:
        self._change(drives=self.drives + 1)

    def park(self) -> None:
        """Left for a person: the reconciler drives it no more."""
        self._change(parked=True)

    def unpark(self) -> None:
        """A person takes it up again: driven anew, counted from zero."""
        self._change(parked=False, drives=0)

    def check_payment_by(self, moment: datetime) -> None:
        """The wait's result is being asked for: its next check is due at `moment`, not now."""
        self._change(payment_deadline=moment)

    def _change(self, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(self, name, value)
        self._changes.update(fields)
