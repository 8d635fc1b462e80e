"""One trace per order through every process: the stack sends its spans over OTLP/HTTP to a
small collector in the test (it reads them with opentelemetry-proto, as a real one does), and
the order's spans, from the order service to the bridge and back, form one tree."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.e2e.conftest import Client
from tests.e2e.stack import Stack, wait_for

pytestmark = pytest.mark.e2e

KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
PROCESSES = {"order", "inventory", "payment", "payment-relay", "worker", "bridge"}


@dataclass(frozen=True)
class Span:
    service: str
    namespace: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_id: str | None
    attributes: dict[str, Any]
    error: bool


def value(any_value: Any) -> Any:
    return getattr(any_value, any_value.WhichOneof("value") or "string_value")


class Collector(ThreadingHTTPServer):
    """An OTLP/HTTP trace receiver (`POST /v1/traces`, protobuf) keeping every span."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receiver)
        self.spans: list[Span] = []
        self.lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def received(self) -> list[Span]:
        with self.lock:
            return list(self.spans)


class _Receiver(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        assert self.path == "/v1/traces", self.path
        spans = []
        for batch in ExportTraceServiceRequest.FromString(body).resource_spans:
            resource = {item.key: value(item.value) for item in batch.resource.attributes}
            for scope in batch.scope_spans:
                spans.extend(Span(
                    resource["service.name"], resource.get("service.namespace", ""), span.name,
                    KINDS[span.kind], span.trace_id.hex(), span.span_id.hex(),
                    span.parent_span_id.hex() or None,
                    {item.key: value(item.value) for item in span.attributes},
                    span.status.code == 2) for span in scope.spans)
        with self.server.lock:
            self.server.spans.extend(spans)
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Collector, dict[str, str]]]:
    """A stack tracing to the collector; a completed and a declined order. The collector, and
    the orders by how they ended."""
    collector = Collector()
    listening = threading.Thread(target=collector.serve_forever, daemon=True)
    listening.start()
    stack = Stack(Path(tmp_path_factory.mktemp("traced")),
                  OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint,
                  OTEL_BSP_SCHEDULE_DELAY="100")   # ms: spans leave each process at once
    stack.start()
    try:
        stack.wait_until_ready()
        ended = Client(stack).a_paid_and_a_declined_order()
        yield collector, ended
    finally:
        stack.stop()
        collector.shutdown()
        listening.join(timeout=10)


def trace_of(collector: Collector, order_id: str, last: set[str]) -> list[Span]:
    """The spans of the order's trace (begun by its `POST /orders`), once every span named in
    `last` and the parent of every span have arrived (each process sends its spans on its own
    schedule: a child may arrive before its parent)."""
    def arrived() -> list[Span] | None:
        spans = collector.received()
        roots = [s for s in spans if s.name == "POST /orders"
                 and s.attributes.get("order.id") == order_id]
        if not roots:
            return None
        trace = [s for s in spans if s.trace_id == roots[0].trace_id]
        ids = {s.span_id for s in trace}
        complete = all(s.parent_id is None or s.parent_id in ids for s in trace)
        return trace if complete and last <= {s.name for s in trace} else None

    return wait_for(arrived, 30, f"the trace of order {order_id}, with {sorted(last)} and "
                                 "the parent of every span in it")  # type: ignore[no-any-return]


def one_tree(trace: list[Span]) -> None:
    """One root, and every other span's parent in the trace: the context never got lost."""
    ids = {span.span_id for span in trace}
    roots = [span for span in trace if span.parent_id is None]
    assert [root.name for root in roots] == ["POST /orders"]
    orphans = [(span.service, span.name) for span in trace
               if span.parent_id is not None and span.parent_id not in ids]
    assert not orphans, f"spans whose parent is not in the trace: {orphans}"


def child(trace: list[Span], name: str, service: str) -> Span:
    [span] = [span for span in trace if span.name == name and span.service == service]
    return span


def test_a_paid_order_is_one_trace_through_every_process(
        traced: tuple[Collector, dict[str, str]]) -> None:
    collector, ended = traced
    order_id = ended["COMPLETED"]
    # Each process exports its spans in batches of its own: wait for the last of every one.
    trace = trace_of(collector, order_id, {"POST /orders/<order_id>/outcome",
                                           "saga.finalise_order",
                                           "POST /reservations/<order_id>/confirm"})
    one_tree(trace)
    assert {span.service for span in trace} == PROCESSES
    assert {span.namespace for span in trace} == {"glastonbury"}
    in_trace = {(span.service, span.kind, span.name) for span in trace}
    assert in_trace >= {
        ("order", "SERVER", "POST /orders"),
        ("worker", "CONSUMER", "saga.start"),
        ("worker", "CLIENT", "PUT /reservations/{id}"),
        ("inventory", "SERVER", "PUT /reservations/<order_id>"),
        ("worker", "CONSUMER", "saga.request_payment"),
        ("worker", "CLIENT", "POST /payments"),
        ("payment", "SERVER", "POST /payments"),
        ("payment-relay", "PRODUCER", "publish payment.results"),
        ("bridge", "CONSUMER", "process payment.results"),
        ("worker", "CONSUMER", "saga.finalise_order"),
        ("inventory", "SERVER", "POST /reservations/<order_id>/confirm"),
        ("order", "SERVER", "POST /orders/<order_id>/outcome"),
    }
    by_id = {span.span_id: span for span in trace}

    def parent(span: Span) -> Span:
        assert span.parent_id is not None
        return by_id[span.parent_id]

    # The hops between processes, each continuing the one before.
    assert parent(child(trace, "saga.start", "worker")).name == "POST /orders"
    assert parent(child(trace, "saga.request_payment", "worker")).name == "saga.start"
    # The relay publishes in the trace the payment service stored with the payment ...
    published = child(trace, "publish payment.results", "payment-relay")
    assert (parent(published).service, parent(published).name) == ("payment", "POST /payments")
    # ... the bridge continues it from the Kafka header, and sends the next step in it.
    processed = child(trace, "process payment.results", "bridge")
    assert parent(processed) == published
    assert parent(child(trace, "saga.finalise_order", "worker")) == processed
    assert not [span.name for span in trace if span.error]
    steps = [span for span in trace if span.service == "worker" and span.kind == "CONSUMER"]
    assert {span.attributes.get("order.id") for span in steps} == {order_id}


def test_a_declined_orders_compensation_is_in_its_trace(
        traced: tuple[Collector, dict[str, str]]) -> None:
    collector, ended = traced
    trace = trace_of(collector, ended["PAYMENT_FAILED"], {"saga.fail_order",
                                                          "POST /orders/<order_id>/outcome"})
    one_tree(trace)
    names = {span.name for span in trace}
    assert {"process payment.results", "saga.release_reservation",
            "POST /reservations/<order_id>/release", "saga.fail_order"} <= names
