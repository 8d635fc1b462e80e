"""The outbox through a real Kafka-protocol broker (Tansu): at least once, never zero times."""

from __future__ import annotations

import json
import threading
import time
import uuid
from decimal import Decimal

import pytest
from kafka import KafkaConsumer
from kafka.errors import KafkaTimeoutError

from glastonbury import tracing
from glastonbury.kafka import wait_for_topics
from payment_service.adapters.kafka_publisher import KafkaPublisher
from payment_service.domain.gateway import GatewayRules
from payment_service.entrypoints.relay import Relay, run_forever
from payment_service.service_layer import services
from tests.e2e.stack import wait_for

from .conftest import new_id, uow


@pytest.fixture
def topic(kafka_servers):
    """A fresh results topic with 4 partitions on the test broker."""
    name = f"payment.results.{uuid.uuid4().hex[:8]}"
    wait_for_topics(kafka_servers, {name: 4})
    return name


@pytest.fixture
def publisher(kafka_servers):
    publisher = KafkaPublisher.connect(kafka_servers)
    yield publisher
    publisher.close()


def consume(servers, topic, count, deadline_s=30.0):
    """The first `count` messages of the topic, polling until the deadline."""
    consumer = KafkaConsumer(
        topic, bootstrap_servers=servers, group_id=f"test-{uuid.uuid4().hex}",
        auto_offset_reset="earliest", session_timeout_ms=6000, heartbeat_interval_ms=1000)
    records = []
    give_up_at = time.monotonic() + deadline_s
    try:
        while len(records) < count and time.monotonic() < give_up_at:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
    finally:
        consumer.close()
    return records


def request(engine, amount="200.00"):
    payment, _ = services.request_payment(uow(engine), new_id(), new_id(), Decimal(amount))
    return payment


def unpublished(engine):
    with uow(engine) as work:
        return work.payments.unpublished_messages(100)


class FailingPublisher:
    """Acknowledges the first `succeed` messages, then fails like a broker that went away."""

    def __init__(self, inner, succeed=0):
        self.inner, self.succeed, self.failures = inner, succeed, 0

    def send(self, topic, key, payload):
        if self.succeed <= 0:
            self.failures += 1
            return self._fail
        self.succeed -= 1
        return self.inner.send(topic, key, payload)

    @staticmethod
    def _fail():
        raise KafkaTimeoutError("broker gone")


def test_a_decision_arrives_on_kafka_keyed_by_order_id(engine, kafka_servers, topic, publisher):
    payment = request(engine, "1200.00")
    relay = Relay(uow(engine), GatewayRules(), topic, publisher)
    assert relay.run_once() == 2  # one decision, one message
    relay.finish()   # (marked published by the next pass, or here)
    [record] = consume(kafka_servers, topic, 1)
    assert record.key == payment.order_id.encode()
    message = json.loads(record.value.decode("utf-8"))
    assert uuid.UUID(message.pop("eventId")).version == 4
    assert message.pop("decidedAt")
    assert message == {
        "version": 1, "type": "PaymentDecided", "orderId": payment.order_id,
        "paymentId": payment.payment_id, "status": "DECLINED",
        "reason": "amount 1200.00 is above the gateway limit of 1000.00", "amount": "1200.00"}
    assert unpublished(engine) == []


def test_a_failed_publish_leaves_the_row_unpublished_for_a_later_pass(
        engine, kafka_servers, topic, publisher):
    payments = [request(engine) for _ in range(3)]
    services.decide_due_payments(uow(engine), GatewayRules(), topic)
    with pytest.raises(KafkaTimeoutError):
        services.publish_pending_outbox(uow(engine), FailingPublisher(publisher, succeed=1))
    assert [m.key for m in unpublished(engine)] == [p.order_id for p in payments[1:]]
    assert services.publish_pending_outbox(uow(engine), publisher) == 2
    records = consume(kafka_servers, topic, 3)
    assert sorted(r.key.decode() for r in records) == sorted(p.order_id for p in payments)


def test_the_relay_loop_decides_and_publishes_until_stopped(
        engine, kafka_servers, topic, publisher):
    stop, failing = threading.Event(), FailingPublisher(publisher)
    relay = Relay(uow(engine), GatewayRules(), topic, failing)
    loop = threading.Thread(target=run_forever, args=(relay, stop, 0.01))
    loop.start()
    try:
        payment = request(engine)
        # The broker is "down": the loop must survive failed passes, then publish once it is back.
        wait_for(lambda: failing.failures >= 2, 10, "two failed publishes", interval_s=0.01)
        relay.publisher = publisher
        [record] = consume(kafka_servers, topic, 1)
        assert record.key == payment.order_id.encode()
    finally:
        stop.set()
        loop.join(timeout=10)
    assert not loop.is_alive()


def test_a_relay_pass_marks_what_the_broker_acknowledged_in_the_pass_before(
        engine, kafka_servers, topic, publisher):
    relay = Relay(uow(engine), GatewayRules(), topic, publisher)
    first = request(engine)
    assert relay.run_once() == 2
    assert [m.key for m in unpublished(engine)] == [first.order_id]   # acknowledged, not marked
    second = request(engine)
    relay.run_once()   # marks the first in the same transaction that decides the second
    assert [m.key for m in unpublished(engine)] == [second.order_id]
    relay.finish()
    assert unpublished(engine) == []
    records = consume(kafka_servers, topic, 2)
    assert sorted(r.key.decode() for r in records) == sorted([first.order_id, second.order_id])


def test_a_result_goes_out_in_the_trace_its_payment_was_requested_in(
        engine, kafka_servers, topic, publisher, spans):
    with spans.tracer.start_as_current_span("POST /payments") as requested:
        payment, _ = services.request_payment(uow(engine), new_id(), new_id(), Decimal("1200.00"),
                                              tracing.traceparent())
    untraced = request(engine)   # requested while no trace was current
    Relay(uow(engine), GatewayRules(), topic, publisher).run_once()
    records = {r.key.decode(): r for r in consume(kafka_servers, topic, 2)}
    published = wait_for(lambda: [s for s in spans.finished() if s.name == f"publish {topic}"
                                  and s.parent is not None], 10, "the acknowledged publish")
    [span] = published
    assert span.parent.span_id == requested.context.span_id
    assert span.context.trace_id == requested.context.trace_id
    context = span.context
    assert dict(records[payment.order_id].headers)["traceparent"] == (
        f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
    ).encode()
    # A payment requested outside any trace is published in a trace of its own.
    assert "traceparent" in dict(records[untraced.order_id].headers)
    with uow(engine) as work:
        assert work.payments.get(untraced.order_id).traceparent is None
        assert [m.traceparent for m in work.payments.all_messages()
                if m.key == payment.order_id] == [payment.traceparent]
