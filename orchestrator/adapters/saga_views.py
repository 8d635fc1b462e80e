"""Read-only queries over the saga store for the dashboard: step figures and saga lists.

Everything here reads the orchestrator's own tables (never Flower's memory), so the figures and
the history survive a restart of any process. Counts are done by the database; medians and
percentiles in Python over the most recent finished runs of each step, because SQLite has no
percentile function.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.engine import Engine

from glastonbury.db import reading
from orchestrator.adapters.reconciler_queries import stuck
from orchestrator.adapters.step_totals import read_step_totals
from orchestrator.adapters.tables import PARKED, UNFINISHED, aware, saga_steps, sagas
from orchestrator.domain.flow import SAGA
from orchestrator.domain.model import SagaState
from orchestrator.domain.steps import GAVE_UP_OUTCOME

NEEDS_A_PERSON = ("stuck", "retrying", "failed")
DURATION_SAMPLE = 5000
# A saga needs a person when one of its steps is being retried, or was given up on, or it is
# parked: what the counts and the list's flags both ask of a step's record.
STEP_RETRYING = and_(UNFINISHED, saga_steps.c.attempts > 1)
STEP_GIVEN_UP = saga_steps.c.outcome == GAVE_UP_OUTCOME


@dataclass(frozen=True)
class StepFigures:
    """What the diagram shows for one step: sagas in it now, how runs ended, how long they took."""

    step: str
    now: int = 0
    passed: int = 0
    failed: int = 0
    median_s: float | None = None
    p95_s: float | None = None


@dataclass(frozen=True)
class SagaLine:
    """One saga in the dashboard's list, with the reasons it needs a person (of NEEDS_A_PERSON,
    in that order; none if it does not)."""

    order_id: str
    state: str
    reason: str | None
    created_at: datetime
    updated_at: datetime
    needs: tuple[str, ...] = ()

    @property
    def needs_a_person(self) -> bool:
        return bool(self.needs)


def median_and_p95(durations: list[float]) -> tuple[float | None, float | None]:
    """The median and the 95th percentile (linear between the closest ranks); None if empty."""
    if not durations:
        return None, None
    if len(durations) == 1:
        return durations[0], durations[0]
    percentiles = statistics.quantiles(durations, n=100, method="inclusive")
    return statistics.median(durations), percentiles[94]


def step_figures(engine: Engine, steps: list[str],
                 sample: int = DURATION_SAMPLE) -> dict[str, StepFigures]:
    """Figures of each named step; durations over its `sample` most recent finished runs."""
    in_now = _sagas_in_each_step(engine)
    ended = ended_runs(engine)
    figures = {}
    for step in steps:
        passed, failed = ended.get(step, (0, 0))
        median, p95 = median_and_p95(step_durations(engine, step, sample))
        figures[step] = StepFigures(step, in_now.get(step, 0), passed, failed, median, p95)
    return figures


def step_durations(engine: Engine, step: str, sample: int = DURATION_SAMPLE) -> list[float]:
    """Seconds from start to end of the step's most recent finished runs."""
    query = (select(saga_steps.c.started_at, saga_steps.c.ended_at)
             .where(saga_steps.c.name == step, saga_steps.c.ended_at.is_not(None))
             .order_by(saga_steps.c.ended_at.desc()).limit(sample))
    with reading(engine) as connection:
        runs = connection.execute(query).all()
    return [(aware(run.ended_at) - aware(run.started_at)).total_seconds()  # type: ignore[operator]
            for run in runs]


def counts_by_state(engine: Engine) -> dict[str, int]:
    """How many sagas are in each state (every state present, zero when none)."""
    with reading(engine) as connection:
        rows = connection.execute(select(sagas.c.state, func.count()).group_by(sagas.c.state))
        counts: dict[str, int] = {row[0]: row[1] for row in rows}
    return {state.value: counts.get(state.value, 0) for state in SagaState}


def find_sagas(engine: Engine, stuck_after: timedelta, state: str | None = None,
               needs: str | None = None, limit: int = 100) -> list[SagaLine]:
    """Sagas most recently touched first, filtered by state and by a reason to need a person.

    `needs` is one of NEEDS_A_PERSON, or "any" for all three.
    """
    flags = _flags(stuck_after)
    query = (select(sagas.c.order_id, sagas.c.state, sagas.c.reason, sagas.c.created_at,
                    sagas.c.updated_at, *(flag.label(name) for name, flag in flags.items()))
             .order_by(sagas.c.updated_at.desc()).limit(limit))
    if state:
        query = query.where(sagas.c.state == state)
    if needs == "any":
        query = query.where(or_(*flags.values()))
    elif needs:
        query = query.where(flags[needs])
    with reading(engine) as connection:
        return [SagaLine(row.order_id, row.state, row.reason, aware(row.created_at),  # type: ignore[arg-type]
                         aware(row.updated_at),  # type: ignore[arg-type]
                         tuple(name for name in NEEDS_A_PERSON if row._mapping[name]))
                for row in connection.execute(query)]


def needs_a_person_counts(engine: Engine, stuck_after: timedelta) -> dict[str, int]:
    """How many sagas are stuck, retrying, failed (a saga may be in more than one). Each count
    starts from the few rows it is about (live sagas, unfinished steps, steps given up on,
    parked sagas), never from the whole history."""
    retrying = select(saga_steps.c.order_id).where(STEP_RETRYING).distinct()
    failed = (select(saga_steps.c.order_id).where(STEP_GIVEN_UP)
              .union(select(sagas.c.order_id).where(PARKED)))
    queries = {"stuck": select(func.count()).select_from(sagas).where(stuck(stuck_after)),
               "retrying": select(func.count()).select_from(retrying.subquery()),
               "failed": select(func.count()).select_from(failed.subquery())}
    with reading(engine) as connection:
        return {name: int(connection.execute(query).scalar_one())
                for name, query in queries.items()}


def _flags(stuck_after: timedelta) -> dict[str, ColumnElement[bool]]:
    """The conditions, on a row of `sagas`, that a saga needs a person."""
    of_this_saga = saga_steps.c.order_id == sagas.c.order_id
    retrying = exists().where(of_this_saga, STEP_RETRYING)
    failed = or_(PARKED, exists().where(of_this_saga, STEP_GIVEN_UP))
    return {"stuck": stuck(stuck_after), "retrying": retrying, "failed": failed}


def _sagas_in_each_step(engine: Engine) -> dict[str, int]:
    """Live sagas by the step their state puts them in (a step's record exists only once it
    ended or failed an attempt, so the state says where a saga is)."""
    released = exists().where(saga_steps.c.order_id == sagas.c.order_id,
                              saga_steps.c.name == SAGA.compensation()[0].name,
                              saga_steps.c.ended_at.is_not(None))
    query = (select(sagas.c.state, released.label("released"), func.count())
             .where(sagas.c.state.in_([state.value for state in SAGA.waiting_states()]))
             .group_by(sagas.c.state, "released"))
    in_step: dict[str, int] = {}
    with reading(engine) as connection:
        for row in connection.execute(query):
            state, was_released, count = str(row[0]), bool(row[1]), int(row[2])
            step = SAGA.where_waiting(SagaState(state), was_released)
            if step is not None:
                in_step[step] = in_step.get(step, 0) + count
    return in_step


def ended_runs(engine: Engine) -> dict[str, tuple[int, int]]:
    """Each step's finished runs so far, as (passed, failed) by `Flow.step_failed` (from the step's
    running totals: a run given up on and driven again later counts once failed, once passed)."""
    with reading(engine) as connection:
        return {name: (total.passed, total.failed)
                for name, total in read_step_totals(connection).items()}
