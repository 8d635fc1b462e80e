"""A payment's result that reaches the bridge while request_payment is still storing its move.

The payment service answers the request, its relay publishes the result at once, and the bridge
may read the saga (RESERVED) before the worker commits RESERVED -> AWAITING_PAYMENT. On
PostgreSQL the bridge's compare-and-set then waits for the worker's row lock and finds the saga
moved: the result must still be taken, from the state stored now, not dropped until the
payment's deadline. (On SQLite every writer takes the write lock before it reads: the bridge
reads after the worker's commit, and the race cannot happen.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import text

from glastonbury.clock import utc_now as now
from orchestrator.adapters.repository import connect
from orchestrator.bootstrap import bootstrap
from orchestrator.domain.flow import SAGA
from orchestrator.domain.model import PaymentDecided, SagaState
from orchestrator.domain.steps import REQUEST_PAYMENT, Outcome
from orchestrator.service_layer import runner as flow
from orchestrator.service_layer.parts import Parts
from orchestrator.service_layer.runner import Attempt
from orchestrator.service_layer.unit_of_work import SqlAlchemyUnitOfWork
from tests.e2e.stack import wait_for
from tests.unit.orchestrator.fakes import (FakeInventory, FakeOrders, FakePayments,
                                           RecordingDispatch)

TICKET = "ticket-1"


@pytest.fixture
def parts(postgresql_url: str) -> Iterator[Parts]:
    engine = connect(postgresql_url)
    yield bootstrap(RecordingDispatch(), engine, inventory=FakeInventory({TICKET: 5}),
                    payments=FakePayments(), orders=FakeOrders())
    engine.dispose()


def waiting_for_a_lock(parts: Parts) -> bool:
    with parts.engine.connect() as connection:
        return bool(connection.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'")).scalar_one())


def test_a_result_stored_while_the_request_commits_its_move_moves_the_saga_on(
        parts: Parts) -> None:
    flow.start(parts, {"version": 1, "orderId": "o1", "customerId": "c", "total": "200.00",
                       "items": [{"ticketId": TICKET, "quantity": 1, "amount": "200.00"}]},
               Attempt("t1"))
    with SqlAlchemyUnitOfWork(parts.engine) as requesting:   # request_payment storing its move
        saga = requesting.sagas.get("o1")
        assert saga is not None and saga.state is SagaState.RESERVED
        row = SAGA.row(REQUEST_PAYMENT, saga.state, "requested")
        assert row is not None
        saga.take(row, Outcome("requested"), now())
        assert requesting.sagas.save(saga)   # the row is locked until the commit
        bridge = threading.Thread(target=flow.record_payment_results, args=(
            parts, [PaymentDecided("e1", "o1", True, None, amount=Decimal("200.00"))]))
        bridge.start()
        wait_for(lambda: waiting_for_a_lock(parts), 10, "the bridge waiting for the row")
        requesting.commit()
    bridge.join(timeout=10)
    stored = flow.read(parts, "o1")
    assert stored is not None and stored.state is SagaState.APPROVED
    assert parts.dispatch.sent[-1] == "run finalise_order"  # type: ignore[attr-defined]
