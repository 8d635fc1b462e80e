"""glastonbury.tracing: off, nothing at all; on, one trace across HTTP, Celery and Kafka.

Spans are read from the SDK's in-memory exporter (the `spans` fixture); the HTTP calls go to a
real server in a thread, the Celery tasks through a real worker on the in-memory transport, the
Kafka messages to a recording producer.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from celery import Celery, chain
from celery.contrib.testing.worker import start_worker
from flask import Flask, jsonify
from kafka.future import Future
from werkzeug.serving import make_server

from glastonbury import tracing
from glastonbury.kafka import is_signed
from glastonbury.web import install_order_trail
from orchestrator.adapters.services import HttpService
from orchestrator.domain.exceptions import ServiceUnavailable
from payment_service.adapters.kafka_publisher import KafkaPublisher
from tests.conftest import Spans
from tests.e2e.stack import wait_for

ROOT = Path(__file__).resolve().parents[2]
KEY = "test-signing-key"


def parent_of(span: Any) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def traceparent_of(span: Any) -> str:
    context = span.context
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


# -- Off: nothing imported, nothing built ---------------------------------------------------------

# Every import our packages make of OpenTelemetry, noted as it is asked for (a library may
# import parts of it on its own when installed: redis-py does, for its metrics).
OFF_PROBE = """
import builtins, sys
OURS = {"glastonbury", "orchestrator", "order_service", "inventory_service", "payment_service"}
asked = []
plain_import = builtins.__import__

def noting_import(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {}).get("__name__", "")
    if name.startswith("opentelemetry") and importer.split(".")[0] in OURS:
        asked.append(f"{importer}: {name}")
    return plain_import(name, globals, locals, fromlist, level)

builtins.__import__ = noting_import
from glastonbury import tracing
from order_service.entrypoints.flask_app import create_app as order_app
from inventory_service.entrypoints.flask_app import create_app as inventory_app
from payment_service.entrypoints.flask_app import create_app as payment_app
from payment_service.adapters.kafka_publisher import KafkaPublisher
from orchestrator.adapters.services import HttpService
from orchestrator.domain.exceptions import ServiceUnavailable
import orchestrator.entrypoints.saga_tasks, orchestrator.entrypoints.payment_results_bridge
import payment_service.entrypoints.relay

for name in ("order", "inventory", "payment", "payment-relay", "worker", "bridge"):
    assert tracing.configure(name) is False
for name, make in (("order", order_app), ("inventory", inventory_app), ("payment", payment_app)):
    app = make(f"sqlite:///{sys.argv[1]}/{name}.db")
    assert app.test_client().get("/healthz").status_code == 200
try:
    HttpService("http://127.0.0.1:9", credential={}).call("GET", "/payments", (200,))
except ServiceUnavailable:
    pass

class Producer:
    def send(self, topic, key, value, headers):
        assert headers is None, headers     # no header built: none signed, none traced
        return None

KafkaPublisher(Producer()).send("payment.results", "o1", "{}")
assert tracing.traceparent() is None and tracing.within(None, len, "ab") == 2
print(asked)
"""


def test_without_an_endpoint_nothing_is_traced_and_our_code_never_imports_opentelemetry(
        tmp_path: Path) -> None:
    environ = {name: value for name, value in os.environ.items()
               if not name.startswith("OTEL_")}
    environ["ORDER_MESSAGES_SIGNING_KEY"] = "a key of the test's"
    shown = subprocess.run([sys.executable, "-c", OFF_PROBE, str(tmp_path)], cwd=ROOT,
                           env=environ, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "[]"


def test_an_endpoint_without_the_extra_says_why_and_traces_nothing(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    # As if the extra were not installed: importing the exporter fails.
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter",
                        None)
    with caplog.at_level(logging.WARNING, logger="glastonbury.tracing"):
        assert tracing.configure("worker") is False
    assert not tracing.enabled
    assert "pip install 'glastonbury[tracing]'" in caplog.text
    assert tracing.traceparent() is None


# -- HTTP -----------------------------------------------------------------------------------------

def traced_app() -> Flask:
    """A service's app with the order trail, and so its request spans (built while tracing is
    on, as each service's `serve()` builds it after `configure`)."""
    app = Flask(__name__)
    install_order_trail(app)

    @app.put("/reservations/<order_id>")
    def reserve(order_id: str) -> Any:
        return jsonify({"orderId": order_id, "status": "HELD"}), 201

    @app.get("/broken")
    def broken() -> Any:
        return jsonify({"error": "unavailable"}), 503

    return app


