"""Sends outbox messages to Kafka; each can be waited for until the broker acknowledged it."""

from __future__ import annotations

from collections.abc import Callable

from kafka import KafkaProducer

from glastonbury import tracing
from glastonbury.kafka import make_producer, signature_header

# Long enough for the producer's own retries; short enough that a dead broker is noticed.
SEND_TIMEOUT_S = 15.0


class KafkaPublisher:
    """A publisher over one KafkaProducer (acks=all): send many, then wait for each. Every
    message is signed with `signing_key` (HMAC-SHA256 in a header) when one is given."""

    def __init__(self, producer: KafkaProducer, send_timeout_s: float = SEND_TIMEOUT_S,
                 signing_key: str = "", new_producer: Callable[[], KafkaProducer] | None = None):
        self.producer = producer
        self.send_timeout_s = send_timeout_s
        self.signing_key = signing_key
        self.new_producer = new_producer

    @classmethod
    def connect(cls, servers: list[str], signing_key: str = "") -> KafkaPublisher:
        """A publisher on the given bootstrap servers; NoBrokersAvailable if none answers."""
        return cls(make_producer(servers), signing_key=signing_key,
                   new_producer=lambda: make_producer(servers))

    def reconnect(self) -> None:
        """A new producer in place of this one. kafka-python's producer is idempotent: after the
        broker restarted without its state (Tansu keeps it in memory) every send fails with
        UnknownProducerIdError, then InitProducerId's UnknownError, for good. KafkaError if
        no broker answers (the old producer is kept; try again later)."""
        if self.new_producer is None:
            return
        fresh = self.new_producer()
        old, self.producer = self.producer, fresh
        old.close(timeout=0)

    def send(self, topic: str, key: str, payload: str) -> Callable[[], None]:
        """Hand one message to the producer; the returned call blocks until the broker
        acknowledged it, or raises KafkaError. Traced, it is published in a span of the current
        trace, whose context travels in a `traceparent` header (the signature covers the value
        only, so the bridge's check is the same)."""
        value = payload.encode()
        headers = [signature_header(self.signing_key, value)] if self.signing_key else None
        if tracing.enabled:  # tracing off: this one check
            future = tracing.traced_send(self.producer, topic, key.encode(), value, headers or [])
        else:
            future = self.producer.send(topic, key=key.encode(), value=value, headers=headers)
        return lambda: future.get(timeout=self.send_timeout_s)

    def publish(self, topic: str, key: str, payload: str) -> None:
        """Send one message and block until the broker acknowledged it, or raise KafkaError."""
        self.send(topic, key, payload)()

    def close(self) -> None:
        """Send what is buffered and let go of the connections."""
        self.producer.close(timeout=5)
