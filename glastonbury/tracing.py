"""One trace per order across every process: OpenTelemetry, as an optional extra.

`pip install '.[tracing]'` and set `OTEL_EXPORTER_OTLP_ENDPOINT` (an OTLP/HTTP collector, e.g.
`http://collector:4318`): each process that calls `configure(<its name>)` at start sends its
spans there. Unset, or without the extra, nothing is traced and OpenTelemetry is never imported:
every place a span could begin checks `enabled` (a module global) first and does nothing else —
no span object, no header.

The context travels as a W3C `traceparent`:
- HTTP: a header that the orchestrator's `HttpService` sends (`http_call`) and every Flask service
  continues (`trace_requests`, installed with the order trail);
- Celery: a message header, put in by whatever process sends a task (the order service's
  `saga.start`, each step's next one in a chain, the bridge's), read by the worker, which runs the
  task in a span of its own (`_task_began`);
- the payment: stored with the payment when it is requested (`traceparent()`) and copied into the
  outbox row with its result; the relay publishes the row in a span continuing it (`within`,
  `traced_send`), and that span's context goes in the Kafka message's headers (beside the
  signature, which covers the value only);
- Kafka: the bridge processes each message in a span continuing its header (`consuming`), and
  sends the saga's next step in it.

Each process is a `service.name` of its own (order, inventory, payment, payment-relay, worker,
bridge) in the `service.namespace` glastonbury; `OTEL_RESOURCE_ATTRIBUTES` adds to them, and
the exporter and batch processor take their own `OTEL_EXPORTER_OTLP_*` and `OTEL_BSP_*`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from glastonbury import logs, settings

if TYPE_CHECKING:
    from contextvars import Token

    from flask import Flask
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

log = logging.getLogger(__name__)
T = TypeVar("T")

# Read where a span could begin: False costs that one check and nothing else.
enabled = False
TRACEPARENT = "traceparent"
NAMESPACE = "glastonbury"
_tracer: Tracer | None = None
_running: dict[str, tuple[Span, Token[Context]]] = {}   # Celery task id -> its span, context token
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def configure(service: str) -> bool:
    """Trace this process as `service` when `OTEL_EXPORTER_OTLP_ENDPOINT` is set and the extra
    is installed (else log why not, once, and stay off); whether it now traces."""
    if enabled or not settings.OTEL_EXPORTER_OTLP_ENDPOINT.text():
        return enabled
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as error:
        log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set, but the tracing extra is not installed "
                    "(pip install 'glastonbury[tracing]'): not tracing (%s)", error)
        return False
    provider = TracerProvider(resource=Resource.create(
        {"service.name": service, "service.namespace": NAMESPACE}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    use(provider)
    log.info("tracing to %s as %s", settings.OTEL_EXPORTER_OTLP_ENDPOINT.text(), service)
    return True


def use(provider: TracerProvider) -> None:
    """Trace with `provider` from now on (configure's; a test's, with an in-memory exporter)."""
    global enabled, _tracer
    _tracer = provider.get_tracer("glastonbury")
    _connect_celery(True)
    enabled = True


def stop() -> None:
    """Trace no more (tests)."""
    global enabled, _tracer
    enabled, _tracer = False, None
    _connect_celery(False)
    _running.clear()


# -- The context as a string: stored in a row, sent in a header -------------------------------

def traceparent() -> str | None:
    """The current span's context as a W3C traceparent (to store with a row); None when
    tracing is off or no span is current."""
    if not enabled:
        return None
    return _inject({}).get(TRACEPARENT)


def within(parent: str | None, call: Callable[..., T], *args: Any) -> T:
    """`call(*args)` with the context `parent` (a traceparent) current: what it sends or starts
    continues that trace. Without one, or with tracing off, simply `call(*args)`."""
    if parent is None or not enabled:
        return call(*args)
    from opentelemetry import context

    token = context.attach(_extracted(parent) or context.get_current())
    try:
        return call(*args)
    finally:
        context.detach(token)


def name_order(order_id: object) -> None:
    """The current span is about this order (`order.id`, what a trace is found by)."""
    if enabled:
        from opentelemetry import trace

        trace.get_current_span().set_attribute("order.id", str(order_id))


def _inject(carrier: dict[str, str], context: Context | None = None) -> dict[str, str]:
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    TraceContextTextMapPropagator().inject(carrier, context)
    return carrier


def _extracted(parent: str | None) -> Context | None:
    """The context a traceparent names (an empty one, a new trace, if it is malformed); None,
    the current context, for none."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    if not parent:
        return None
    return TraceContextTextMapPropagator().extract({TRACEPARENT: parent})


