"""The payment relay publishes again after the Kafka broker restarted (found by `make chaos`:
kafka-python's idempotent producer stays failed for good once a broker that keeps its state in
memory, as Tansu does, comes back without it; the relay published nothing after that)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kafka.errors import KafkaError

from devtools.devstack import binaries
from glastonbury.kafka import wait_for_topics
from payment_service.adapters.kafka_publisher import KafkaPublisher
from payment_service.entrypoints.relay import recover_from_outage, results_topics
from glastonbury import settings
from tests.conftest import ServerProcess


class Broker:
    """A Tansu of this test's own, on one port, that the test can restart."""

    def __init__(self) -> None:
        self.port = binaries.free_port()
        self.server = ServerProcess(binaries.tansu_command(self.port), self.port)

    @property
    def servers(self) -> list[str]:
        return [f"127.0.0.1:{self.port}"]

    def crash_and_restart(self) -> None:
        self.server.process.kill()
        self.server.process.wait()
        self.server = ServerProcess(binaries.tansu_command(self.port), self.port)


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Broker]:
    running = Broker()
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", ",".join(running.servers))
    yield running
    running.server.stop()


def test_after_the_broker_restarted_the_relay_recovers_and_publishes_again(
        broker: Broker) -> None:
    topic = settings.PAYMENT_RESULTS_TOPIC.text()
    wait_for_topics(broker.servers, results_topics())
    publisher = KafkaPublisher.connect(broker.servers)
    try:
        publisher.publish(topic, "order-1", "before")
        broker.crash_and_restart()
        wait_for_topics(broker.servers, results_topics())
        with pytest.raises(KafkaError):   # the same producer: failed, and stays so
            publisher.publish(topic, "order-1", "after")
        with pytest.raises(KafkaError):
            publisher.publish(topic, "order-1", "after")
        recover_from_outage(publisher)    # what the relay does after a failed pass
        publisher.publish(topic, "order-1", "after")
    finally:
        publisher.close()