@pytest.fixture
def service(spans: Spans) -> Iterator[str]:
    """The traced app on a real HTTP server in a thread: its base URL."""
    server = make_server("127.0.0.1", 0, traced_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def test_a_service_call_goes_on_in_the_service_within_the_callers_trace(
        spans: Spans, service: str) -> None:
    order_id = str(uuid.uuid4())
    with spans.tracer.start_as_current_span("saga.start") as step:
        answer = HttpService(service, credential={}).call(
            "PUT", f"/reservations/{order_id}", (201,), {"items": []})
    assert answer.status == 201
    client = spans.named("PUT /reservations/{id}")
    server = spans.named("PUT /reservations/<order_id>")
    assert (client.kind.name, server.kind.name) == ("CLIENT", "SERVER")
    assert client.context.trace_id == server.context.trace_id == step.context.trace_id
    assert parent_of(client) == step.context.span_id
    assert parent_of(server) == client.context.span_id
    assert client.attributes["http.response.status_code"] == 201
    assert server.attributes["http.response.status_code"] == 201
    assert server.attributes["order.id"] == order_id   # the trail's order names the span


def test_a_failed_service_call_is_an_error_in_its_trace(spans: Spans, service: str) -> None:
    with spans.tracer.start_as_current_span("saga.request_payment"):
        with pytest.raises(ServiceUnavailable):
            HttpService(service, credential={}).call("GET", "/broken", (200,))
        with pytest.raises(ServiceUnavailable):
            HttpService("http://127.0.0.1:9", credential={}).call("GET", "/payments", (200,))
    answered, refused = (span for span in spans.finished() if span.kind.name == "CLIENT")
    [server] = [span for span in spans.finished() if span.kind.name == "SERVER"]
    assert answered.status.status_code.name == server.status.status_code.name == "ERROR"
    assert server.attributes["http.response.status_code"] == 503
    assert refused.status.status_code.name == "ERROR"
    assert [event.name for event in refused.events] == ["exception"]


def test_a_request_without_a_trace_or_with_a_malformed_one_begins_a_trace(spans: Spans) -> None:
    client = traced_app().test_client()
    client.put(f"/reservations/{uuid.uuid4()}", json={})
    client.put(f"/reservations/{uuid.uuid4()}", json={}, headers={"traceparent": "00-zz-1-01"})
    first, second = spans.finished()
    assert first.parent is None and second.parent is None
    assert first.context.trace_id != second.context.trace_id


def test_the_public_order_service_begins_each_orders_trace_and_links_the_callers_own(
        spans: Spans, tmp_path: Path) -> None:
    from order_service.adapters.rate_limits import CountedLimits
    from order_service.entrypoints.flask_app import create_app
    from tests.conftest import SERVICE_TOKENS, TRUSTED
    from tests.unit.order_service.fakes import FakeCatalogue, FakeSagaStarter

    app = create_app(f"sqlite:///{tmp_path}/order.db", FakeSagaStarter(), FakeCatalogue(),
                     SERVICE_TOKENS, CountedLimits("memory://", {}))
    with spans.tracer.start_as_current_span("someone's request") as caller:
        headers = {"traceparent": traceparent_of(caller)}
    body = {"customerId": str(uuid.uuid4()), "amount": 10,
            "items": [{"id": str(uuid.uuid4()), "name": "day-one", "amount": 200, "quantity": 1}]}
    answer = app.test_client().post("/orders", json=body, headers=headers)
    assert answer.status_code == 202, answer.data
    placed = spans.named("POST /orders")
    assert placed.parent is None and placed.context.trace_id != caller.context.trace_id
    assert [link.context.span_id for link in placed.links] == [caller.context.span_id]
    assert placed.attributes["order.id"] == answer.json["id"]
    # The orchestrator's call about the order goes on in the saga's trace, as it did.
    with spans.tracer.start_as_current_span("saga.finalise_order") as step:
        headers = {"traceparent": traceparent_of(step), **TRUSTED}
    recorded = app.test_client().post(f"/orders/{answer.json['id']}/outcome",
                                      json={"status": "COMPLETED"}, headers=headers)
    assert recorded.status_code == 200, recorded.data
    outcome = spans.named("POST /orders/<order_id>/outcome")
    assert parent_of(outcome) == step.context.span_id and not outcome.links
    app.extensions["order_service"].engine.dispose()


# -- Celery ---------------------------------------------------------------------------------------

def test_a_task_and_the_next_step_of_its_chain_go_on_in_the_senders_trace(spans: Spans) -> None:
    app = Celery("tracing-test", broker="memory://", set_as_current=False)
    app.conf.update(task_ignore_result=True,
                    broker_transport_options={"polling_interval": 0.01})
    message = {"version": 1, "orderId": str(uuid.uuid4())}

    # Named apart from the orchestrator's own steps, which share Celery's task registry.
    @app.task(name="tracing-test.reserve_tickets")
    def reserve(order: dict) -> None:
        pass

    @app.task(name="tracing-test.request_payment")
    def pay(order: dict) -> None:
        raise RuntimeError("the payment service is down")

    with start_worker(app, pool="solo", perform_ping_check=False):
        with spans.tracer.start_as_current_span("POST /orders") as request:
            chain(reserve.si(message), pay.si(message)).apply_async()
        wait_for(lambda: len(spans.finished()) == 3, 20, "both steps' spans")
    reserved = spans.named("tracing-test.reserve_tickets")
    paid = spans.named("tracing-test.request_payment")
    assert {reserved.context.trace_id, paid.context.trace_id} == {request.context.trace_id}
    assert parent_of(reserved) == request.context.span_id
    assert parent_of(paid) == reserved.context.span_id     # sent from the worker, in the step
    assert reserved.kind.name == "CONSUMER"
    assert reserved.attributes["celery.state"] == "SUCCESS"
    assert paid.attributes["celery.state"] == "FAILURE"
    assert paid.status.status_code.name == "ERROR"


# -- Kafka ----------------------------------------------------------------------------------------

class RecordingProducer:
    """A KafkaProducer's `send`, kept: each message and the future the broker would settle."""

    def __init__(self) -> None:
        self.sent: list[SimpleNamespace] = []

    def send(self, topic: str, key: bytes, value: bytes, headers: Any) -> Future:
        self.sent.append(SimpleNamespace(topic=topic, key=key, value=value, headers=headers,
                                         offset=len(self.sent), future=Future()))
        return self.sent[-1].future


def test_a_payment_result_is_published_and_processed_in_its_payments_trace(spans: Spans) -> None:
    producer, order_id = RecordingProducer(), str(uuid.uuid4())
    with spans.tracer.start_as_current_span("POST /payments") as requested:
        stored = tracing.traceparent()   # what the payment service keeps with the payment
    # The relay, later: the outbox row's trace current while the message is handed over.
    tracing.within(stored, KafkaPublisher(producer, signing_key=KEY).send, "payment.results",
                   order_id, '{"status": "APPROVED"}')
    [message] = producer.sent
    assert not [span.name for span in spans.finished() if span.name.startswith("publish")]
    message.future.success(None)   # the broker acknowledged it: the span ends
    published = spans.named("publish payment.results")
    assert published.kind.name == "PRODUCER"
    assert parent_of(published) == requested.context.span_id
    assert published.context.trace_id == requested.context.trace_id
    assert dict(message.headers)["traceparent"] == traceparent_of(published).encode()
    assert is_signed(KEY, message.value, message.headers)   # the signature is the value's only

    with tracing.consuming("payment.results", [message]) as traces:
        next_step_sent_in = tracing.within(traces[0], tracing.traceparent)
    processed = spans.named("process payment.results")
    assert processed.kind.name == "CONSUMER"
    assert parent_of(processed) == published.context.span_id
    assert processed.context.trace_id == requested.context.trace_id
    assert next_step_sent_in == traceparent_of(processed)


def test_a_message_without_a_trace_or_refused_by_the_broker_still_has_its_span(
        spans: Spans) -> None:
    producer = RecordingProducer()
    KafkaPublisher(producer, signing_key=KEY).send("payment.results", "o1", "{}")
    producer.sent[0].future.failure(RuntimeError("broker gone"))
    assert spans.named("publish payment.results").status.status_code.name == "ERROR"
    untraced = SimpleNamespace(key=b"o2", value=b"{}", headers=[], offset=3)
    with tracing.consuming("payment.results", [untraced]):
        pass
    assert spans.named("process payment.results").parent is None