def _traceparent_of(span: Span) -> str:
    return _inject({}, _in_context(span))[TRACEPARENT]


def _in_context(span: Span) -> Context:
    from opentelemetry import trace

    return trace.set_span_in_context(span)


def _start(name: str, kind: str, parent: Context | None = None,
           attributes: dict[str, Any] | None = None, links: list[Any] | None = None) -> Span:
    """A span of `kind` (SERVER, CLIENT, PRODUCER, CONSUMER) under `parent` (default: the
    current context), naming the order this thread works on (glastonbury.logs)."""
    from opentelemetry.trace import SpanKind

    assert _tracer is not None
    span = _tracer.start_span(name, context=parent, kind=SpanKind[kind],
                              attributes=attributes or {}, links=links)
    order_id = logs.current_order()
    if order_id:
        span.set_attribute("order.id", order_id)
    return span


def _failed(span: Span, error: BaseException | str) -> None:
    from opentelemetry.trace import Status, StatusCode

    if isinstance(error, BaseException):
        span.record_exception(error)
    description = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    span.set_status(Status(StatusCode.ERROR, description))


# -- HTTP ---------------------------------------------------------------------------------------

class OutgoingCall:
    """A call in its CLIENT span: `headers` to send with it, `answered(status)` once it has."""

    def __init__(self, span: Span):
        self.span = span
        self.headers = {TRACEPARENT: _traceparent_of(span)}

    def answered(self, status: int) -> None:
        self.span.set_attribute("http.response.status_code", status)
        if status >= 500:
            _failed(self.span, f"HTTP {status}")


@contextmanager
def http_call(method: str, base_url: str, path: str) -> Iterator[OutgoingCall]:
    """A CLIENT span around one HTTP call (check `enabled` first), named by its method and path
    (ids as `{id}`): the call sends `.headers` (its traceparent); an exception ends the span as
    an error."""
    from opentelemetry import trace

    span = _start(f"{method} {_UUID.sub('{id}', path)}", "CLIENT",
                  attributes={"http.request.method": method, "url.full": base_url + path})
    with trace.use_span(span, end_on_exit=True):
        yield OutgoingCall(span)


def trace_requests(app: Flask, public: Callable[[Any], bool] | None = None) -> None:
    """Answer each request in a SERVER span continuing the caller's `traceparent` (none when
    tracing is off: nothing is installed). A route whose view is `public` (the predicate, given
    the view) may be called by anyone: its request begins a trace of its own and only links the
    caller's, so that nobody can write spans into another's trace, nor make orders one trace."""
    if not enabled:
        return
    from flask import request

    key = "glastonbury.span"

    @app.before_request
    def _begin() -> None:
        from opentelemetry import context

        rule = request.url_rule.rule if request.url_rule is not None else None
        callers = _extracted(request.headers.get(TRACEPARENT))
        anyones = public is not None and public(app.view_functions.get(request.endpoint or ""))
        parent, links = _own_trace(callers) if anyones else (callers, None)
        span = _start(f"{request.method} {rule}" if rule else request.method, "SERVER", parent,
                      {"http.request.method": request.method, "url.path": request.path,
                       **({"http.route": rule} if rule else {})}, links)
        request.environ[key] = (span, context.attach(_in_context(span)))

    @app.after_request
    def _status(response: Any) -> Any:
        span, _ = request.environ.get(key, (None, None))
        if span is not None:
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                _failed(span, f"HTTP {response.status_code}")
        return response

    @app.teardown_request
    def _end(error: BaseException | None) -> None:
        from opentelemetry import context

        span, token = request.environ.pop(key, (None, None))
        if span is None:
            return
        if error is not None:
            _failed(span, error)
        context.detach(token)
        span.end()


