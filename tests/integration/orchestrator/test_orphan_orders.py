"""The reconciler finds orders whose saga never started by paging the real order service."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from order_service.adapters.rate_limits import CountedLimits
from order_service.entrypoints.flask_app import create_app
from orchestrator.adapters.services import OrderClient
from orchestrator.service_layer import reconciler
from tests.conftest import TEST_CREDENTIALS
from tests.unit.order_service.fakes import FakeCatalogue, FakeSagaStarter
from tests.unit.order_service.test_order_validation import BRIEF_BODY
from tests.unit.orchestrator.fakes import RecordingDispatch

# The order service of these tests takes the orchestrator's token of this process's environment
# (tests/conftest.py), as the orchestrator's client sends it.
TOKENS = {"orchestrator": TEST_CREDENTIALS["ORCHESTRATOR_TOKEN"],
          "admin": TEST_CREDENTIALS["ADMIN_TOKEN"]}


@pytest.fixture
def order_service(database_url: str) -> Iterator[tuple[str, FlaskClient]]:
    """The order service over HTTP on a free port, and a test client of the same app."""
    app = create_app(database_url, FakeSagaStarter(), FakeCatalogue(), TOKENS,
                     CountedLimits("memory://", {}))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app.test_client()
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["order_service"].engine.dispose()


def test_orphans_behind_two_pages_of_orders_of_one_microsecond_are_each_started_once(
        order_service: tuple[str, FlaskClient], monkeypatch: pytest.MonkeyPatch) -> None:
    url, client = order_service
    moment = datetime.now(UTC) - timedelta(minutes=5)
    monkeypatch.setattr("order_service.service_layer.services.utc_now", lambda: moment)
    placed = []
    for _ in range(250):
        response = client.post("/orders", json=BRIEF_BODY)
        assert response.status_code == 202, response.data
        placed.append(response.get_json()["id"])
    in_order = sorted(placed, key=lambda order_id: bytes.fromhex(order_id.replace("-", "")))
    with_sagas = set(in_order[:200])   # waiting for their payments, say: 2 pages of them

    # The saga store knows the first 200 (waiting for their payments, say).
    monkeypatch.setattr(reconciler.queries, "known", lambda engine, ids: {
        order_id for order_id in ids if order_id in with_sagas})
    dispatch = RecordingDispatch()
    parts = SimpleNamespace(orders=OrderClient(url), engine=None, dispatch=dispatch)
    assert reconciler.start_orphan_orders(parts, timedelta(seconds=15)) == 50
    assert dispatch.sent == [f"start {order_id}" for order_id in in_order[200:]]
