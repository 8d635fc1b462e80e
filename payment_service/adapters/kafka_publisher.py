"""Sends outbox messages to Kafka and waits until the broker has acknowledged each one."""

from __future__ import annotations

from kafka import KafkaProducer

from glastonbury.kafka import make_producer

# Long enough for the producer's own retries; short enough that a dead broker is noticed.
SEND_TIMEOUT_S = 15.0


class KafkaPublisher:
    """A publisher over one KafkaProducer (acks=all); `publish` returns only once acknowledged."""

    def __init__(self, producer: KafkaProducer, send_timeout_s: float = SEND_TIMEOUT_S):
        self.producer = producer
        self.send_timeout_s = send_timeout_s

    @classmethod
    def connect(cls, servers: list[str]) -> KafkaPublisher:
        """A publisher on the given bootstrap servers; NoBrokersAvailable if none answers."""
        return cls(make_producer(servers))

    def publish(self, topic: str, key: str, payload: str) -> None:
        """Send one message and block until the broker acknowledged it, or raise KafkaError."""
        future = self.producer.send(topic, key=key.encode(), value=payload.encode())
        future.get(timeout=self.send_timeout_s)

    def close(self) -> None:
        """Send what is buffered and let go of the connections."""
        self.producer.close(timeout=5)