def _own_trace(callers: Context | None) -> tuple[Context, list[Any]]:
    """An empty context (a new trace) and a link to the caller's span, if it named a valid one."""
    from opentelemetry import context, trace

    caller = trace.get_current_span(callers).get_span_context() if callers else None
    links = [trace.Link(caller)] if caller is not None and caller.is_valid else []
    return context.Context(), links


# -- Celery ------------------------------------------------------------------------------------

def _connect_celery(connect: bool) -> None:
    """Every process that sends a task sends its context with it; a worker runs each task in a
    span continuing it."""
    from celery import signals

    for signal, receiver in ((signals.before_task_publish, _task_sent),
                             (signals.task_prerun, _task_began),
                             (signals.task_postrun, _task_ended)):
        if connect:
            signal.connect(receiver, weak=False)
        else:
            signal.disconnect(receiver)


def _task_sent(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is not None:
        _inject(headers)   # the current span's context (none outside one)


def _task_began(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    from opentelemetry import context

    if task_id is None or task is None:
        return
    request = task.request
    span = _start(task.name, "CONSUMER", _extracted(getattr(request, TRACEPARENT, None)),
                  {"messaging.system": "celery", "messaging.message.id": task_id,
                   "celery.retries": request.retries or 0})
    _running[task_id] = (span, context.attach(_in_context(span)))


def _task_ended(task_id: str | None = None, state: str | None = None, retval: Any = None,
                **_: Any) -> None:
    from opentelemetry import context

    running = _running.pop(task_id or "", None)
    if running is None:
        return
    span, token = running
    span.set_attribute("celery.state", state or "")
    if state == "FAILURE":
        _failed(span, retval if isinstance(retval, BaseException) else str(retval))
    context.detach(token)
    span.end()


# -- Kafka -------------------------------------------------------------------------------------

def traced_send(producer: Any, topic: str, key: bytes, value: bytes,
                headers: list[tuple[str, bytes]]) -> Any:
    """`producer.send` of one Kafka message in a PRODUCER span (a child of the current context;
    check `enabled` first), with the span's traceparent added to its `headers`; the span ends
    when the broker acknowledges the message (or refuses it). The send's future."""
    span = _start(f"publish {topic}", "PRODUCER",
                  attributes={"messaging.system": "kafka", "messaging.destination.name": topic,
                              "messaging.kafka.message.key": key.decode(errors="replace")})
    try:
        future = producer.send(topic, key=key, value=value,
                               headers=[*headers, (TRACEPARENT, _traceparent_of(span).encode())])
    except BaseException as error:
        _failed(span, error)
        span.end()
        raise

    def refused(error: BaseException) -> None:
        _failed(span, error)
        span.end()

    future.add_callback(lambda _: span.end())
    future.add_errback(refused)
    return future


@contextmanager
def consuming(topic: str, records: list[Any]) -> Iterator[dict[int, str]]:
    """One CONSUMER span for each Kafka record (check `enabled` first), each continuing the
    trace its `traceparent` header names, all ended when the block is; yields the traceparent of
    each record's span by its index, for what the block sends about it (`within`)."""
    spans = []
    for record in records:
        parent = dict(record.headers or []).get(TRACEPARENT)
        key = record.key.decode(errors="replace") if record.key else ""
        spans.append(_start(f"process {topic}", "CONSUMER",
                            _extracted(parent.decode(errors="replace") if parent else None),
                            {"messaging.system": "kafka", "messaging.destination.name": topic,
                             "messaging.kafka.message.key": key,
                             "messaging.kafka.offset": record.offset}))
    try:
        yield {index: _traceparent_of(span) for index, span in enumerate(spans)}
    except BaseException as error:
        for span in spans:
            _failed(span, error)
        raise
    finally:
        for span in spans:
            span.end()
