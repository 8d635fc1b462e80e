"""`celery -A orchestrator saga`, through Celery's own command line, on a real SQLite store.

Nothing reaches a broker: the command is handed parts whose dispatcher notes what the operations
would send.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from celery.bin.celery import celery as celery_command
from click.testing import CliRunner, Result
from sqlalchemy import update

from glastonbury.clock import utc_now as now
from orchestrator.adapters.tables import sagas
from orchestrator.bootstrap import bootstrap
from orchestrator.domain.model import OrderLine, OrderPlaced, SagaState
from orchestrator.domain.saga import StepRun
from orchestrator.adapters import saga_list
from orchestrator.entrypoints import saga_cli
from orchestrator.entrypoints.saga_text import (cut_note, duration, parse_since, saga_document,
                                                timeline)
from tests.unit.orchestrator.fakes import RecordingDispatch
from tests.unit.orchestrator.store import Store

S = SagaState
MOMENT = datetime(2026, 6, 24, 18, 0, tzinfo=UTC)


@dataclass
class World:
    store: Store
    sent: list[str] = field(default_factory=list)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    world = World(Store.at(f"sqlite:///{tmp_path / 'saga.db'}"))
    parts = bootstrap(RecordingDispatch(world.sent), world.store.engine)
    monkeypatch.setattr(saga_cli, "bootstrap", lambda **_: parts)
    yield world
    world.store.dispose()


def saga_in(world: World, order_id: str, state: SagaState, steps: tuple = (), **fields) -> None:
    """A saga in `state` whose steps (name, outcome or None while running, error) ran in order."""
    world.store.add(OrderPlaced(order_id, "customer-1", Decimal("40.00"),
                                (OrderLine("ticket-1", 2),)))
    for name, outcome, error in steps:
        if outcome:
            world.store.record_step(order_id, StepRun(name, outcome, now(), f"task-{name}",
                                                      error=error))
        else:
            with world.store.repository() as repository:
                repository.count_attempt(order_id, name, f"task-{name}")
    world.store.put(order_id, state, **fields)


def backdate(world: World, order_id: str, **moments: datetime) -> None:
    with world.store.transaction() as tx:
        tx.execute(update(sagas).where(sagas.c.order_id == order_id).values(**moments))


def saga(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(celery_command, ["-A", "orchestrator", "saga", *args], input=input)


# -- list ---------------------------------------------------------------------------------------

def test_the_list_shows_each_sagas_state_age_current_step_and_reason(world: World) -> None:
    saga_in(world, "o-done", S.COMPLETED, (("reserve_tickets", "reserved", None),
                                           ("complete_order", "completed", None)))
    saga_in(world, "o-failed", S.REJECTED, (("reserve_tickets", "out_of_stock", None),),
            reason="Tickets not available: 1 short")
    saga_in(world, "o-paying", S.AWAITING_PAYMENT, (("await_payment", None, None),))
    result = saga("list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["ORDER", "ID", "STATE", "AGE", "STEP", "REASON"]
    assert lines[1].split()[:2] == ["o-paying", "AWAITING_PAYMENT"]
    assert "await_payment (running)" in lines[1]
    assert "complete_order (completed)" in result.output
    assert "reserve_tickets (out_of_stock)  Tickets not available: 1 short" in result.output


def test_the_list_filters_by_state_in_any_case_and_by_creation_time(world: World) -> None:
    saga_in(world, "o-old", S.COMPLETED)
    saga_in(world, "o-new", S.COMPLETED)
    saga_in(world, "o-other", S.REJECTED)
    backdate(world, "o-old", created_at=now() - timedelta(days=2))
    result = saga("list", "--state", "completed", "--since", "1d")
    assert result.exit_code == 0, result.output
    assert "o-new" in result.output
    assert "o-old" not in result.output and "o-other" not in result.output


def test_stuck_means_unfinished_and_untouched_past_the_threshold(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGA_STUCK_AFTER", "60")
    long_ago = now() - timedelta(minutes=5)
    for order_id, state in [("o-stuck", S.APPROVED), ("o-busy", S.APPROVED),
                            ("o-done", S.COMPLETED), ("o-wait-due", S.AWAITING_PAYMENT),
                            ("o-wait-later", S.AWAITING_PAYMENT)]:
        saga_in(world, order_id, state, payment_deadline=long_ago)
        backdate(world, order_id, updated_at=long_ago)
    backdate(world, "o-busy", updated_at=now())
    backdate(world, "o-wait-later", payment_deadline=now() + timedelta(minutes=5))
    listed = saga("list", "--state", "stuck").output
    assert "o-stuck" in listed and "o-wait-due" in listed
    assert not {"o-busy", "o-done", "o-wait-later"} & set(listed.split())


def test_parked_lists_the_sagas_the_reconciler_gave_up_on(world: World) -> None:
    saga_in(world, "o-parked", S.COMPENSATING, parked=True)
    saga_in(world, "o-moving", S.COMPENSATING)
    listed = saga("list", "--state", "PARKED").output
    assert "o-parked  COMPENSATING (parked)" in listed and "o-moving" not in listed


@pytest.mark.parametrize("text, expected", [
    ("10m", MOMENT - timedelta(minutes=10)),
    ("2h", MOMENT - timedelta(hours=2)),
    ("1d", MOMENT - timedelta(days=1)),
    ("2026-06-20T08:30:00Z", datetime(2026, 6, 20, 8, 30, tzinfo=UTC)),
    ("2026-06-20T10:30+02:00", datetime(2026, 6, 20, 8, 30, tzinfo=UTC)),
    ("2026-06-20", datetime(2026, 6, 20, tzinfo=UTC)),
])
def test_since_reads_an_age_or_an_iso_8601_time(text: str, expected: datetime) -> None:
    assert parse_since(text, MOMENT) == expected


@pytest.mark.parametrize("since", ["10x", "yesterday", "-1h", "2026-13-01"])
def test_an_unreadable_since_is_a_usage_error(world: World, since: str) -> None:
    result = saga("list", "--since", since)
    assert result.exit_code == 2
    assert "Invalid value for '--since'" in result.output and "10m, 2h, 1d" in result.output


def test_an_unknown_state_is_a_usage_error(world: World) -> None:
    result = saga("list", "--state", "LOST")
    assert result.exit_code == 2 and "AWAITING_PAYMENT" in result.output


def test_limit_cuts_the_list_to_the_newest_and_says_so_on_stderr(world: World) -> None:
    for index in range(5):
        saga_in(world, f"o-{index}", S.COMPLETED)
        backdate(world, f"o-{index}", created_at=now() - timedelta(minutes=10 - index))
    result = saga("list", "--limit", "3")
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in result.stdout.splitlines()[1:]] == ["o-4", "o-3", "o-2"]
    assert result.stderr.strip() == "… 3 of more shown (the newest); --limit to see more"


def test_a_list_that_fits_its_limit_says_nothing_more(world: World) -> None:
    for index in range(3):
        saga_in(world, f"o-{index}", S.COMPLETED)
    result = saga("list", "--limit", "3")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 4 and result.stderr == ""


def test_the_cut_note_writes_the_count_with_thousands_separators() -> None:
    assert cut_note(1000) == "… 1,000 of more shown (the newest); --limit to see more"


def test_the_limit_is_1000_by_default_and_asked_of_the_store_plus_one(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []
    listing = saga_list.list_sagas
    monkeypatch.setattr(saga_list, "list_sagas",
                        lambda *args, **kwargs: asked.append(kwargs["limit"]) or listing(
                            *args, **kwargs))
    for args in (["list"], ["list", "--state", "stuck"], ["list", "--state", "parked"],
                 ["list", "--limit", "7"]):
        assert saga(*args).exit_code == 0
    assert asked == [1001, 1001, 1001, 8]


@pytest.mark.parametrize("limit", ["0", "-5", "many"])
def test_a_limit_below_one_or_not_a_number_is_a_usage_error(world: World, limit: str) -> None:
    result = saga("list", "--limit", limit)
    assert result.exit_code == 2 and "Invalid value for '--limit'" in result.output


def test_list_json_is_one_document_of_the_sagas_and_whether_the_list_was_cut(
        world: World) -> None:
    saga_in(world, "o-old", S.COMPLETED, (("reserve_tickets", "reserved", None),))
    saga_in(world, "o-new", S.REJECTED, (("reserve_tickets", "out_of_stock", None),),
            reason="Not enough tickets left.")
    backdate(world, "o-old", created_at=now() - timedelta(minutes=1))
    result = saga("list", "--json", "--limit", "1")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["truncated"] is True and document["limit"] == 1
    [only] = document["sagas"]
    assert only["orderId"] == "o-new" and only["state"] == "REJECTED"
    assert only["reason"] == "Not enough tickets left." and only["total"] == "40.00"
    assert [step["outcome"] for step in only["steps"]] == ["out_of_stock"]
    assert "--limit to see more" in result.stderr
    whole = json.loads(saga("list", "--json").stdout)
    assert whole["truncated"] is False and whole["limit"] == 1000
    assert [one["orderId"] for one in whole["sagas"]] == ["o-new", "o-old"]


def test_an_empty_list_in_json_is_still_a_document(world: World) -> None:
    result = saga("list", "--json", "--state", "parked")
    assert json.loads(result.stdout) == {"sagas": [], "truncated": False, "limit": 1000}


def test_durations_read_well_at_every_scale() -> None:
    assert [duration(s) for s in (0.12, 4.25, 200, 7500, 3 * 86400 + 4 * 3600)] == [
        "120 ms", "4.2 s", "3m 20s", "2h 05m", "3d 04h"]


# -- show ---------------------------------------------------------------------------------------

def test_show_prints_each_step_with_its_times_attempts_outcome_and_error(world: World) -> None:
    saga_in(world, "o-1", S.RESERVED, (("reserve_tickets", "reserved", None),
                                       ("request_payment", None, None)))
    with world.store.repository() as repository:
        repository.note_step_error("o-1", "request_payment", "ServiceUnavailable: payment down",
                                   "task-again")
    result = saga("show", "o-1")
    assert result.exit_code == 0, result.output
    assert "Order o-1" in result.output and "state     RESERVED" in result.output
    assert "STEP             STARTED (UTC)            DURATION" in result.output
    reserve, request = result.output.splitlines()[-2:]
    assert reserve.startswith("reserve_tickets") and reserve.split()[-2:] == ["1", "reserved"]
    assert request.startswith("request_payment") and " so far " in request
    assert request.split()[-5:] == ["2", "running", "ServiceUnavailable:", "payment", "down"]


def test_show_gives_the_reason_and_the_payment_deadline_of_a_waiting_saga() -> None:
    from orchestrator.domain.saga import Saga, StepRecord

    waiting = Saga("o-1", S.AWAITING_PAYMENT, "c", Decimal("40.00"), (), reason=None,
                   payment_deadline=MOMENT + timedelta(seconds=90), created_at=MOMENT,
                   updated_at=MOMENT,
                   steps=[StepRecord("await_payment", MOMENT, None, 1, None, None, None)])
    text = timeline(waiting, MOMENT + timedelta(seconds=30))
    assert "payment   due by 2026-06-24 18:01:30.000 (in 1m 00s)" in text
    assert "await_payment  2026-06-24 18:00:00.000  30.0 s so far  1         running" in text
    waiting.state, waiting.reason = S.COMPENSATING, "Payment declined: card declined"
    assert "reason    Payment declined: card declined" in timeline(waiting, MOMENT)
    assert "due by" not in timeline(waiting, MOMENT)


def test_show_of_an_unknown_order_fails_with_exit_1(world: World) -> None:
    result = saga("show", "o-missing")
    assert result.exit_code == 1 and result.stderr.strip() == "no saga for order o-missing"


def test_show_json_gives_the_saga_and_its_timeline(world: World) -> None:
    saga_in(world, "o-1", S.RESERVED, (("reserve_tickets", "reserved", None),
                                       ("request_payment", None, None)))
    result = saga("show", "o-1", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["orderId"] == "o-1" and document["state"] == "RESERVED"
    assert document["lines"] == [{"ticketId": "ticket-1", "quantity": 2, "unitPrice": None}]
    reserve, request = document["steps"]
    assert reserve["name"] == "reserve_tickets" and reserve["outcome"] == "reserved"
    assert reserve["seconds"] >= 0 and reserve["endedAt"].endswith("Z")
    assert request["outcome"] is None and request["endedAt"] is None
    assert request["seconds"] is None and request["attempts"] == 1
    assert datetime.fromisoformat(document["createdAt"]) <= now()


def test_the_json_of_a_saga_writes_times_in_iso_8601_utc_and_amounts_as_strings() -> None:
    from orchestrator.domain.saga import Saga, StepRecord

    paid = Saga("o-1", S.COMPLETED, "c-1", Decimal("400.10"),
                (OrderLine("t-1", 2, Decimal("200.05")),), outcome=S.COMPLETED,
                payment_requested=True, created_at=MOMENT,
                updated_at=MOMENT + timedelta(seconds=2),
                steps=[StepRecord("request_payment", MOMENT + timedelta(milliseconds=500),
                                  MOMENT + timedelta(seconds=1, milliseconds=750), 2,
                                  "requested", "timeout, retried", "task-9"),
                       StepRecord("reserve_tickets", MOMENT, MOMENT + timedelta(seconds=0.25),
                                  1, "reserved", None, "task-1")])
    assert saga_document(paid) == {
        "orderId": "o-1", "state": "COMPLETED", "outcome": "COMPLETED", "parked": False,
        "reason": None, "customerId": "c-1", "total": "400.10",
        "lines": [{"ticketId": "t-1", "quantity": 2, "unitPrice": "200.05"}],
        "paymentRequested": True, "paymentDeadline": None, "paymentToVoid": False,
        "drives": 0, "createdAt": "2026-06-24T18:00:00.000000Z",
        "updatedAt": "2026-06-24T18:00:02.000000Z",
        "steps": [
            {"name": "reserve_tickets", "startedAt": "2026-06-24T18:00:00.000000Z",
             "endedAt": "2026-06-24T18:00:00.250000Z", "seconds": 0.25, "attempts": 1,
             "outcome": "reserved", "error": None, "taskId": "task-1"},
            {"name": "request_payment", "startedAt": "2026-06-24T18:00:00.500000Z",
             "endedAt": "2026-06-24T18:00:01.750000Z", "seconds": 1.25, "attempts": 2,
             "outcome": "requested", "error": "timeout, retried", "taskId": "task-9"}]}


# -- retry and compensate one saga ---------------------------------------------------------------

def test_retry_drives_the_saga_again_and_prints_the_outcome(world: World) -> None:
    saga_in(world, "o-1", S.APPROVED, parked=True)
    result = saga("retry", "o-1")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "o-1: APPROVED driven again"
    assert world.sent == ["run finalise_order"] and not world.store.get("o-1").parked


def test_retry_of_a_finished_saga_is_refused_on_stderr_with_exit_1(world: World) -> None:
    saga_in(world, "o-1", S.COMPLETED)
    result = saga("retry", "o-1")
    assert result.exit_code == 1
    assert result.stderr.strip() == "saga o-1 is COMPLETED: there is nothing to retry"
    assert result.stdout == "" and world.sent == []


def test_compensate_turns_a_waiting_saga_back(world: World) -> None:
    saga_in(world, "o-1", S.AWAITING_PAYMENT, payment_requested=True)
    result = saga("compensate", "o-1")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "o-1: compensating, the order will end PAYMENT_FAILED"
    assert world.store.get("o-1").state is S.COMPENSATING
    assert world.sent == ["run release_reservation, fail_order beside void_payment"]
    again = saga("compensate", "o-1")
    assert again.exit_code == 1 and "compensating already" in again.stderr


def test_an_unknown_order_is_refused_with_exit_1(world: World) -> None:
    result = saga("compensate", "o-missing")
    assert result.exit_code == 1 and result.stderr.strip() == "no saga for order o-missing"


@pytest.mark.parametrize("args", [["retry"], ["retry", "o-1", "--state", "stuck"],
                                  ["compensate", "o-1", "--since", "1h"]])
def test_an_action_takes_exactly_one_of_an_order_or_a_selection(world: World, args) -> None:
    saga_in(world, "o-1", S.APPROVED)
    result = saga(*args)
    assert result.exit_code == 2 and "either an ORDER_ID or a selection" in result.output
    assert world.sent == []


# -- retry and compensate a selection ------------------------------------------------------------

def three_sagas(world: World) -> None:
    saga_in(world, "o-a", S.APPROVED)
    saga_in(world, "o-b", S.STARTED)
    saga_in(world, "o-c", S.COMPLETED)


def test_a_selection_is_acted_on_with_one_line_per_saga_and_a_summary(world: World) -> None:
    three_sagas(world)
    result = saga("retry", "--since", "1h", "--yes")
    assert result.exit_code == 1  # one was refused
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines[1:4]] == ["o-c", "o-b", "o-a"]  # the table
    assert lines[4:] == ["refused: saga o-c is COMPLETED: there is nothing to retry",
                         "o-b: STARTED driven again", "o-a: APPROVED driven again",
                         "2 retried, 1 refused"]
    assert world.sent == ["run reserve_tickets", "run finalise_order"]   # each its state's


def test_a_selection_without_refusals_exits_0(world: World) -> None:
    three_sagas(world)
    result = saga("compensate", "--state", "STARTED")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-2:] == [
        "o-b: compensating, the order will end REJECTED", "1 compensated, 0 refused"]


def test_several_sagas_without_a_terminal_or_yes_are_refused(world: World) -> None:
    three_sagas(world)
    result = saga("retry", "--since", "1h")
    assert result.exit_code == 1
    assert "3 sagas match: pass --yes to retry them all" in result.stderr
    assert world.sent == []


def test_several_sagas_are_acted_on_only_once_confirmed(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    three_sagas(world)
    monkeypatch.setattr(saga_cli, "can_ask", lambda: True)
    declined = saga("compensate", "--since", "1h", input="n\n")
    assert declined.exit_code == 1 and "Compensate these 3 sagas?" in declined.output
    assert world.sent == [] and world.store.get("o-a").state is S.APPROVED
    accepted = saga("compensate", "--since", "1h", input="y\n")
    assert accepted.output.splitlines()[-1] == "1 compensated, 2 refused"
    assert "refused: saga o-a has an approved payment" in accepted.output
    assert world.store.get("o-b").state is S.COMPENSATING


def test_a_selection_cut_at_its_limit_acts_on_the_newest_and_says_the_rest_wait(
        world: World) -> None:
    three_sagas(world)
    result = saga("retry", "--since", "1h", "--limit", "2", "--yes")
    assert [line.split()[0] for line in result.stdout.splitlines()[1:3]] == ["o-c", "o-b"]
    assert result.stdout.splitlines()[-1] == "1 retried, 1 refused"
    assert "… 2 of more shown (the newest); --limit to see more" in result.stderr
    assert world.sent == ["run reserve_tickets"] and world.store.get("o-a").state is S.APPROVED


def test_an_empty_selection_does_nothing(world: World) -> None:
    result = saga("retry", "--state", "parked")
    assert result.exit_code == 0 and result.output.strip() == "no saga matches"


def test_an_age_beyond_any_date_means_since_the_beginning_and_is_no_traceback() -> None:
    assert parse_since("99999999999d", now()) == datetime.min.replace(tzinfo=UTC)
